import { RateLimitedError } from '@chat/shared';

export interface PasswordAttemptLimits {
  maxWrong: number;
  windowSeconds: number;
}

/** Beyond this many users with open windows, closed ones are swept before a new one is added. */
const SWEEP_ABOVE = 10_000;

/**
 * Wrong `currentPassword` attempts per user over a fixed window that opens at the first one. In memory and
 * per instance: with k users-service instances a guesser gets k times the budget, which is acceptable for
 * a check that already needs the user's own access token; login guessing is limited in auth-service's
 * shared store. Checking and counting happen in one synchronous step, so concurrent requests cannot all
 * pass the limit.
 */
export class PasswordAttemptLimiter {
  private readonly windows = new Map<string, { wrong: number; resetAt: number }>();

  constructor(private readonly limits: PasswordAttemptLimits) {}

  /**
   * Throws RateLimitedError when the user is out of attempts, before their password is checked; otherwise
   * counts this attempt as wrong until `succeeded` says otherwise.
   */
  reserve(userId: string, now: Date): void {
    const at = now.getTime();
    let window = this.windows.get(userId);
    if (window && window.resetAt <= at) window = undefined;
    if (window && window.wrong >= this.limits.maxWrong) {
      throw new RateLimitedError(
        (window.resetAt - at) / 1000,
        'Too many wrong current passwords; try again later.',
      );
    }
    if (!window) {
      if (this.windows.size >= SWEEP_ABOVE) this.sweep(at);
      window = { wrong: 0, resetAt: at + this.limits.windowSeconds * 1000 };
      this.windows.set(userId, window);
    }
    window.wrong += 1;
  }

  /** The current password was right: the user starts afresh. */
  succeeded(userId: string): void {
    this.windows.delete(userId);
  }

  private sweep(at: number): void {
    for (const [userId, window] of this.windows) if (window.resetAt <= at) this.windows.delete(userId);
  }
}
