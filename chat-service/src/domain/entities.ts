/**
 * The chat domain's own types. Rooms and messages as clients see them (`Room`, `Message`) are the
 * protocol's (`@chat/protocol`); these are what only the domain and its store know.
 */

export type MemberRole = 'owner' | 'member';

export interface Membership {
  roomId: string;
  userId: string;
  role: MemberRole;
  joinedAt: Date;
}

/** Who acts: the verified claims of a token, nothing a client can choose. */
export interface Actor {
  id: string;
  username: string;
}
