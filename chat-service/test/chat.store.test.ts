import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeEmbeddedCollections, connectMongo, createLogger, openEmbeddedCollection } from '@chat/shared';
import { describeWithInfra, uniqueMongoUrl } from '@chat/testing';
import { chatStoreContract } from './chat.store.contract';
import { EmbeddedChatStore } from '../src/store/chat.store.embedded';
import { MongoChatStore } from '../src/store/chat.store.mongo';
import type { ChatStore } from '../src/store/chat.store';

describe('EmbeddedChatStore', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'chat-store-'));
  let count = 0;
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  chatStoreContract(async () => {
    const dataDir = path.join(root, String(++count));
    return () => EmbeddedChatStore.open(dataDir);
  });

  it('keeps rooms and messages, and goes on counting, across a reopen of the same directory', async () => {
    const dataDir = path.join(root, 'reopen');
    const first = await EmbeddedChatStore.open(dataDir);
    const room = await first.createRoom({
      id: 'r1',
      name: 'Kept',
      kind: 'private',
      createdBy: 'u1',
      createdAt: new Date(),
    });
    await first.appendMessage({
      id: 'm1',
      roomId: 'r1',
      senderId: 'u1',
      senderUsername: 'u',
      text: 'a',
      createdAt: new Date(),
      mentions: ['u2'],
    });
    await first.close();
    const second = await EmbeddedChatStore.open(dataDir);
    expect(await second.getRoom('r1')).toEqual(room);
    const next = await second.appendMessage({
      id: 'm2',
      roomId: 'r1',
      senderId: 'u1',
      senderUsername: 'u',
      text: 'b',
      createdAt: new Date(),
      mentions: [],
    });
    expect(next.message.seq).toBe(2);
    // Unread counts are kept in memory: the message stored before the reopen is counted too.
    await second.addMember({
      roomId: 'r1',
      userId: 'u2',
      role: 'member',
      joinedAt: new Date(),
      lastReadSeq: 0,
    });
    expect((await second.readStates('u2', ['r1'])).get('r1')).toMatchObject({ unread: 2, mentions: 1 });
    await second.close();
  });

  it('counts the members of rooms stored before member counts were kept, once, when it opens', async () => {
    const dataDir = path.join(root, 'legacy');
    const rooms = await openEmbeddedCollection(dataDir, 'chat-rooms');
    const memberships = await openEmbeddedCollection(dataDir, 'chat-memberships');
    const createdAt = new Date();
    await rooms.insertAsync({
      _id: 'old',
      name: 'Old',
      nameLower: 'old',
      kind: 'public',
      createdBy: 'u1',
      createdAt,
    });
    for (const userId of ['u1', 'u2', 'u3'])
      await memberships.insertAsync({
        _id: `old/${userId}`,
        roomId: 'old',
        userId,
        role: 'member',
        joinedAt: createdAt,
      });
    const store = await EmbeddedChatStore.open(dataDir);
    expect((await store.getRoom('old'))?.memberCount).toBe(3);
    await store.addMember({
      roomId: 'old',
      userId: 'u4',
      role: 'member',
      joinedAt: createdAt,
      lastReadSeq: 0,
    });
    expect((await store.getRoom('old'))?.memberCount).toBe(4);
    await store.close();
  });
});

/**
 * Data written before issue 9: a private room holding a `nameLower` (names were unique across every room)
 * and messages holding `dedupeKey` (`<senderId>/<clientMsgId>`) under its unique index. After the store
 * opens on it: the private name squats nothing, an old message's resend is still recognised in its room,
 * and the same clientMsgId in another room is another message.
 */
async function expectLegacyDataMigrated(
  store: ChatStore,
  legacy: { privateName: string; roomId: string; messageId: string },
): Promise<void> {
  expect((await store.createRoom(legacyRoom(legacy.privateName.toUpperCase(), 'public'))).kind).toBe(
    'public',
  );
  const resent = await store.appendMessage(legacyMessage(legacy.roomId, { id: 'resent' }));
  expect(resent).toMatchObject({ created: false, message: { id: legacy.messageId, seq: 1 } });
  const elsewhere = await store.appendMessage(legacyMessage('another-room', { id: 'elsewhere' }));
  expect(elsewhere).toMatchObject({ created: true, message: { id: 'elsewhere', roomId: 'another-room' } });
  const next = await store.appendMessage(legacyMessage(legacy.roomId, { id: 'next', clientMsgId: 'c-2' }));
  expect(next).toMatchObject({ created: true, message: { seq: 2 } });
}

function legacyRoom(name: string, kind: 'public' | 'private') {
  return { id: `room-${name}-${kind}`, name, kind, createdBy: 'u1', createdAt: new Date() } as const;
}

function legacyMessage(roomId: string, overrides: { id: string; clientMsgId?: string }) {
  return {
    roomId,
    senderId: 'u1',
    senderUsername: 'u',
    text: 'hi',
    clientMsgId: 'c-1',
    createdAt: new Date(),
    mentions: [],
    ...overrides,
  };
}

/** The documents of {@link expectLegacyDataMigrated}, as the pre-issue-9 stores wrote them. */
const LEGACY_ROOM = {
  _id: 'legacy-room',
  name: 'Secret Plans',
  nameLower: 'secret plans',
  kind: 'private',
  createdBy: 'u1',
  createdAt: new Date(),
};
const LEGACY_MESSAGE = {
  _id: 'legacy-message',
  roomId: 'legacy-room',
  seq: 1,
  senderId: 'u1',
  senderUsername: 'u',
  text: 'hi',
  clientMsgId: 'c-1',
  dedupeKey: 'u1/c-1',
  createdAt: new Date(),
};
const LEGACY = { privateName: 'Secret Plans', roomId: 'legacy-room', messageId: 'legacy-message' };

describe('EmbeddedChatStore on data written before issue 9', () => {
  it('drops private room names from uniqueness and moves clientMsgId dedupe to per room, keeping old resends recognised', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'chat-store-legacy-'));
    try {
      const rooms = await openEmbeddedCollection(dataDir, 'chat-rooms');
      await rooms.ensureIndexAsync({ fieldName: 'nameLower', unique: true, sparse: true });
      await rooms.insertAsync({ ...LEGACY_ROOM, memberCount: 1 });
      const messages = await openEmbeddedCollection(dataDir, 'chat-messages');
      await messages.ensureIndexAsync({ fieldName: 'dedupeKey', unique: true, sparse: true });
      await messages.insertAsync(LEGACY_MESSAGE);
      await closeEmbeddedCollections([rooms, messages] as never[]);

      const store = await EmbeddedChatStore.open(dataDir);
      await expectLegacyDataMigrated(store, LEGACY);
      await store.close();
      // Once migrated, it stays so across a reopen (NeDB keeps index definitions in its files).
      const reopened = await EmbeddedChatStore.open(dataDir);
      const again = await reopened.appendMessage(legacyMessage('third-room', { id: 'third' }));
      expect(again.created).toBe(true);
      await reopened.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describeWithInfra(['mongo'], 'MongoChatStore on data written before issue 9', () => {
  it('drops private room names from uniqueness and moves clientMsgId dedupe to per room, keeping old resends recognised', async () => {
    const url = uniqueMongoUrl();
    const logger = createLogger('chat-store-test', 'error');
    const connection = await connectMongo(url, { appName: 'legacy-writer', logger });
    await connection.collection('rooms').createIndex({ nameLower: 1 }, { unique: true, sparse: true });
    await connection.collection('rooms').insertOne(LEGACY_ROOM as never);
    await connection
      .collection('messages')
      .createIndex({ dedupeKey: 1 }, { unique: true, sparse: true, name: 'dedupeKey_1' });
    await connection.collection('messages').insertOne(LEGACY_MESSAGE as never);
    await connection.close();

    const store = await MongoChatStore.open(url, logger);
    try {
      await expectLegacyDataMigrated(store, LEGACY);
    } finally {
      await store.close();
    }
    const second = await MongoChatStore.open(url, logger);
    await second.close();
  });
});

// FerretDB 1.24 differs from MongoDB here: it accepts `sparse` but ignores it (documents without the field
// never collide on a unique index there anyway, so the sparse indexes on `nameLower`, `directKey` and
// `dedupeKey` behave the same); it has no partial indexes (`partialFilterExpression` is "not
// implemented"), so the one-message-per-clientMsgId rule uses a sparse unique index on a single
// `dedupeKey` field, which both servers honour; and its duplicate-key errors do not name the index, so
// the store tells a taken seq from a repeated clientMsgId by looking the key up. Its `$inc` is not atomic
// either (20 concurrent increments of one document leave 3 or 5), which is why member counts are
// counted from the memberships rather than kept in a counter ("counts concurrent joins exactly").
describeWithInfra(['mongo'], 'MongoChatStore', () => {
  const logger = createLogger('chat-store-test', 'error');
  chatStoreContract(async () => {
    const url = uniqueMongoUrl();
    return () => MongoChatStore.open(url, logger);
  });
});

describeWithInfra(['mongo'], 'MongoChatStore room heads', () => {
  const logger = createLogger('chat-store-test', 'error');
  const message = (id: string) => ({
    id,
    roomId: 'headed',
    senderId: 'u1',
    senderUsername: 'u',
    text: id,
    createdAt: new Date(),
    mentions: [],
  });

  it('reads the newest seq and revision of a room stored before heads were kept, and of one whose head lags', async () => {
    const url = uniqueMongoUrl();
    const store = await MongoChatStore.open(url, logger);
    const connection = await connectMongo(url, { appName: 'head-writer', logger });
    try {
      await store.createRoom({
        id: 'headed',
        name: 'Headed',
        kind: 'public',
        createdBy: 'u1',
        createdAt: new Date(),
      });
      for (const id of ['m1', 'm2', 'm3']) await store.appendMessage(message(id));
      expect(await store.lastSeq('headed')).toBe(3);
      expect(await store.roomRev('headed')).toBe(3);

      // Stored before heads: no head fields at all.
      await connection
        .collection('rooms')
        .updateOne({ _id: 'headed' as never }, { $unset: { lastSeq: '', lastRev: '' } });
      expect(await store.lastSeq('headed')).toBe(3);
      expect(await store.roomRev('headed')).toBe(3);
      expect(await connection.collection('rooms').findOne({ _id: 'headed' as never })).toMatchObject({
        lastSeq: 3,
        lastRev: 3,
      });

      // A writer died between its message and its head: the head lags, never runs ahead, and the next
      // message (another process's, which has no seq remembered) still takes the next seq.
      await connection
        .collection('rooms')
        .updateOne({ _id: 'headed' as never }, { $set: { lastSeq: 1, lastRev: 1 } });
      expect(await store.lastSeq('headed')).toBe(1);
      expect(await store.lastSeq('headed', { exact: true })).toBe(3);
      const other = await MongoChatStore.open(url, logger);
      try {
        expect((await other.appendMessage(message('m4'))).message.seq).toBe(4);
      } finally {
        await other.close();
      }
      expect(await store.lastSeq('headed')).toBe(4);
      expect(await store.roomRev('headed')).toBe(4);
    } finally {
      await connection.close();
      await store.close();
    }
  });
});
