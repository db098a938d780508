import type { UserPublic } from '@chat/shared';
import type { Announcement, Message, Room } from '@chat/protocol';

/** Public profiles, owned by users-service. */
export interface UserDirectory {
  /** The profiles of those of `ids` that exist; unknown ids are left out. */
  find(ids: readonly string[]): Promise<Map<string, UserPublic>>;
  get(id: string): Promise<UserPublic | undefined>;
}

/**
 * What the chat domain tells every chat instance after a change is stored. Fire-and-forget: a lost
 * notice costs a client a gap it detects by `seq` and fills from history; it never loses stored data.
 */
export interface ChatEvents {
  /** `userId` now belongs to `room`: their sockets start receiving it; `invited` tells the client. */
  roomAdded(userId: string, room: Room, invited: boolean): void;
  /** `userId` no longer belongs to `roomId`: their sockets stop receiving it. */
  roomRemoved(userId: string, roomId: string): void;
  memberJoined(room: Room, user: UserPublic): void;
  memberLeft(room: Room, user: UserPublic): void;
  messageCreated(message: Message): void;
  /** A message was edited, deleted or reacted to: its new state. */
  messageUpdated(message: Message): void;
  /** `userId`'s read position in `room` is now `seq`: their sockets, and the other member's in a direct room. */
  read(room: Room, userId: string, seq: number): void;
  /** `user` started or stopped typing in `roomId` (no reply, nothing stored); `hiddenFrom` are not told. */
  typing(roomId: string, user: UserPublic, active: boolean, hiddenFrom: readonly string[]): void;
  /** A room's name or topic changed: its members see its new state. */
  roomUpdated(room: Room): void;
  /** A room was deleted: its members' sockets stop receiving it. */
  roomDeleted(roomId: string): void;
  /** `userId`'s own view of a room changed (their role): their sockets get `room.updated`. */
  roomChangedFor(userId: string, room: Room): void;
  /** An admin announced something: every socket gets it. */
  announced(announcement: Announcement): void;
}
