import { ConflictError } from '@chat/shared';
import type { MemberRole, Message, Reaction, Room, RoomKind } from '@chat/protocol';
import type { Membership } from '../domain/entities';
import { toAttachment, type AttachedFile } from './attachment.store';
import type { PeopleStore } from './people.store';

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
  replyTo?: ReplyPreviewDocument;
  mentions: string[];
  /** The files it carries (uploads of the sender's, checked by the domain). */
  attachments?: AttachedFile[];
}

/** What a reply keeps of the message it answers. */
export interface ReplyPreviewDocument {
  id: string;
  seq: number;
  senderId: string;
  senderUsername: string;
  text: string;
}

/** A change to a stored message; each takes the room's next revision. */
export type MessageChange =
  | { kind: 'edit'; text: string; mentions: string[]; at: Date }
  | { kind: 'delete'; at: Date }
  | { kind: 'react'; userId: string; emoji: string; on: boolean; at: Date };

/** A user's read state in one of their rooms (contract v1.1, "Read state and unread counts"). */
export interface ReadState {
  myRole: MemberRole;
  lastSeq: number;
  lastReadSeq: number;
  unread: number;
  mentions: number;
}

/** Messages changed after a revision, for `joined.changed`. */
export interface ChangedPage {
  items: Message[];
  /** More messages changed than the page holds. */
  hasMore: boolean;
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
  /** Roles, members, bans, blocks, announcements and erasure, the same over every adapter. */
  readonly people: PeopleStore;
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
  /**
   * Applies a change to a message under the room's next revision; `changed: false` (and no revision taken)
   * when it changes nothing (a reaction already there, or not there to remove). Undefined if the message
   * does not exist.
   */
  changeMessage(
    messageId: string,
    change: MessageChange,
  ): Promise<{ message: Message; changed: boolean } | undefined>;
  /** How many reactions `userId` has on the message (bounded per user). */
  reactionCountOf(messageId: string, userId: string): Promise<number>;
  /** The room's revision now: the highest taken, 0 before any; like `lastSeq`, it may lag (never run ahead). */
  roomRev(roomId: string): Promise<number>;
  /** Up to `limit` messages with seq <= `uptoSeq` changed after `sinceRev`, in their current state. */
  changedSince(
    roomId: string,
    query: { sinceRev: number; uptoSeq: number; limit: number },
  ): Promise<ChangedPage>;
  /**
   * The room's newest seq, 0 before its first message. Without `exact` it may lag the newest (never run
   * ahead), as a room's head in the MongoDB adapter may (see RoomDocument); `exact` reads the messages.
   */
  lastSeq(roomId: string, options?: { exact: boolean }): Promise<number>;
  /** Moves the user's read position in the room forward to `seq`; false when it was already there or past. */
  markRead(roomId: string, userId: string, seq: number): Promise<boolean>;
  /** The user's read state in each of `roomIds` they belong to. */
  readStates(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadState>>;
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
 * `lastSeq` and `lastRev` are the room's head in the MongoDB adapter: raised (`$max`) after each write of
 * messages and revisions, so the newest seq is read by `_id` instead of a sorted query over the room's
 * messages (which FerretDB answers by reading all of them). A head never runs ahead of what is stored; it
 * may lag by a write whose process died before raising it, or, on FerretDB, whose `$max` lost a race with
 * another instance's, until the room's next write raises it again.
 */
export interface RoomDocument {
  _id: string;
  name: string;
  nameLower?: string;
  directKey?: string;
  kind: RoomKind;
  createdBy: string;
  createdAt: Date;
  topic?: string;
  lastSeq?: number;
  lastRev?: number;
}

export interface MembershipDocument {
  /** `<roomId>/<userId>`: adding the same membership twice collides on `_id` in every adapter. */
  _id: string;
  roomId: string;
  userId: string;
  role: Membership['role'];
  joinedAt: Date;
  /** The highest seq the user has read; absent on memberships from before read state (read as 0). */
  lastReadSeq?: number;
}

/**
 * One taken revision of a room: `_id` `<roomId>/<rev>` is unique in every adapter, which makes revisions
 * gap-free and never repeated across processes, as the (roomId, seq) index does for messages.
 */
export interface RevisionDocument {
  _id: string;
  roomId: string;
  rev: number;
  messageId: string;
}

/** One user's reaction: `_id` `<messageId>/<userId>/<emoji>` makes it unique per (message, user, emoji). */
export interface ReactionDocument {
  _id: string;
  messageId: string;
  roomId: string;
  userId: string;
  emoji: string;
  createdAt: Date;
}

export const revisionId = (roomId: string, rev: number) => `${roomId}/${rev}`;
export const reactionId = (messageId: string, userId: string, emoji: string) =>
  `${messageId}/${userId}/${emoji}`;

/** Reaction user ids listed per emoji at most. */
export const REACTION_USERS_SHOWN = 100;

/** A message's reactions by emoji, in the order each emoji first appeared. */
export function reactionsOf(documents: readonly ReactionDocument[]): Reaction[] {
  const byEmoji = new Map<string, Reaction>();
  const sorted = [...documents].sort(
    (a, b) => new Date(a.createdAt).getTime() - new Date(b.createdAt).getTime(),
  );
  for (const { emoji, userId } of sorted) {
    const reaction = byEmoji.get(emoji) ?? { emoji, count: 0, userIds: [] };
    reaction.count += 1;
    if (reaction.userIds.length < REACTION_USERS_SHOWN) reaction.userIds.push(userId);
    byEmoji.set(emoji, reaction);
  }
  return [...byEmoji.values()];
}

/** Reactions grouped by message id. */
export function reactionsByMessage(documents: readonly ReactionDocument[]): Map<string, ReactionDocument[]> {
  const byMessage = new Map<string, ReactionDocument[]>();
  for (const document of documents) {
    const list = byMessage.get(document.messageId);
    if (list) list.push(document);
    else byMessage.set(document.messageId, [document]);
  }
  return byMessage;
}

export interface MessageDocument {
  _id: string;
  roomId: string;
  seq: number;
  senderId: string;
  senderUsername: string;
  text: string;
  clientMsgId?: string;
  /** The room's revision at the message's last change; absent on messages from before revisions (0). */
  rev?: number;
  editedAt?: Date;
  deletedAt?: Date;
  replyTo?: ReplyPreviewDocument;
  /** Absent on messages from before mentions (none). */
  mentions?: string[];
  /** Absent on messages without files (and on deleted ones). */
  attachments?: AttachedFile[];
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
    topic: document.topic ?? null,
  };
}

/** What an edit or a deletion sets on the message document (its `rev` is raised apart, never lowered). */
export function messageUpdateOf(change: Exclude<MessageChange, { kind: 'react' }>): {
  set: Partial<MessageDocument>;
  unset: (keyof MessageDocument)[];
} {
  if (change.kind === 'edit') {
    return { set: { text: change.text, mentions: change.mentions, editedAt: change.at }, unset: [] };
  }
  return { set: { text: '', mentions: [], deletedAt: change.at }, unset: ['replyTo', 'attachments'] };
}

export function toMessage(document: MessageDocument, reactions: readonly ReactionDocument[] = []): Message {
  const { replyTo } = document;
  return {
    id: document._id,
    roomId: document.roomId,
    seq: document.seq,
    rev: document.rev ?? 0,
    sender: { id: document.senderId, username: document.senderUsername },
    text: document.text,
    ...(document.clientMsgId === undefined || document.clientMsgId === null
      ? {}
      : { clientMsgId: document.clientMsgId }),
    createdAt: new Date(document.createdAt).toISOString(),
    ...(document.editedAt ? { editedAt: new Date(document.editedAt).toISOString() } : {}),
    ...(document.deletedAt ? { deletedAt: new Date(document.deletedAt).toISOString() } : {}),
    ...(replyTo
      ? {
          replyTo: {
            id: replyTo.id,
            seq: replyTo.seq,
            sender: { id: replyTo.senderId, username: replyTo.senderUsername },
            text: replyTo.text,
          },
        }
      : {}),
    reactions: document.deletedAt ? [] : reactionsOf(reactions),
    mentions: document.mentions ?? [],
    attachments: document.deletedAt ? [] : (document.attachments ?? []).map(toAttachment),
  };
}

/** Messages with their reactions (looked up by `reactionsFor` in one query). */
export async function withReactions(
  documents: readonly MessageDocument[],
  reactionsFor: (messageIds: string[]) => Promise<ReactionDocument[]>,
): Promise<Message[]> {
  const live = documents.filter((document) => !document.deletedAt).map((document) => document._id);
  const byMessage = reactionsByMessage(live.length > 0 ? await reactionsFor(live) : []);
  return documents.map((document) => toMessage(document, byMessage.get(document._id)));
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

export function messageDocumentOf(message: NewMessage, seq: number, rev: number): MessageDocument {
  const clientMsgKey = dedupeKeyOf(message.senderId, message.roomId, message.clientMsgId);
  return {
    _id: message.id,
    roomId: message.roomId,
    seq,
    rev,
    senderId: message.senderId,
    senderUsername: message.senderUsername,
    text: message.text,
    ...(message.clientMsgId === undefined ? {} : { clientMsgId: message.clientMsgId, clientMsgKey }),
    createdAt: message.createdAt,
    ...(message.replyTo ? { replyTo: message.replyTo } : {}),
    mentions: message.mentions,
    ...(message.attachments?.length ? { attachments: message.attachments } : {}),
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
export async function toPage(
  documents: MessageDocument[],
  range: MessageRange,
  ascending: boolean,
  reactionsFor: (messageIds: string[]) => Promise<ReactionDocument[]>,
): Promise<MessagePage> {
  const hasMore = documents.length > range.limit;
  const kept = documents.slice(0, range.limit);
  if (!ascending) kept.reverse();
  return { items: await withReactions(kept, reactionsFor), hasMore };
}
