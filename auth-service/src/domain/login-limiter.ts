import { createHash } from 'node:crypto';
import { RateLimitedError } from '@chat/shared';
import type { LoginFailureStore } from '../store/login-failure.store';

export interface LoginLimits {
  maxFailuresPerUsername: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

/** Who is trying to log in: the username as typed (or an email) and the client address. */
export interface LoginAttempt {
  username: string;
  address: string;
}

/** Counter keys are hashes: the username field sometimes holds a mistyped password. */
function counterKey(kind: 'username' | 'address', value: string): string {
  return createHash('sha256').update(`${kind}:${value}`).digest('base64url');
}

/**
 * Failed-login limits per username (case-insensitive) and per client address, each over a fixed window
 * that opens at the first failure. A blocked attempt is refused before credentials are checked, so a
 * blocked guesser learns nothing; a success clears the username's counter but not the address's, or one
 * valid account would reset an attacker's address budget.
 */
export class LoginLimiter {
  constructor(
    private readonly store: LoginFailureStore,
    private readonly limits: LoginLimits,
  ) {}

  /** Throws RateLimitedError (with the seconds until the blocking window closes) when over a limit. */
  async assertAllowed(attempt: LoginAttempt, now: Date): Promise<void> {
    const keys = this.keysOf(attempt);
    const counts = await this.store.get([keys.username, keys.address], now);
    const blocking = [
      { count: counts.get(keys.username), max: this.limits.maxFailuresPerUsername },
      { count: counts.get(keys.address), max: this.limits.maxFailuresPerAddress },
    ].filter(({ count, max }) => count !== undefined && count.count >= max);
    if (blocking.length === 0) return;
    const resetAt = Math.max(...blocking.map(({ count }) => count!.resetAt.getTime()));
    throw new RateLimitedError((resetAt - now.getTime()) / 1000, 'Too many failed logins; try again later.');
  }

  async recordFailure(attempt: LoginAttempt, now: Date): Promise<void> {
    const keys = this.keysOf(attempt);
    await Promise.all([
      this.store.record(keys.username, now, this.limits.windowSeconds),
      this.store.record(keys.address, now, this.limits.windowSeconds),
    ]);
  }

  async recordSuccess(attempt: LoginAttempt): Promise<void> {
    await this.store.clear(this.keysOf(attempt).username);
  }

  private keysOf(attempt: LoginAttempt): { username: string; address: string } {
    return {
      username: counterKey('username', attempt.username.toLowerCase()),
      address: counterKey('address', attempt.address),
    };
  }
}
