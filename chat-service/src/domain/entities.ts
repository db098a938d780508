import type { AccessClaims } from '@chat/shared';
import type { MemberRole, Role } from '@chat/protocol';

/**
 * The chat domain's own types. Rooms and messages as clients see them (`Room`, `Message`) are the
 * protocol's (`@chat/protocol`); these are what only the domain and its store know.
 */

export interface Membership {
  roomId: string;
  userId: string;
  role: MemberRole;
  joinedAt: Date;
  /** Where the read position starts: the room's last seq when they joined, so older messages are not unread. */
  lastReadSeq: number;
}

/** Who acts: the verified claims of a token, nothing a client can choose. */
export interface Actor {
  id: string;
  username: string;
  /** The global role; an admin may delete any message. */
  role: Role;
}

/** The actor of a verified token. */
export const actorOf = (claims: Pick<AccessClaims, 'sub' | 'username' | 'role'>): Actor => ({
  id: claims.sub,
  username: claims.username,
  role: claims.role,
});
