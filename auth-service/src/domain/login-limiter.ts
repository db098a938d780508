import { createHash } from 'node:crypto';
import { RateLimitedError } from '@chat/shared';
import type { LoginFailureStore } from '../store/login-failure.store';

export interface LoginLimits {
  maxFailuresPerUsername: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

/**
 * Who is trying to log in: the username as typed (or an email) and the client address as the HTTP layer
 * keys it (an IPv6 client by its /56, so rotating through one's own subnet does not reset the limit).
 */
export interface LoginAttempt {
  username: string;
  address: string;
}

/** An attempt counted under both keys, with the windows it was counted in. */
export interface LoginReservation {
  keys: { username: string; address: string };
  windows: { username: Date; address: Date };
}

/** Counter keys are hashes: the username field sometimes holds a mistyped password. */
function counterKey(kind: 'username' | 'address', value: string): string {
  return createHash('sha256').update(`${kind}:${value}`).digest('base64url');
}

/**
 * Failed-login limits per username (case-insensitive) and per client address, each over a fixed window
 * that opens at the first attempt. Count, then decide: each attempt is first counted atomically under both
 * keys, and refused when a count is then over its limit, so N concurrent guesses cannot all slip under it.
 * A refusal comes before credentials are checked, so a blocked guesser learns nothing. A failed attempt's
 * count stays; a refused one, one that succeeded or one that never got an answer is taken back. A success
 * clears the username's counter but not the address's, or one valid account would reset an attacker's
 * address budget.
 */
export class LoginLimiter {
  constructor(
    private readonly store: LoginFailureStore,
    private readonly limits: LoginLimits,
  ) {}

  /** Counts the attempt; throws RateLimitedError (with the seconds until the blocking window closes) when over a limit. */
  async reserve(attempt: LoginAttempt, now: Date): Promise<LoginReservation> {
    const keys = this.keysOf(attempt);
    const [username, address] = await Promise.all([
      this.store.record(keys.username, now, this.limits.windowSeconds),
      this.store.record(keys.address, now, this.limits.windowSeconds),
    ]);
    const reservation = { keys, windows: { username: username.resetAt, address: address.resetAt } };
    const blocking = [
      { count: username, max: this.limits.maxFailuresPerUsername },
      { count: address, max: this.limits.maxFailuresPerAddress },
    ].filter(({ count, max }) => count.count > max);
    if (blocking.length === 0) return reservation;
    // A refused attempt never reached the credential check, so it is no failure.
    await this.release(reservation);
    const resetAt = Math.max(...blocking.map(({ count }) => count.resetAt.getTime()));
    throw new RateLimitedError((resetAt - now.getTime()) / 1000, 'Too many failed logins; try again later.');
  }

  /** The credentials were right: the username starts afresh, the address keeps only its failures. */
  async succeeded(reservation: LoginReservation): Promise<void> {
    await Promise.all([
      this.store.clear(reservation.keys.username),
      this.store.release(reservation.keys.address, reservation.windows.address),
    ]);
  }

  /** Neither a failure nor a success (users-service did not answer, say): the attempt is not counted. */
  async release(reservation: LoginReservation): Promise<void> {
    await Promise.all([
      this.store.release(reservation.keys.username, reservation.windows.username),
      this.store.release(reservation.keys.address, reservation.windows.address),
    ]);
  }

  private keysOf(attempt: LoginAttempt): { username: string; address: string } {
    return {
      username: counterKey('username', attempt.username.toLowerCase()),
      address: counterKey('address', attempt.address),
    };
  }
}
