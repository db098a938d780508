import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, openEmbeddedCollection } from '@chat/shared';
import { describeWithInfra, uniqueMongoUrl } from '@chat/testing';
import { chatStoreContract } from './chat.store.contract';
import { EmbeddedChatStore } from '../src/store/chat.store.embedded';
import { MongoChatStore } from '../src/store/chat.store.mongo';

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
    });
    expect(next.message.seq).toBe(2);
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
    await store.addMember({ roomId: 'old', userId: 'u4', role: 'member', joinedAt: createdAt });
    expect((await store.getRoom('old'))?.memberCount).toBe(4);
    await store.close();
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
