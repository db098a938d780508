import { createHash } from 'node:crypto';
import { RateLimitedError } from '@chat/shared';
import type { LoginFailureStore } from '../store/login-failure.store';

export interface LoginLimits {
  /** Failures of one account from one address before waits begin. */
  failuresBeforeBackoff: number;
  /** The first wait, doubled with each further failure up to `backoffMaxSeconds`. */
  backoffBaseSeconds: number;
  backoffMaxSeconds: number;
  /** How long one account-and-address pair's failures are remembered. */
  backoffWindowSeconds: number;
  /** Failures from one address, whatever the account, per `addressWindowSeconds`. */
  maxFailuresPerAddress: number;
  addressWindowSeconds: number;
}

/**
 * Who is trying to log in: the account the login names (its id, or the login itself when it names none,
 * see `users.v1.resolve-login`) and the client address as the HTTP layer keys it (an IPv6 client by its
 * /56, so rotating through one's own subnet does not reset anything).
 */
export interface LoginAttempt {
  account: string;
  address: string;
}

/** An attempt counted under both keys, with the windows it was counted in. */
export interface LoginReservation {
  keys: { pair: string; address: string };
  windows: { pair: Date; address: Date };
}

/** Counter keys are hashes: a login field sometimes holds a mistyped password. */
function counterKey(kind: 'pair' | 'address', value: string): string {
  return createHash('sha256').update(`${kind}:${value}`).digest('base64url');
}

/**
 * Failed-login limits that slow guessing without letting a stranger lock an owner out (issue 9, finding 8).
 *
 * - Per account and client address, with backoff: the first `failuresBeforeBackoff` failures are free;
 *   after that attempt n may come no earlier than the sum of the waits before it (base, 2 × base, … capped
 *   at `backoffMaxSeconds`) after the pair's first failure. Guessing one account from one address slows to
 *   one try per `backoffMaxSeconds`, while the owner, at another address, is never slowed by it. The
 *   account is the user's id, so "alice" and "alice@example.com" share the counter.
 * - Per client address, whatever the account: at most `maxFailuresPerAddress` per window, so spraying many
 *   accounts from one address is bounded too.
 *
 * There is no limit per account alone: any such limit is a lever for a stranger to lock the owner out.
 *
 * Count, then decide: each attempt is first counted atomically under both keys, and refused when the counts
 * say so, so N concurrent guesses cannot all slip through. A refusal comes before credentials are checked,
 * so a refused guesser learns nothing, and it is taken back (it is no failure). A success forgets the
 * pair's failures but not the address's, or one valid account would reset an attacker's address budget.
 */
export class LoginLimiter {
  constructor(
    private readonly store: LoginFailureStore,
    private readonly limits: LoginLimits,
  ) {}

  /** Counts the attempt; throws RateLimitedError (with the seconds to wait) when it must not go ahead now. */
  async reserve(attempt: LoginAttempt, now: Date): Promise<LoginReservation> {
    const keys = {
      pair: counterKey('pair', `${attempt.account}\n${attempt.address}`),
      address: counterKey('address', attempt.address),
    };
    const [pair, address] = await Promise.all([
      this.store.record(keys.pair, now, this.limits.backoffWindowSeconds),
      this.store.record(keys.address, now, this.limits.addressWindowSeconds),
    ]);
    const reservation = { keys, windows: { pair: pair.resetAt, address: address.resetAt } };
    const firstFailure = pair.resetAt.getTime() - this.limits.backoffWindowSeconds * 1000;
    const waits = [
      firstFailure + this.backoffBefore(pair.count) * 1000 - now.getTime(),
      address.count > this.limits.maxFailuresPerAddress ? address.resetAt.getTime() - now.getTime() : 0,
    ];
    const waitMs = Math.max(...waits);
    if (waitMs <= 0) return reservation;
    // A refused attempt never reached the credential check, so it is no failure.
    await this.release(reservation);
    throw new RateLimitedError(waitMs / 1000, 'Too many failed logins; try again later.');
  }

  /** The credentials were right: the pair starts afresh, the address keeps only its failures. */
  async succeeded(reservation: LoginReservation): Promise<void> {
    await Promise.all([
      this.store.clear(reservation.keys.pair),
      this.store.release(reservation.keys.address, reservation.windows.address),
    ]);
  }

  /** Neither a failure nor a success (users-service did not answer, say): the attempt is not counted. */
  async release(reservation: LoginReservation): Promise<void> {
    await Promise.all([
      this.store.release(reservation.keys.pair, reservation.windows.pair),
      this.store.release(reservation.keys.address, reservation.windows.address),
    ]);
  }

  /** Seconds after the pair's first failure before attempt `n` (1-based) may go ahead. */
  backoffBefore(n: number): number {
    const { failuresBeforeBackoff, backoffBaseSeconds, backoffMaxSeconds } = this.limits;
    let total = 0;
    for (let k = failuresBeforeBackoff + 1; k <= n; k++) {
      total += Math.min(
        backoffBaseSeconds * 2 ** Math.min(k - failuresBeforeBackoff - 1, 30),
        backoffMaxSeconds,
      );
    }
    return total;
  }
}
