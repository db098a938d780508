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
  toMessage,
  toPage,
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
  type RoomDocument,
  groupMemberships,
} from './chat.store';
import { MessageAppender } from './message-appender';

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
 * NeDB's indexes answer equality only: history sorts a room's messages in memory, fine at this scale.
 */
export class EmbeddedChatStore implements ChatStore {
  private readonly appender: MessageAppender;

  private constructor(
    private readonly rooms: Collection<StoredRoom>,
    private readonly memberships: Collection<MembershipDocument>,
    private readonly messages: Collection<MessageDocument>,
  ) {
    this.appender = new MessageAppender({
      lastSeq: async (roomId) => {
        const [last] = await this.messages.findAsync({ roomId }).sort({ seq: -1 }).limit(1);
        return last?.seq ?? 0;
      },
      insert: async (documents) => {
        try {
          // NeDB inserts an array all or nothing.
          await this.messages.insertAsync(documents as (MessageDocument & Record<string, unknown>)[]);
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
    });
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
    const store = new EmbeddedChatStore(rooms, memberships, messages);
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

  appendMessage(message: NewMessage): Promise<{ message: Message; created: boolean }> {
    return this.appender.append(message);
  }

  async findMessage(id: string): Promise<Message | undefined> {
    const document = await this.messages.findOneAsync({ _id: id });
    return document ? toMessage(document) : undefined;
  }

  async listMessages(roomId: string, range: MessageRange): Promise<MessagePage> {
    const { filter, sort, take, ascending } = pageQuery(roomId, range);
    const documents = await this.messages.findAsync(filter).sort(sort).limit(take);
    return toPage(documents, range, ascending);
  }

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
    await closeEmbeddedCollections([this.rooms, this.memberships, this.messages]);
  }
}
