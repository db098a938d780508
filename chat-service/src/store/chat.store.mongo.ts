import { Schema, type Connection, type Model, type mongo } from 'mongoose';
import {
  connectMongo,
  duplicateKeyField,
  manyValueQueriesFor,
  mongoConnected,
  mongoReachable,
  type CountIn,
  type FindIn,
  type Logger,
} from '@chat/shared';
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
import { mongoCollection } from './document-collection';
import { PeopleStore, type AnnouncementDocument, type BanDocument, type BlockDocument } from './people.store';
import { Revisions } from './revisions';

const roomSchema = new Schema<RoomDocument>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    nameLower: String,
    directKey: String,
    kind: { type: String, enum: ['public', 'private', 'direct'], required: true },
    createdBy: { type: String, required: true },
    createdAt: { type: Date, required: true },
    topic: String,
  },
  { versionKey: false, strict: 'throw' },
);
roomSchema.index({ nameLower: 1 }, { unique: true, sparse: true });
roomSchema.index({ directKey: 1 }, { unique: true, sparse: true });
roomSchema.index({ kind: 1, createdAt: 1 });

const membershipSchema = new Schema<MembershipDocument>(
  {
    _id: { type: String, required: true },
    roomId: { type: String, required: true },
    userId: { type: String, required: true },
    role: { type: String, enum: ['owner', 'moderator', 'member'], required: true },
    joinedAt: { type: Date, required: true },
    lastReadSeq: Number,
  },
  { versionKey: false, strict: 'throw' },
);
membershipSchema.index({ roomId: 1, userId: 1 }, { unique: true });
membershipSchema.index({ userId: 1 });

const messageSchema = new Schema<MessageDocument>(
  {
    _id: { type: String, required: true },
    roomId: { type: String, required: true },
    seq: { type: Number, required: true },
    senderId: { type: String, required: true },
    senderUsername: { type: String, required: true },
    text: { type: String, required: true },
    clientMsgId: String,
    clientMsgKey: String,
    createdAt: { type: Date, required: true },
    rev: Number,
    editedAt: Date,
    deletedAt: Date,
    replyTo: {
      type: { id: String, seq: Number, senderId: String, senderUsername: String, text: String },
      default: undefined,
    },
    mentions: { type: [String], default: undefined },
    attachments: {
      type: [
        {
          _id: false,
          id: String,
          name: String,
          type: { type: String },
          size: Number,
          width: Number,
          height: Number,
          thumbnail: Boolean,
        },
      ],
      default: undefined,
    },
  },
  { versionKey: false, strict: 'throw' },
);
messageSchema.index({ roomId: 1, seq: 1 }, { unique: true });
messageSchema.index({ clientMsgKey: 1 }, { unique: true, sparse: true });

/** Revisions by their `_id` (`<roomId>/<rev>`), read back by room in order. */
const revisionSchema = new Schema<RevisionDocument>(
  {
    _id: { type: String, required: true },
    roomId: { type: String, required: true },
    rev: { type: Number, required: true },
    messageId: { type: String, required: true },
  },
  { versionKey: false, strict: 'throw' },
);
revisionSchema.index({ roomId: 1, rev: 1 });

const reactionSchema = new Schema<ReactionDocument>(
  {
    _id: { type: String, required: true },
    messageId: { type: String, required: true },
    roomId: { type: String, required: true },
    userId: { type: String, required: true },
    emoji: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);
reactionSchema.index({ messageId: 1, userId: 1 });

/** The unique index on the pre-issue-9 `dedupeKey` (one clientMsgId per sender across rooms). */
const LEGACY_DEDUPE_INDEX = 'dedupeKey_1';
/** Messages migrated per bulk write. */
const MIGRATION_BATCH = 500;
/** The two fields membership lookups by room or user read. */
const MEMBER_PAIR = { projection: { roomId: 1, userId: 1 } };

/** Rooms, memberships and messages in MongoDB (or FerretDB), through mongoose with plain objects out. */
export class MongoChatStore implements ChatStore {
  private readonly rooms: Model<RoomDocument>;
  private readonly memberships: Model<MembershipDocument>;
  private readonly messages: Model<MessageDocument>;
  private readonly revisionLog: Model<RevisionDocument>;
  private readonly reactions: Model<ReactionDocument>;
  private readonly appender: MessageAppender;
  private readonly changes: MessageChanges;
  private readonly revisions: Revisions;
  readonly people: PeopleStore;
  /** The driver's collections, for plain inserts: no mongoose document per write. */
  private readonly raw: {
    rooms: mongo.Collection<RoomDocument>;
    memberships: mongo.Collection<MembershipDocument>;
    messages: mongo.Collection<MessageDocument>;
    revisions: mongo.Collection<RevisionDocument>;
    reactions: mongo.Collection<ReactionDocument>;
    bans: mongo.Collection<BanDocument>;
    blocks: mongo.Collection<BlockDocument>;
    announcements: mongo.Collection<AnnouncementDocument>;
  };

  private constructor(
    private readonly connection: Connection,
    private readonly findIn: FindIn,
    private readonly countIn: CountIn,
  ) {
    this.rooms = connection.model<RoomDocument>('Room', roomSchema, 'rooms');
    this.memberships = connection.model<MembershipDocument>('Membership', membershipSchema, 'memberships');
    this.messages = connection.model<MessageDocument>('Message', messageSchema, 'messages');
    this.revisionLog = connection.model<RevisionDocument>('Revision', revisionSchema, 'revisions');
    this.reactions = connection.model<ReactionDocument>('Reaction', reactionSchema, 'reactions');
    this.raw = {
      rooms: connection.collection<RoomDocument>('rooms'),
      memberships: connection.collection<MembershipDocument>('memberships'),
      messages: connection.collection<MessageDocument>('messages'),
      revisions: connection.collection<RevisionDocument>('revisions'),
      reactions: connection.collection<ReactionDocument>('reactions'),
      bans: connection.collection<BanDocument>('bans'),
      blocks: connection.collection<BlockDocument>('blocks'),
      announcements: connection.collection<AnnouncementDocument>('announcements'),
    };
    this.people = new PeopleStore({
      rooms: mongoCollection(this.raw.rooms),
      memberships: mongoCollection(this.raw.memberships),
      messages: mongoCollection(this.raw.messages),
      revisions: mongoCollection(this.raw.revisions),
      reactions: mongoCollection(this.raw.reactions),
      bans: mongoCollection(this.raw.bans),
      blocks: mongoCollection(this.raw.blocks),
      announcements: mongoCollection(this.raw.announcements),
    });
    this.revisions = new Revisions({
      lastRev: (roomId) => this.storedLast('revisions', roomId, 'rev'),
      insert: async (documents) => {
        try {
          await this.raw.revisions.insertMany(documents, { ordered: true });
        } catch (error) {
          if (duplicateKeyField(error) !== undefined) return 'duplicate';
          throw error;
        }
        await this.raiseHead(documents[0]!.roomId, { lastRev: documents.at(-1)!.rev });
        return 'inserted';
      },
    });
    this.appender = new MessageAppender(
      {
        lastSeq: (roomId) => this.storedLast('messages', roomId, 'seq'),
        insert: async (documents) => {
          try {
            await this.raw.messages.insertMany(documents, { ordered: true });
          } catch (error) {
            if (duplicateKeyField(error) !== undefined) return 'duplicate';
            throw error;
          }
          await this.raiseHead(documents[0]!.roomId, { lastSeq: documents.at(-1)!.seq });
          return 'inserted';
        },
        storedIds: async (ids) => {
          const documents = await this.messages
            .find({ _id: { $in: ids } }, { _id: 1 })
            .lean<{ _id: string }[]>();
          return new Set(documents.map((document) => document._id));
        },
        findByDedupeKey: async (clientMsgKey) =>
          (await this.messages.findOne({ clientMsgKey }).lean<MessageDocument>()) ?? undefined,
      },
      this.revisions,
    );
    this.changes = new MessageChanges(
      {
        findMessage: async (id) => (await this.raw.messages.findOne({ _id: id })) ?? undefined,
        findMessages: (ids) => this.findIn(this.raw.messages, '_id', ids),
        updateMessage: async (id, { set, unset }, rev) => {
          const update: mongo.UpdateFilter<MessageDocument> = { $max: { rev } };
          if (Object.keys(set).length > 0) update.$set = set;
          if (unset.length > 0) update.$unset = Object.fromEntries(unset.map((field) => [field, '']));
          return (
            (await this.raw.messages.findOneAndUpdate({ _id: id }, update, { returnDocument: 'after' })) ??
            undefined
          );
        },
        insertReaction: async (reaction) => {
          try {
            await this.raw.reactions.insertOne(reaction);
            return true;
          } catch (error) {
            if (duplicateKeyField(error) !== undefined) return false;
            throw error;
          }
        },
        removeReaction: async (id) => (await this.raw.reactions.deleteOne({ _id: id })).deletedCount === 1,
        removeReactionsOf: async (messageId) => {
          await this.raw.reactions.deleteMany({ messageId });
        },
        reactionsFor: this.reactionsFor,
        countReactions: (messageId, userId) => this.raw.reactions.countDocuments({ messageId, userId }),
        revisionsAfter: (roomId, sinceRev, limit) =>
          this.raw.revisions
            .find({ roomId, rev: { $gt: sinceRev } })
            .sort({ rev: 1 })
            .limit(limit)
            .toArray(),
        // By the user (an indexed equality, which FerretDB hands to its backend, where `_id: {$in}` made
        // it read every membership), or by `_id` for one room.
        memberships: async (userId, roomIds) => {
          if (roomIds.length === 0) return [];
          if (roomIds.length === 1)
            return this.raw.memberships.find({ _id: membershipId(roomIds[0]!, userId) }).toArray();
          const wanted = new Set(roomIds);
          const all = await this.raw.memberships.find({ userId }).toArray();
          return all.filter((membership) => wanted.has(membership.roomId));
        },
        moveReadPosition: async (roomId, userId, seq) => {
          const moved = await this.raw.memberships.updateOne(
            {
              _id: membershipId(roomId, userId),
              $or: [{ lastReadSeq: { $exists: false } }, { lastReadSeq: { $lt: seq } }],
            },
            { $set: { lastReadSeq: seq } },
          );
          return moved.modifiedCount === 1;
        },
        countUnread: (roomId, userId, afterSeq, mentioning) =>
          this.raw.messages.countDocuments({
            roomId,
            seq: { $gt: afterSeq },
            deletedAt: { $exists: false },
            senderId: { $ne: userId },
            ...(mentioning ? { mentions: userId } : {}),
          }),
      },
      this.revisions,
      (roomIds) => this.lastSeqs(roomIds),
    );
  }

  private readonly reactionsFor = (messageIds: readonly string[]) =>
    this.findIn(this.raw.reactions, 'messageId', messageIds);

  /** Connects, creates the collections and their indexes if missing, and returns the store. */
  static async open(url: string, logger: Logger): Promise<MongoChatStore> {
    const connection = await connectMongo(url, { appName: 'chat-service', logger });
    try {
      const { findIn, countIn } = await manyValueQueriesFor(connection);
      const store = new MongoChatStore(connection, findIn, countIn);
      const models = [store.rooms, store.memberships, store.messages, store.revisionLog, store.reactions];
      for (const model of models) await model.createCollection();
      // Names are unique among public rooms only (issue 9): private rooms keep no `nameLower`.
      await store.raw.rooms.updateMany(PRIVATE_NAMES_TO_DROP, { $unset: { nameLower: '' } });
      await store.migrateLegacyDedupeKeys();
      for (const model of models) await model.createIndexes();
      await store.raw.memberships.createIndex({ roomId: 1, joinedAt: 1, userId: 1 });
      await store.raw.blocks.createIndex({ userId: 1, createdAt: 1 });
      await store.raw.announcements.createIndex({ createdAt: -1, _id: -1 });
      return store;
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  async createRoom(room: NewRoom): Promise<Room> {
    const document = roomDocumentOf(room);
    try {
      await this.raw.rooms.insertOne(document);
    } catch (error) {
      // The only unique key a new room with a fresh id can break is its name.
      if (duplicateKeyField(error) !== undefined) throw roomNameTaken();
      throw error;
    }
    await this.raw.memberships.insertOne({
      _id: membershipId(room.id, room.createdBy),
      roomId: room.id,
      userId: room.createdBy,
      role: 'owner',
      joinedAt: room.createdAt,
    });
    return toRoom(document, 1);
  }

  async findOrCreateDirectRoom(room: NewDirectRoom): Promise<{ room: Room; created: boolean }> {
    const existing = await this.rooms.findOne({ directKey: room.key }).lean<RoomDocument>();
    if (existing) return { room: (await this.withCounts([existing]))[0]!, created: false };
    const document = directRoomDocumentOf(room);
    try {
      await this.raw.rooms.insertOne(document);
      return { room: toRoom(document, 0), created: true };
    } catch (error) {
      if (duplicateKeyField(error) === undefined) throw error;
      // Someone else created the pair's room between our read and our insert.
      const winner = await this.rooms.findOne({ directKey: room.key }).lean<RoomDocument>();
      if (!winner) throw error;
      return { room: (await this.withCounts([winner]))[0]!, created: false };
    }
  }

  async getRoom(id: string): Promise<Room | undefined> {
    const document = await this.rooms.findById(id).lean<RoomDocument>();
    return document ? (await this.withCounts([document]))[0] : undefined;
  }

  async getRooms(ids: readonly string[]): Promise<Room[]> {
    return this.withCounts(await this.findIn(this.raw.rooms, '_id', ids));
  }

  async listPublicRooms(): Promise<Room[]> {
    return this.withCounts(
      await this.rooms.find({ kind: 'public' }).sort({ createdAt: 1, _id: 1 }).lean<RoomDocument[]>(),
    );
  }

  async publicRoomPage(query: PublicRoomQuery): Promise<Room[]> {
    return this.withCounts(
      await this.rooms
        .find(publicPageFilter(query))
        .sort({ nameLower: 1 })
        .limit(query.limit)
        .lean<RoomDocument[]>(),
    );
  }

  async addMember(membership: Membership): Promise<boolean> {
    try {
      await this.raw.memberships.insertOne({
        _id: membershipId(membership.roomId, membership.userId),
        ...membership,
      });
    } catch (error) {
      if (duplicateKeyField(error) !== undefined) return false;
      throw error;
    }
    return true;
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    const { deletedCount } = await this.memberships.deleteOne({ _id: membershipId(roomId, userId) });
    return deletedCount === 1;
  }

  async isMember(roomId: string, userId: string): Promise<boolean> {
    return (await this.memberships.exists({ _id: membershipId(roomId, userId) })) !== null;
  }

  async roomIdsOf(userId: string): Promise<string[]> {
    const documents = await this.memberships
      .find({ userId }, { roomId: 1 })
      .lean<Pick<MembershipDocument, 'roomId'>[]>();
    return documents.map((document) => document.roomId);
  }

  async roomCountOf(userId: string): Promise<number> {
    return this.memberships.countDocuments({ userId });
  }

  async roomIdsOfUsers(userIds: readonly string[]): Promise<Map<string, string[]>> {
    const documents = await this.findIn(this.raw.memberships, 'userId', userIds, MEMBER_PAIR);
    return groupMemberships(documents, 'userId');
  }

  async memberIdsOf(roomIds: readonly string[]): Promise<Map<string, string[]>> {
    const documents = await this.findIn(this.raw.memberships, 'roomId', roomIds, MEMBER_PAIR);
    return groupMemberships(documents, 'roomId');
  }

  appendMessage(message: NewMessage): Promise<{ message: Message; created: boolean }> {
    return this.appender.append(message);
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

  roomRev(roomId: string): Promise<number> {
    return this.head(roomId, 'lastRev', () => this.storedLast('revisions', roomId, 'rev'));
  }

  changedSince(
    roomId: string,
    query: { sinceRev: number; uptoSeq: number; limit: number },
  ): Promise<ChangedPage> {
    return this.changes.changedSince(roomId, query);
  }

  /** Read every time, from the room's head (other processes append too); `exact` reads the messages. */
  lastSeq(roomId: string, options?: { exact: boolean }): Promise<number> {
    const stored = () => this.storedLast('messages', roomId, 'seq');
    return options?.exact ? stored() : this.head(roomId, 'lastSeq', stored);
  }

  /** The heads of many rooms in one read (see {@link head} for rooms without one). */
  private async lastSeqs(roomIds: readonly string[]): Promise<Map<string, number>> {
    const rooms = await this.findIn(this.raw.rooms, '_id', roomIds, { projection: { lastSeq: 1 } });
    const heads = new Map(rooms.map((room) => [room._id, room.lastSeq]));
    const seqs = await Promise.all(
      roomIds.map(async (roomId) => {
        const head = heads.get(roomId);
        return [roomId, typeof head === 'number' ? head : await this.lastSeq(roomId)] as const;
      }),
    );
    return new Map(seqs);
  }

  /**
   * A field of the room's head; a room stored before heads were kept (or one that does not exist) reads the
   * stored value the slow way once and raises its head to it.
   */
  private async head(
    roomId: string,
    field: 'lastSeq' | 'lastRev',
    stored: () => Promise<number>,
  ): Promise<number> {
    const room = await this.raw.rooms.findOne({ _id: roomId }, { projection: { [field]: 1 } });
    const value = room?.[field];
    if (typeof value === 'number') return value;
    const last = await stored();
    if (room && last > 0) await this.raiseHead(roomId, { [field]: last });
    return last;
  }

  private async raiseHead(roomId: string, head: { lastSeq?: number; lastRev?: number }): Promise<void> {
    await this.raw.rooms.updateOne({ _id: roomId }, { $max: head });
  }

  /** The highest `seq` or `rev` stored for the room: a sorted query over its messages or revisions. */
  private async storedLast(
    collection: 'messages' | 'revisions',
    roomId: string,
    key: 'seq' | 'rev',
  ): Promise<number> {
    const [last] = await this.connection
      .collection(collection)
      .find({ roomId }, { projection: { [key]: 1 } })
      .sort({ [key]: -1 })
      .limit(1)
      .toArray();
    return (last?.[key] as number | undefined) ?? 0;
  }

  markRead(roomId: string, userId: string, seq: number): Promise<boolean> {
    return this.changes.markRead(roomId, userId, seq);
  }

  readStates(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadState>> {
    return this.changes.readStates(userId, roomIds);
  }

  async findMessage(id: string): Promise<Message | undefined> {
    const document = await this.raw.messages.findOne({ _id: id });
    return document ? (await withReactions([document], this.reactionsFor))[0] : undefined;
  }

  async listMessages(roomId: string, range: MessageRange): Promise<MessagePage> {
    const { filter, sort, take, ascending } = pageQuery(roomId, range);
    const documents = await this.raw.messages.find(filter).sort(sort).limit(take).toArray();
    return toPage(documents, range, ascending, this.reactionsFor);
  }

  /**
   * Messages stored before issue 9 carry `dedupeKey` (`<senderId>/<clientMsgId>`, unique across rooms):
   * each gets its per-room `clientMsgKey` instead, so a resend after the upgrade still finds it, and the old
   * unique index is dropped. Idempotent, so instances starting together may all run it; an instance of the
   * previous version still running meanwhile writes `dedupeKey` without its index, which the next start
   * migrates too.
   */
  private async migrateLegacyDedupeKeys(): Promise<void> {
    const messages = this.raw.messages;
    if (await messages.indexExists(LEGACY_DEDUPE_INDEX)) {
      try {
        await messages.dropIndex(LEGACY_DEDUPE_INDEX);
      } catch (error) {
        // Another instance dropped it first (IndexNotFound).
        if ((error as { code?: unknown }).code !== 27) throw error;
      }
    }
    for (;;) {
      const legacy = await messages
        .find({ dedupeKey: { $exists: true } }, { limit: MIGRATION_BATCH })
        .toArray();
      if (legacy.length === 0) return;
      const updates = legacy.map((document) => {
        const clientMsgKey = clientMsgKeyOfLegacy(document);
        return {
          filter: { _id: document._id },
          update:
            clientMsgKey === undefined
              ? { $unset: { dedupeKey: '' as const } }
              : { $set: { clientMsgKey }, $unset: { dedupeKey: '' as const } },
        };
      });
      try {
        await messages.bulkWrite(
          updates.map((updateOne) => ({ updateOne })),
          { ordered: false },
        );
      } catch (error) {
        if (duplicateKeyField(error) === undefined) throw error;
        // A new instance stored the same clientMsgId again while an old one ran (a rolling upgrade): the
        // newer message keeps the key, the older one just loses its legacy field.
        for (const { filter, update } of updates) {
          try {
            await messages.updateOne(filter, update);
          } catch (single) {
            if (duplicateKeyField(single) === undefined) throw single;
            await messages.updateOne(filter, { $unset: { dedupeKey: '' } });
          }
        }
      }
    }
  }

  /** The rooms with their member counts, counted from the memberships in one go (see `CountIn`). */
  private async withCounts(documents: RoomDocument[]): Promise<Room[]> {
    const roomIds = documents.map((document) => document._id);
    const counts = await this.countIn(this.raw.memberships, 'roomId', roomIds);
    return documents.map((document) => toRoom(document, counts.get(document._id) ?? 0));
  }

  ping(): Promise<boolean> {
    return mongoReachable(this.connection);
  }

  connected(): boolean {
    return mongoConnected(this.connection);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
