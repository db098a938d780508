import { RateLimitedError } from './errors';

/** Keys with an open window kept at most; past it the oldest windows are dropped first. */
const MAX_KEYS = 100_000;

/**
 * At most `limit` actions per key (a client address, a user) per fixed window that opens at the key's first
 * action: signups per address per hour, invitations per user per minute (the contract's "Limits").
 * Checking and counting happen in one synchronous step, so concurrent actions cannot all pass. In memory
 * and per instance: with k instances a key gets k times the budget.
 */
export class WindowLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly message: string,
  ) {}

  /** Counts an action of `key`; RateLimitedError (with the seconds until the window closes) past the limit. */
  reserve(key: string, now: Date): void {
    const at = now.getTime();
    let window = this.windows.get(key);
    if (window && window.resetAt <= at) {
      this.windows.delete(key);
      window = undefined;
    }
    if (!window) {
      if (this.windows.size >= MAX_KEYS) this.sweep(at);
      window = { count: 0, resetAt: at + this.windowMs };
      this.windows.set(key, window);
    }
    if (window.count >= this.limit) throw new RateLimitedError((window.resetAt - at) / 1000, this.message);
    window.count += 1;
  }

  /** The action was refused or undone before it took effect: it does not count. */
  release(key: string): void {
    const window = this.windows.get(key);
    if (window && window.count > 0) window.count -= 1;
  }

  private sweep(at: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= at) this.windows.delete(key);
    // Still full: drop the oldest windows (Map order is insertion order).
    for (const key of this.windows.keys()) {
      if (this.windows.size < MAX_KEYS) break;
      this.windows.delete(key);
    }
  }
}
