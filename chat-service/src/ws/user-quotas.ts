import { LimitReachedError, RateLimitedError } from '@chat/shared';
import { TokenBucket } from './rate-limiter';

export interface UserLimits {
  /** Sockets one user may hold on this instance (WS_MAX_SOCKETS_PER_USER). */
  maxSockets: number;
  /** Messages one user may send per second across all their sockets here, and the burst above it. */
  messagesPerSecond: number;
  messagesBurst: number;
}

interface UserState {
  sockets: number;
  messages: TokenBucket;
}

/**
 * What one user may use of this instance across all their sockets (the contract's "Limits"), so that no
 * user's sockets or sends can crowd out anyone else's: a cap on sockets, and one message budget shared by
 * every socket of the user. Per instance: the gateway spreads a user's sockets over the instances, so the
 * bound on one user is these figures times the number of instances.
 */
export class UserQuotas {
  private readonly users = new Map<string, UserState>();

  constructor(private readonly limits: UserLimits) {}

  /** Throws LIMIT_REACHED when `userId` already holds the most sockets allowed here. */
  checkSocket(userId: string): void {
    if ((this.users.get(userId)?.sockets ?? 0) < this.limits.maxSockets) return;
    throw new LimitReachedError(
      'socketsPerUser',
      this.limits.maxSockets,
      `At most ${this.limits.maxSockets} sockets per user; close one first.`,
    );
  }

  socketOpened(userId: string): void {
    const state = this.users.get(userId);
    if (state) {
      state.sockets += 1;
      return;
    }
    const { messagesPerSecond, messagesBurst } = this.limits;
    this.users.set(userId, {
      sockets: 1,
      messages: new TokenBucket(messagesPerSecond, messagesBurst, Number.POSITIVE_INFINITY),
    });
  }

  socketClosed(userId: string): void {
    const state = this.users.get(userId);
    if (!state) return;
    state.sockets -= 1;
    if (state.sockets <= 0) this.users.delete(userId);
  }

  /** Takes one message from the user's budget; RATE_LIMITED when it is spent. */
  takeMessage(userId: string): void {
    const state = this.users.get(userId);
    if (!state || state.messages.take() === 'ok') return;
    throw new RateLimitedError(
      1 / this.limits.messagesPerSecond,
      `At most ${this.limits.messagesPerSecond} messages per second per user, across all sockets; slow down.`,
    );
  }
}
