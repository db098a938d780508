import { ConflictError } from '@chat/shared';
import type { Message, Room, RoomKind } from '@chat/protocol';
import type { Membership } from '../domain/entities';

/** A public or private room to create, with its owner as the first member. */
export interface NewRoom {
  id: string;
  name: string;
  kind: Exclude<RoomKind, 'direct'>;
  createdBy: string;
  createdAt: Date;
}

/** The one direct room of a pair; `key` names the pair whatever the order ({@link directKeyOf}). */
export interface NewDirectRoom {
  id: string;
  key: string;
  name: string;
  createdBy: string;
  createdAt: Date;
}

export interface NewMessage {
  id: string;
  roomId: string;
  senderId: string;
  senderUsername: string;
  text: string;
  clientMsgId?: string;
  createdAt: Date;
}

/** A page of the public room directory: by lower-cased name, after the cursor's name, with a name prefix. */
export interface PublicRoomQuery {
  limit: number;
  /** Only rooms whose lower-cased name sorts strictly after this one: the keyset cursor. */
  after?: string;
  /** Only rooms whose lower-cased name starts with this. */
  prefix?: string;
}

/** Where a page of history starts: after one seq, before one, both (a range), or neither (the latest). */
export interface MessageRange {
  afterSeq?: number;
  beforeSeq?: number;
  limit: number;
}

export interface MessagePage {
  /** Oldest first. */
  items: Message[];
  /** More messages exist in the paging direction: newer for `afterSeq`, else older. */
  hasMore: boolean;
}

/**
 * Rooms, memberships and messages: three collections of their own. Plain objects in and out.
 * Every method may run concurrently in several processes on one database (MongoDB); the unique
 * indexes, not the processes, keep names, pairs, memberships and sequence numbers unique.
 */
export interface ChatStore {
  /**
   * Creates the room and the owner's membership. A public room's name is unique among public rooms in any
   * case (ROOM_NAME_TAKEN); a private room's name is unique nowhere, so creating one tells nothing about
   * other private rooms (issue 9, finding 10).
   */
  createRoom(room: NewRoom): Promise<Room>;
  /** The pair's direct room, created if missing; two concurrent calls find the same room. */
  findOrCreateDirectRoom(room: NewDirectRoom): Promise<{ room: Room; created: boolean }>;
  getRoom(id: string): Promise<Room | undefined>;
  getRooms(ids: readonly string[]): Promise<Room[]>;
  listPublicRooms(): Promise<Room[]>;
  /** Up to `limit` public rooms ordered by lower-cased name (the directory, `GET /api/rooms/public`). */
  publicRoomPage(query: PublicRoomQuery): Promise<Room[]>;
  /** Adds a membership; false (and nothing changed) if it existed. */
  addMember(membership: Membership): Promise<boolean>;
  /** Removes a membership; false if there was none. */
  removeMember(roomId: string, userId: string): Promise<boolean>;
  isMember(roomId: string, userId: string): Promise<boolean>;
  /** The rooms `userId` belongs to. */
  roomIdsOf(userId: string): Promise<string[]>;
  /** How many rooms `userId` belongs to (checked against the rooms-per-user cap). */
  roomCountOf(userId: string): Promise<number>;
  /** The rooms of each of `userIds` (users without rooms are left out). */
  roomIdsOfUsers(userIds: readonly string[]): Promise<Map<string, string[]>>;
  /** The member ids of each of `roomIds` that has members. */
  memberIdsOf(roomIds: readonly string[]): Promise<Map<string, string[]>>;
  /**
   * Stores a message with the room's next seq (no gap, no repeat, whatever else writes concurrently).
   * The same `clientMsgId` from the same sender in the same room again returns the first message with
   * `created: false`; in another room it is another message.
   */
  appendMessage(message: NewMessage): Promise<{ message: Message; created: boolean }>;
  findMessage(id: string): Promise<Message | undefined>;
  listMessages(roomId: string, range: MessageRange): Promise<MessagePage>;
  /** The readiness check: true once the database answers a ping. */
  ping(): Promise<boolean>;
  /** Whether the database connection is up now, without a round trip (checked on every socket upgrade). */
  connected(): boolean;
  close(): Promise<void>;
}

/** Memberships grouped by `key` (room or user), each group's other side in store order. */
export function groupMemberships(
  memberships: Iterable<{ roomId: string; userId: string }>,
  key: 'roomId' | 'userId',
): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const membership of memberships) {
    const other = key === 'roomId' ? membership.userId : membership.roomId;
    const group = groups.get(membership[key]);
    if (group) group.push(other);
    else groups.set(membership[key], [other]);
  }
  return groups;
}

/** The key of a pair's direct room: the same for (a, b) and (b, a). */
export function directKeyOf(userA: string, userB: string): string {
  return [userA, userB].sort().join(':');
}

export function roomNameTaken(): ConflictError {
  return new ConflictError('ROOM_NAME_TAKEN', 'A room with this name exists.');
}

/**
 * A stored room. Only public rooms have a `nameLower` (names are unique among public rooms only), direct
 * rooms have a `directKey`, so both unique indexes are sparse. Private rooms stored before issue 9 had a
 * `nameLower` too: each adapter removes it when it opens.
 * The member count is not stored: it is counted from the memberships when read. A stored counter would
 * need an atomic `$inc`, which FerretDB 1.24 does not give (concurrent increments are lost), and it could
 * drift if a process died between the membership write and the count.
 */
export interface RoomDocument {
  _id: string;
  name: string;
  nameLower?: string;
  directKey?: string;
  kind: RoomKind;
  createdBy: string;
  createdAt: Date;
}

export interface MembershipDocument {
  /** `<roomId>/<userId>`: adding the same membership twice collides on `_id` in every adapter. */
  _id: string;
  roomId: string;
  userId: string;
  role: Membership['role'];
  joinedAt: Date;
}

export interface MessageDocument {
  _id: string;
  roomId: string;
  seq: number;
  senderId: string;
  senderUsername: string;
  text: string;
  clientMsgId?: string;
  /**
   * `<roomId>/<senderId>/<clientMsgId>` when the client gave an id, absent otherwise: one message per
   * (sender, room, clientMsgId). A sparse unique index on one field stands in for a partial compound index,
   * which FerretDB 1.24 does not implement.
   */
  clientMsgKey?: string;
  /**
   * Before issue 9: `<senderId>/<clientMsgId>`, unique across rooms, so a reused id in another room
   * answered the first room's message. Each adapter turns it into `clientMsgKey` when it opens and drops
   * its unique index; nothing writes it any more.
   */
  dedupeKey?: string;
  createdAt: Date;
}

export function membershipId(roomId: string, userId: string): string {
  return `${roomId}/${userId}`;
}

/**
 * The key that makes a `clientMsgId` unique per (sender, room) (contract v1.1, "Limits"). Ids are
 * `[A-Za-z0-9_-]`, so the first two `/` separate the parts whatever the clientMsgId holds.
 */
export function dedupeKeyOf(
  senderId: string,
  roomId: string,
  clientMsgId: string | undefined,
): string | undefined {
  return clientMsgId === undefined ? undefined : `${roomId}/${senderId}/${clientMsgId}`;
}

export function toRoom(document: RoomDocument, memberCount: number): Room {
  return {
    id: document._id,
    name: document.name,
    kind: document.kind,
    memberCount,
    createdBy: document.createdBy,
    createdAt: new Date(document.createdAt).toISOString(),
  };
}

export function toMessage(document: MessageDocument): Message {
  return {
    id: document._id,
    roomId: document.roomId,
    seq: document.seq,
    sender: { id: document.senderId, username: document.senderUsername },
    text: document.text,
    ...(document.clientMsgId === undefined || document.clientMsgId === null
      ? {}
      : { clientMsgId: document.clientMsgId }),
    createdAt: new Date(document.createdAt).toISOString(),
  };
}

export function roomDocumentOf(room: NewRoom): RoomDocument {
  return {
    _id: room.id,
    name: room.name,
    ...(room.kind === 'public' ? { nameLower: room.name.toLowerCase() } : {}),
    kind: room.kind,
    createdBy: room.createdBy,
    createdAt: room.createdAt,
  };
}

/** The filter for one directory page: public rooms, a range on `nameLower` (never a regex built from input). */
export function publicPageFilter(query: PublicRoomQuery): Record<string, unknown> {
  const range: Record<string, string> = {};
  if (query.prefix) {
    range.$gte = query.prefix;
    range.$lt = `${query.prefix}\uffff`;
  }
  if (query.after !== undefined) range.$gt = query.after;
  return Object.keys(range).length > 0 ? { kind: 'public', nameLower: range } : { kind: 'public' };
}

/** Private rooms that still carry a `nameLower` from before names were unique among public rooms only. */
export const PRIVATE_NAMES_TO_DROP = { kind: { $ne: 'public' }, nameLower: { $exists: true } } as const;

/** The new key for a message stored with a pre-issue-9 `dedupeKey`. */
export function clientMsgKeyOfLegacy(document: MessageDocument): string | undefined {
  return dedupeKeyOf(document.senderId, document.roomId, document.clientMsgId ?? undefined);
}

export function directRoomDocumentOf(room: NewDirectRoom): RoomDocument {
  return {
    _id: room.id,
    name: room.name,
    directKey: room.key,
    kind: 'direct',
    createdBy: room.createdBy,
    createdAt: room.createdAt,
  };
}

export function messageDocumentOf(message: NewMessage, seq: number): MessageDocument {
  const clientMsgKey = dedupeKeyOf(message.senderId, message.roomId, message.clientMsgId);
  return {
    _id: message.id,
    roomId: message.roomId,
    seq,
    senderId: message.senderId,
    senderUsername: message.senderUsername,
    text: message.text,
    ...(message.clientMsgId === undefined ? {} : { clientMsgId: message.clientMsgId, clientMsgKey }),
    createdAt: message.createdAt,
  };
}

/** The queries a history page needs, the same for both adapters. */
export function pageQuery(roomId: string, range: MessageRange) {
  const seq: Record<string, number> = {};
  if (range.afterSeq !== undefined) seq.$gt = range.afterSeq;
  if (range.beforeSeq !== undefined) seq.$lt = range.beforeSeq;
  const filter = Object.keys(seq).length > 0 ? { roomId, seq } : { roomId };
  // From `after` the page reads forwards; otherwise backwards from the newest (or from `before`).
  const ascending = range.afterSeq !== undefined;
  return { filter, sort: { seq: ascending ? 1 : -1 } as const, take: range.limit + 1, ascending };
}

/** The page from up to `limit + 1` documents read in the page's direction. */
export function toPage(documents: MessageDocument[], range: MessageRange, ascending: boolean): MessagePage {
  const hasMore = documents.length > range.limit;
  const kept = documents.slice(0, range.limit);
  if (!ascending) kept.reverse();
  return { items: kept.map(toMessage), hasMore };
}
