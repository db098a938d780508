import { randomUUID } from 'node:crypto';
import { AppError, UnauthenticatedError, type Logger, type Role, type User } from '@chat/shared';
import type { Session, SessionEndReason, SessionStore } from '../store/session.store';
import type { AccessTokenSigner } from './access-token';
import type { LoginLimiter } from './login-limiter';
import { formatRefreshToken, hashSecret, newSecret, parseRefreshToken } from './refresh-token';

/** Checks a login (username or email) and password: the user, or InvalidCredentialsError / UpstreamUnavailableError. */
export type CredentialsChecker = (login: string, password: string) => Promise<User>;

/**
 * The account a login (username or email, any case) names, as a key for login limits: the same for every
 * form of one account's login (`user:<id>`), else derived from the login itself.
 */
export type AccountResolver = (login: string) => Promise<string>;

/** A session that ended, as every verifier must learn of it. */
export interface SessionEndedNotice {
  sessionId: string;
  userId: string;
  reason: SessionEndReason;
  endedAt: Date;
}

export interface AuthServiceDeps {
  sessions: SessionStore;
  limiter: LoginLimiter;
  signer: AccessTokenSigner;
  checkCredentials: CredentialsChecker;
  resolveAccount: AccountResolver;
  /** Makes every verifier refuse the session's access tokens; resolves once that is durable. */
  announceSessionEnded: (notice: SessionEndedNotice) => Promise<void>;
  refreshTtlSeconds: number;
  logger: Logger;
}

/** What login and refresh answer (docs/openapi.json, tag auth). */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds the access token lives. */
  expiresIn: number;
}

export interface LoginResult extends TokenPair {
  user: User;
}

/** Refresh failures all look alike to the client: which check failed is nothing it needs. */
const REFRESH_REFUSED = 'The refresh token is not valid.';

/** Login, refresh-token rotation with reuse detection, logout, and keeping sessions in step with users. */
export class AuthService {
  constructor(private readonly deps: AuthServiceDeps) {}

  /**
   * Counts the attempt against the account the login names (from this address) and against the address
   * first, and refuses it when either says so (a refused client learns nothing about the password), then
   * checks the credentials with users-service; a wrong password stays counted, a success starts a session.
   */
  async login(input: { username: string; password: string; address: string }): Promise<LoginResult> {
    const now = new Date();
    const account = await this.deps.resolveAccount(input.username);
    const reservation = await this.deps.limiter.reserve({ account, address: input.address }, now);
    let user: User;
    try {
      user = await this.deps.checkCredentials(input.username, input.password);
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'INVALID_CREDENTIALS')) {
        await this.deps.limiter.release(reservation);
      }
      throw error;
    }
    await this.deps.limiter.succeeded(reservation);
    const secret = newSecret();
    const session = await this.deps.sessions.create({
      id: randomUUID(),
      userId: user.id,
      username: user.username,
      role: user.role,
      secretHash: hashSecret(secret),
      createdAt: now,
      refreshedAt: now,
      expiresAt: this.refreshExpiry(now),
    });
    this.deps.logger.info('session started', { userId: user.id, sessionId: session.id });
    return { ...this.issue(session, secret), user };
  }

  /**
   * Rotates the session's refresh secret with a compare-and-set, so a refresh token works once. A secret
   * this session already rotated away from means two parties hold the family (RFC 6819 §5.2.2.3, RFC 9700
   * §4.14.2): the whole session ends and every token of it is refused. Any other wrong secret is only
   * refused: the session id is in every access token, so a guess must not be a way to end someone's session.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const presented = parseRefreshToken(refreshToken);
    if (!presented) throw new UnauthenticatedError(REFRESH_REFUSED);
    const now = new Date();
    const presentedHash = hashSecret(presented.secret);
    const secret = newSecret();
    const rotated = await this.deps.sessions.rotate(presented.sessionId, presentedHash, {
      secretHash: hashSecret(secret),
      refreshedAt: now,
      expiresAt: this.refreshExpiry(now),
    });
    if (rotated) return this.issue(rotated, secret);

    const session = await this.deps.sessions.findById(presented.sessionId);
    if (session && session.endedAt === null && session.retiredHashes.includes(presentedHash)) {
      // Announced before it ends here, as in logout: if the announcement fails the session still holds the
      // retired secret, so presenting it again ends it then.
      await this.announce({ ...session, endReason: 'refresh_reuse', endedAt: now });
      const ended = await this.deps.sessions.end(session.id, 'refresh_reuse', now);
      if (ended) {
        this.deps.logger.warn('a rotated refresh token was presented again; session ended', {
          userId: ended.userId,
          sessionId: ended.id,
        });
      }
    }
    throw new UnauthenticatedError(REFRESH_REFUSED);
  }

  /**
   * Announces the end of a verified access token's session (durably: every verifier refuses its tokens
   * from then on), then ends it here. In that order a logout cannot be half done (issue 15): when the
   * announcement fails the caller gets 503 and the session is untouched, so the token still works and the
   * logout can be retried; once it answers, the end is in the stream and reaches every verifier, also
   * those that were cut off and catch up later. A session that had already ended is announced again: the
   * token still verified here, so its first announcement may not have gone out.
   */
  async logout(claims: { sid: string; sub: string }): Promise<void> {
    const now = new Date();
    const session = await this.deps.sessions.findById(claims.sid);
    const ended = session?.endedAt ? session : null;
    await this.deps.announceSessionEnded({
      sessionId: claims.sid,
      userId: claims.sub,
      reason: ended?.endReason ?? 'logout',
      endedAt: ended?.endedAt ?? now,
    });
    if (!ended) await this.deps.sessions.end(claims.sid, 'logout', now);
    this.deps.logger.info('session ended', { userId: claims.sub, sessionId: claims.sid, reason: 'logout' });
  }

  /** A deleted user's sessions end, so their refresh tokens stop working and their sockets close. */
  async userDeleted(userId: string): Promise<void> {
    const count = await this.endSessions(userId, 'user_deleted');
    if (count > 0) this.deps.logger.info('sessions ended for a deleted user', { userId, count });
    // Announced and ended first (verifiers refuse their tokens from now on), then nothing of them is kept.
    await this.deps.sessions.removeAllForUser(userId);
  }

  /**
   * A changed password ends the user's sessions, so a stolen refresh token does not outlive it; the session
   * that made the change (`keepSessionId`, when the user changed their own password) stays.
   */
  async passwordChanged(userId: string, keepSessionId: string | undefined): Promise<void> {
    const count = await this.endSessions(userId, 'password_changed', keepSessionId);
    if (count > 0) this.deps.logger.info('sessions ended after a password change', { userId, count });
  }

  /** Later access tokens of the user's sessions carry the new username and role. */
  async userUpdated(user: { id: string; username: string; role: Role }): Promise<void> {
    await this.deps.sessions.updateUser(user.id, { username: user.username, role: user.role });
  }

  /**
   * Announces, then ends, the user's live sessions (but `exceptId`). These run from a durable consumer:
   * when an announcement fails the event comes again and finds the same sessions still live, whereas
   * ending them first would leave nothing to announce on the second try.
   */
  private async endSessions(userId: string, reason: SessionEndReason, exceptId?: string): Promise<number> {
    const now = new Date();
    const live = await this.deps.sessions.findLiveForUser(userId, exceptId);
    for (const session of live) await this.announce({ ...session, endReason: reason, endedAt: now });
    let count = 0;
    for (const session of live) if (await this.deps.sessions.end(session.id, reason, now)) count += 1;
    return count;
  }

  private announce(session: Session): Promise<void> {
    return this.deps.announceSessionEnded({
      sessionId: session.id,
      userId: session.userId,
      reason: session.endReason ?? 'logout',
      endedAt: session.endedAt ?? new Date(),
    });
  }

  private issue(session: Session, secret: string): TokenPair {
    return {
      accessToken: this.deps.signer.sign({
        userId: session.userId,
        username: session.username,
        role: session.role,
        sessionId: session.id,
      }),
      refreshToken: formatRefreshToken({ sessionId: session.id, secret }),
      tokenType: 'Bearer',
      expiresIn: this.deps.signer.ttlSeconds,
    };
  }

  private refreshExpiry(now: Date): Date {
    return new Date(now.getTime() + this.deps.refreshTtlSeconds * 1000);
  }
}
