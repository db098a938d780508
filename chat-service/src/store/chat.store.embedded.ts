import type Datastore from '@seald-io/nedb';
import { closeEmbeddedCollections, openEmbeddedCollection, uniqueViolationKey } from '@chat/shared';
import type { Message, Room } from '@chat/protocol';
import type { Membership } from '../domain/entities';
import {
  clientMsgKeyOfLegacy,
  directRoomDocumentOf,
  membershipId,
  pageQuery,
  PRIVATE_NAMES_TO_DROP,
  publicPageFilter,
  roomDocumentOf,
  roomNameTaken,
  toPage,
  withReactions,
  toRoom,
  type ChatStore,
  type MembershipDocument,
  type MessageDocument,
  type MessagePage,
  type MessageRange,
  type NewDirectRoom,
  type NewMessage,
  type NewRoom,
  type PublicRoomQuery,
  type ReactionDocument,
  type ReadState,
  type RevisionDocument,
  type RoomDocument,
  type ChangedPage,
  type MessageChange,
  groupMemberships,
} from './chat.store';
import { MessageAppender } from './message-appender';
import { MessageChanges } from './message-changes';
import { nedbCollection } from './document-collection';
import { PeopleStore, type AnnouncementDocument, type BanDocument, type BlockDocument } from './people.store';
import { Revisions } from './revisions';
import { UnreadCounts } from './unread-counts';

type Collection<T> = Datastore<T & Record<string, unknown>>;

/**
 * A room as this store keeps it: with its member count, kept by every membership added or removed, so
 * reading a room never counts its members. (In one process NeDB applies each update alone, so `$inc` is
 * exact; the MongoDB adapter counts instead, since FerretDB's `$inc` loses concurrent updates.)
 */
type StoredRoom = RoomDocument & { memberCount: number };

/** Rooms stored before `memberCount` existed lack the field: these are counted once at open. */
const COUNTS_TO_BACKFILL = { memberCount: { $exists: false } };

const asRoom = (document: StoredRoom): Room => toRoom(document, document.memberCount);

/**
 * Messages stored before issue 9 carry `dedupeKey` (`<senderId>/<clientMsgId>`, unique across rooms):
 * each gets its per-room `clientMsgKey` instead, so a resend after the upgrade still finds it, and the old
 * unique index goes (NeDB keeps index definitions in the data file). A fresh store has neither.
 */
async function migrateLegacyDedupeKeys(messages: Collection<MessageDocument>): Promise<void> {
  const indexes = (messages as unknown as { indexes: Record<string, unknown> }).indexes;
  if ('dedupeKey' in indexes) await messages.removeIndexAsync('dedupeKey');
  for (const legacy of await messages.findAsync({ dedupeKey: { $exists: true } })) {
    const clientMsgKey = clientMsgKeyOfLegacy(legacy);
    await messages.updateAsync(
      { _id: legacy._id },
      clientMsgKey === undefined
        ? { $unset: { dedupeKey: true } }
        : { $set: { clientMsgKey }, $unset: { dedupeKey: true } },
      {},
    );
  }
}

/** NeDB answers a unique violation (its own or on `_id`) with an error carrying `errorType`. */
function isUniqueViolation(error: unknown): boolean {
  return uniqueViolationKey(error) !== undefined;
}

/**
 * Rooms, memberships and messages in NeDB files under DATA_DIR (`chat-rooms.db`, `chat-memberships.db`,
 * `chat-messages.db`), for the run with nothing installed. One process only, like every embedded store.
 * NeDB's indexes answer equality only: history sorts a room's messages in memory, fine at this scale;
 * unread counts, read at every socket open, come from {@link UnreadCounts} instead.
 */
export class EmbeddedChatStore implements ChatStore {
  private readonly appender: MessageAppender;
  private readonly changes: MessageChanges;
  private readonly revisions: Revisions;
  readonly people: PeopleStore;
  /**
   * Each room's newest seq, read from the messages once at open and kept by every append: one process
   * writes here, so it is exact, and `hello` reads it for every room of the user without a query.
   */
  private readonly lastSeqs = new Map<string, number>();
  /** Kept like `lastSeqs`: every message read at open, stored or changed. */
  private readonly unread = new UnreadCounts();
  /** The last message update queued; the next waits for it. */
  private updating: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly rooms: Collection<StoredRoom>,
    private readonly memberships: Collection<MembershipDocument>,
    private readonly messages: Collection<MessageDocument>,
    private readonly revisionLog: Collection<RevisionDocument>,
    private readonly reactions: Collection<ReactionDocument>,
    private readonly bans: Collection<BanDocument>,
    private readonly blocks: Collection<BlockDocument>,
    private readonly announcementLog: Collection<AnnouncementDocument>,
  ) {
    this.people = new PeopleStore(
      {
        rooms: nedbCollection<RoomDocument>(rooms),
        memberships: nedbCollection(memberships),
        messages: nedbCollection(messages),
        revisions: nedbCollection(revisionLog),
        reactions: nedbCollection(reactions),
        bans: nedbCollection(bans),
        blocks: nedbCollection(blocks),
        announcements: nedbCollection(announcementLog),
      },
      (roomId) => this.unread.forgetRoom(roomId),
    );
    this.revisions = new Revisions({
      lastRev: async (roomId) => {
        const [last] = await this.revisionLog.findAsync({ roomId }).sort({ rev: -1 }).limit(1);
        return last?.rev ?? 0;
      },
      insert: async (documents) => {
        try {
          await this.revisionLog.insertAsync(documents as (RevisionDocument & Record<string, unknown>)[]);
          return 'inserted';
        } catch (error) {
          if (isUniqueViolation(error)) return 'duplicate';
          throw error;
        }
      },
    });
    this.appender = new MessageAppender(
      {
        // Read from the files: the appender asks after losing a race (two stores on one folder, in tests).
        lastSeq: async (roomId) => {
          const [last] = await this.messages.findAsync({ roomId }).sort({ seq: -1 }).limit(1);
          return last?.seq ?? 0;
        },
        insert: async (documents) => {
          try {
            // NeDB inserts an array all or nothing.
            await this.messages.insertAsync(documents as (MessageDocument & Record<string, unknown>)[]);
            for (const document of documents) this.unread.add(document);
            return 'inserted';
          } catch (error) {
            if (isUniqueViolation(error)) return 'duplicate';
            throw error;
          }
        },
        storedIds: async (ids) => {
          const documents = await this.messages.findAsync({ _id: { $in: ids } });
          return new Set(documents.map((document) => document._id));
        },
        findByDedupeKey: async (clientMsgKey) =>
          (await this.messages.findOneAsync({ clientMsgKey })) ?? undefined,
      },
      this.revisions,
    );
    this.changes = new MessageChanges(
      {
        findMessage: async (id) => (await this.messages.findOneAsync({ _id: id })) ?? undefined,
        findMessages: async (ids) =>
          ids.length === 0 ? [] : this.messages.findAsync({ _id: { $in: [...ids] } }),
        updateMessage: async (id, { set, unset }, rev) => {
          const update: Record<string, unknown> = { $max: { rev } };
          if (Object.keys(set).length > 0) update.$set = set;
          if (unset.length > 0) update.$unset = Object.fromEntries(unset.map((field) => [field, true]));
          // One update at a time: the counts swap each message from the state it really had before.
          const updated = this.updating.then(async () => {
            const before = await this.messages.findOneAsync({ _id: id });
            const { affectedDocuments } = await this.messages.updateAsync({ _id: id }, update, {
              returnUpdatedDocs: true,
            });
            const after = (affectedDocuments as MessageDocument | null) ?? undefined;
            if (before) this.unread.change(before, after);
            return after;
          });
          this.updating = updated.catch(() => undefined);
          return updated;
        },
        insertReaction: async (reaction) => {
          try {
            await this.reactions.insertAsync({ ...reaction });
            return true;
          } catch (error) {
            if (isUniqueViolation(error)) return false;
            throw error;
          }
        },
        removeReaction: async (id) => (await this.reactions.removeAsync({ _id: id }, {})) === 1,
        removeReactionsOf: async (messageId) => {
          await this.reactions.removeAsync({ messageId }, { multi: true });
        },
        reactionsFor: async (messageIds) => this.reactions.findAsync({ messageId: { $in: [...messageIds] } }),
        countReactions: (messageId, userId) => this.reactions.countAsync({ messageId, userId }),
        revisionsAfter: (roomId, sinceRev, limit) =>
          this.revisionLog
            .findAsync({ roomId, rev: { $gt: sinceRev } })
            .sort({ rev: 1 })
            .limit(limit),
        // By user (indexed), then the rooms asked for: NeDB matches `$in` against every candidate.
        memberships: async (userId, roomIds) => {
          const wanted = new Set(roomIds);
          return (await this.memberships.findAsync({ userId })).filter(({ roomId }) => wanted.has(roomId));
        },
        moveReadPosition: async (roomId, userId, seq) => {
          const moved = await this.memberships.updateAsync(
            {
              _id: membershipId(roomId, userId),
              $or: [{ lastReadSeq: { $exists: false } }, { lastReadSeq: { $lt: seq } }],
            },
            { $set: { lastReadSeq: seq } },
            {},
          );
          return moved.numAffected === 1;
        },
        countUnread: async (roomId, userId, afterSeq, mentioning) =>
          this.unread.count(roomId, userId, afterSeq, mentioning),
      },
      this.revisions,
      async (roomIds) => new Map(roomIds.map((roomId) => [roomId, this.lastSeqs.get(roomId) ?? 0])),
    );
  }

  /** Loads (or creates) the three collections with their indexes. */
  static async open(dataDir: string): Promise<EmbeddedChatStore> {
    const rooms = await openEmbeddedCollection<StoredRoom & Record<string, unknown>>(dataDir, 'chat-rooms');
    // Names are unique among public rooms only (issue 9): private rooms keep no `nameLower`.
    await rooms.updateAsync(PRIVATE_NAMES_TO_DROP, { $unset: { nameLower: true } }, { multi: true });
    await rooms.ensureIndexAsync({ fieldName: 'nameLower', unique: true, sparse: true });
    await rooms.ensureIndexAsync({ fieldName: 'directKey', unique: true, sparse: true });
    await rooms.ensureIndexAsync({ fieldName: 'kind' });
    const memberships = await openEmbeddedCollection<MembershipDocument & Record<string, unknown>>(
      dataDir,
      'chat-memberships',
    );
    await memberships.ensureIndexAsync({ fieldName: 'roomId' });
    await memberships.ensureIndexAsync({ fieldName: 'userId' });
    const messages = await openEmbeddedCollection<MessageDocument & Record<string, unknown>>(
      dataDir,
      'chat-messages',
    );
    await messages.ensureIndexAsync({ fieldName: ['roomId', 'seq'], unique: true });
    await messages.ensureIndexAsync({ fieldName: 'roomId' });
    await migrateLegacyDedupeKeys(messages);
    await messages.ensureIndexAsync({ fieldName: 'clientMsgKey', unique: true, sparse: true });
    const revisions = await openEmbeddedCollection<RevisionDocument & Record<string, unknown>>(
      dataDir,
      'chat-revisions',
    );
    await revisions.ensureIndexAsync({ fieldName: 'roomId' });
    const reactions = await openEmbeddedCollection<ReactionDocument & Record<string, unknown>>(
      dataDir,
      'chat-reactions',
    );
    await reactions.ensureIndexAsync({ fieldName: 'messageId' });
    const bans = await openEmbeddedCollection<BanDocument & Record<string, unknown>>(dataDir, 'chat-bans');
    const blocks = await openEmbeddedCollection<BlockDocument & Record<string, unknown>>(
      dataDir,
      'chat-blocks',
    );
    await blocks.ensureIndexAsync({ fieldName: 'userId' });
    const announcements = await openEmbeddedCollection<AnnouncementDocument & Record<string, unknown>>(
      dataDir,
      'chat-announcements',
    );
    const store = new EmbeddedChatStore(
      rooms,
      memberships,
      messages,
      revisions,
      reactions,
      bans,
      blocks,
      announcements,
    );
    // In seq order, so each room's seqs are appended rather than inserted (NeDB gives them by random `_id`).
    for (const message of messages.getAllData().sort((a, b) => a.seq - b.seq)) {
      const { roomId, seq } = message;
      if (seq > (store.lastSeqs.get(roomId) ?? 0)) store.lastSeqs.set(roomId, seq);
      store.unread.add(message);
    }
    await store.backfillMemberCounts();
    return store;
  }

  async createRoom(room: NewRoom): Promise<Room> {
    const document: StoredRoom = { ...roomDocumentOf(room), memberCount: 1 };
    try {
      await this.rooms.insertAsync({ ...document });
    } catch (error) {
      if (isUniqueViolation(error)) throw roomNameTaken();
      throw error;
    }
    await this.memberships.insertAsync({
      _id: membershipId(room.id, room.createdBy),
      roomId: room.id,
      userId: room.createdBy,
      role: 'owner',
      joinedAt: room.createdAt,
    });
    return asRoom(document);
  }

  async findOrCreateDirectRoom(room: NewDirectRoom): Promise<{ room: Room; created: boolean }> {
    const existing = await this.rooms.findOneAsync({ directKey: room.key });
    if (existing) return { room: asRoom(existing), created: false };
    const document: StoredRoom = { ...directRoomDocumentOf(room), memberCount: 0 };
    try {
      await this.rooms.insertAsync({ ...document });
      return { room: asRoom(document), created: true };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.rooms.findOneAsync({ directKey: room.key });
      if (!winner) throw error;
      return { room: asRoom(winner), created: false };
    }
  }

  async getRoom(id: string): Promise<Room | undefined> {
    const document = await this.rooms.findOneAsync({ _id: id });
    return document ? asRoom(document) : undefined;
  }

  async getRooms(ids: readonly string[]): Promise<Room[]> {
    if (ids.length === 0) return [];
    return (await this.rooms.findAsync({ _id: { $in: [...ids] } })).map(asRoom);
  }

  async listPublicRooms(): Promise<Room[]> {
    return (await this.rooms.findAsync({ kind: 'public' }).sort({ createdAt: 1, _id: 1 })).map(asRoom);
  }

  async publicRoomPage(query: PublicRoomQuery): Promise<Room[]> {
    const documents = await this.rooms
      .findAsync(publicPageFilter(query))
      .sort({ nameLower: 1 })
      .limit(query.limit);
    return documents.map(asRoom);
  }

  async addMember(membership: Membership): Promise<boolean> {
    try {
      await this.memberships.insertAsync({
        _id: membershipId(membership.roomId, membership.userId),
        ...membership,
      });
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
    await this.rooms.updateAsync({ _id: membership.roomId }, { $inc: { memberCount: 1 } }, {});
    return true;
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    if ((await this.memberships.removeAsync({ _id: membershipId(roomId, userId) }, {})) !== 1) return false;
    await this.rooms.updateAsync({ _id: roomId }, { $inc: { memberCount: -1 } }, {});
    return true;
  }

  async isMember(roomId: string, userId: string): Promise<boolean> {
    return (await this.memberships.countAsync({ _id: membershipId(roomId, userId) })) > 0;
  }

  async roomIdsOf(userId: string): Promise<string[]> {
    return (await this.memberships.findAsync({ userId })).map((document) => document.roomId);
  }

  async roomCountOf(userId: string): Promise<number> {
    return this.memberships.countAsync({ userId });
  }

  async roomIdsOfUsers(userIds: readonly string[]): Promise<Map<string, string[]>> {
    if (userIds.length === 0) return new Map();
    return groupMemberships(await this.memberships.findAsync({ userId: { $in: [...userIds] } }), 'userId');
  }

  async memberIdsOf(roomIds: readonly string[]): Promise<Map<string, string[]>> {
    if (roomIds.length === 0) return new Map();
    return groupMemberships(await this.memberships.findAsync({ roomId: { $in: [...roomIds] } }), 'roomId');
  }

  async appendMessage(message: NewMessage): Promise<{ message: Message; created: boolean }> {
    const appended = await this.appender.append(message);
    const { roomId, seq } = appended.message;
    if (seq > (this.lastSeqs.get(roomId) ?? 0)) this.lastSeqs.set(roomId, seq);
    return appended;
  }

  changeMessage(
    messageId: string,
    change: MessageChange,
  ): Promise<{ message: Message; changed: boolean } | undefined> {
    return this.changes.change(messageId, change);
  }

  reactionCountOf(messageId: string, userId: string): Promise<number> {
    return this.changes.reactionCountOf(messageId, userId);
  }

  async roomRev(roomId: string): Promise<number> {
    const [last] = await this.revisionLog.findAsync({ roomId }).sort({ rev: -1 }).limit(1);
    return last?.rev ?? 0;
  }

  changedSince(
    roomId: string,
    query: { sinceRev: number; uptoSeq: number; limit: number },
  ): Promise<ChangedPage> {
    return this.changes.changedSince(roomId, query);
  }

  /** Always exact: this process is the only writer of its file. */
  async lastSeq(roomId: string): Promise<number> {
    return this.lastSeqs.get(roomId) ?? 0;
  }

  markRead(roomId: string, userId: string, seq: number): Promise<boolean> {
    return this.changes.markRead(roomId, userId, seq);
  }

  readStates(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadState>> {
    return this.changes.readStates(userId, roomIds);
  }

  async findMessage(id: string): Promise<Message | undefined> {
    const document = await this.messages.findOneAsync({ _id: id });
    return document ? (await withReactions([document], this.reactionsFor))[0] : undefined;
  }

  async listMessages(roomId: string, range: MessageRange): Promise<MessagePage> {
    const { filter, sort, take, ascending } = pageQuery(roomId, range);
    const documents = await this.messages.findAsync(filter).sort(sort).limit(take);
    return toPage(documents, range, ascending, this.reactionsFor);
  }

  private readonly reactionsFor = (messageIds: string[]) =>
    this.reactions.findAsync({ messageId: { $in: messageIds } });

  /** Counts the members of rooms stored before `memberCount` existed, once. */
  private async backfillMemberCounts(): Promise<void> {
    for (const room of await this.rooms.findAsync(COUNTS_TO_BACKFILL)) {
      const memberCount = await this.memberships.countAsync({ roomId: room._id });
      await this.rooms.updateAsync({ _id: room._id }, { $set: { memberCount } }, {});
    }
  }

  async ping(): Promise<boolean> {
    return true;
  }

  /** Files in this process: there is no connection to lose. */
  connected(): boolean {
    return true;
  }

  async close(): Promise<void> {
    await closeEmbeddedCollections([
      this.rooms,
      this.memberships,
      this.messages,
      this.revisionLog,
      this.reactions,
      this.bans,
      this.blocks,
      this.announcementLog,
    ]);
  }
}
