const BACKOFF_BASE_MS = 2;
const BACKOFF_CAP_MS = 100;

/** The pause before retry `attempt` (2 and up) of a write that lost a race: grows, capped, with jitter. */
export function backoffMs(attempt: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 2), BACKOFF_CAP_MS) * (0.5 + Math.random());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
