import { RateLimitedError } from '@chat/shared';

const HOUR_MS = 60 * 60 * 1000;

/** Addresses with an open window kept at most; past it the oldest window is dropped first. */
const MAX_ADDRESSES = 100_000;

/**
 * Signups per client address per hour (issue 9, finding 5), over a fixed window that opens at the first
 * one. Checking and counting happen in one synchronous step, so concurrent signups cannot all pass. In
 * memory and per instance, like the bound on hashing it protects: with k users-service instances an
 * address gets k times the budget.
 */
export class SignupLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly perHour: number) {}

  /** Counts a signup from `address`; RateLimitedError (with the seconds until the window closes) past the limit. */
  reserve(address: string, now: Date): void {
    const at = now.getTime();
    let window = this.windows.get(address);
    if (window && window.resetAt <= at) {
      this.windows.delete(address);
      window = undefined;
    }
    if (!window) {
      if (this.windows.size >= MAX_ADDRESSES) this.sweep(at);
      window = { count: 0, resetAt: at + HOUR_MS };
      this.windows.set(address, window);
    }
    if (window.count >= this.perHour) {
      throw new RateLimitedError(
        (window.resetAt - at) / 1000,
        'Too many signups from this address; try again later.',
      );
    }
    window.count += 1;
  }

  /** The signup was refused before any work (a taken name found late): it does not count. */
  release(address: string): void {
    const window = this.windows.get(address);
    if (window && window.count > 0) window.count -= 1;
  }

  private sweep(at: number): void {
    for (const [address, window] of this.windows) if (window.resetAt <= at) this.windows.delete(address);
    // Still full: drop the oldest windows (Map order is insertion order).
    for (const address of this.windows.keys()) {
      if (this.windows.size < MAX_ADDRESSES) break;
      this.windows.delete(address);
    }
  }
}
