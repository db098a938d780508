import type { Role } from '@chat/shared';

/** Why a session ended; the same values travel in `events.auth.session.ended`. */
export type SessionEndReason = 'logout' | 'refresh_reuse' | 'user_deleted' | 'password_changed';

/** How many rotated-away secret hashes a session remembers, newest last, to recognise a replayed token. */
export const RETIRED_HASHES_KEPT = 10;

/**
 * One login: the refresh-token family it started. `username` and `role` are copies kept current from
 * user events, so a refresh can mint an access token without asking users-service.
 */
export interface Session {
  id: string;
  userId: string;
  username: string;
  role: Role;
  /** SHA-256 of the current refresh secret; the secret itself is never stored. */
  secretHash: string;
  /**
   * Hashes of the secrets this session rotated away from, oldest first, at most RETIRED_HASHES_KEPT: only
   * these count as refresh-token reuse, so a secret that was never issued cannot end the session.
   */
  retiredHashes: string[];
  createdAt: Date;
  refreshedAt: Date;
  /** The current refresh token is refused from here on. */
  expiresAt: Date;
  endedAt: Date | null;
  endReason: SessionEndReason | null;
}

export type NewSession = Omit<Session, 'endedAt' | 'endReason' | 'retiredHashes'>;

/** The next refresh secret of a session and how long it lives. */
export interface Rotation {
  secretHash: string;
  refreshedAt: Date;
  expiresAt: Date;
}

export interface SessionStore {
  create(session: NewSession): Promise<Session>;
  findById(id: string): Promise<Session | null>;
  /**
   * Atomically replaces the secret hash when the session still holds `currentHash`, has not ended and has
   * not expired at `next.refreshedAt`, appending `currentHash` to `retiredHashes` (keeping the newest
   * RETIRED_HASHES_KEPT); resolves with the updated session, or null when any of that failed (so of two
   * concurrent refreshes with one token, exactly one wins).
   */
  rotate(id: string, currentHash: string, next: Rotation): Promise<Session | null>;
  /** Ends a live session; resolves with it as this call ended it, or null when absent or already ended. */
  end(id: string, reason: SessionEndReason, at: Date): Promise<Session | null>;
  /** The live (not ended) sessions of a user but `exceptId`, if given. */
  findLiveForUser(userId: string, exceptId?: string): Promise<Session[]>;
  /** Ends every live session of a user but `exceptId`, if given; resolves with those this call ended. */
  endAllForUser(userId: string, reason: SessionEndReason, at: Date, exceptId?: string): Promise<Session[]>;
  /** Copies a user's new username and role onto their live sessions; resolves with how many changed. */
  updateUser(userId: string, profile: { username: string; role: Role }): Promise<number>;
  /**
   * Removes every session of a deleted user, ended or not, so nothing of theirs stays (issue 13); resolves
   * with how many went. Gone from disk too (the embedded file is rewritten).
   */
  removeAllForUser(userId: string): Promise<number>;
}
