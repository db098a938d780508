import { randomUUID } from 'node:crypto';
import type { AppError } from '@chat/shared';
import type { ChatStore, NewMessage, NewRoom } from '../src/store/chat.store';
import { directKeyOf } from '../src/store/chat.store';

/** Opens a store on one database; calling it again opens another store on the same database. */
export type StoreOpener = () => Promise<ChatStore>;

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as AppError).code ?? String(error);
  }
}

let clock = Date.UTC(2030, 0, 1);

function newRoom(name: string, overrides: Partial<NewRoom> = {}): NewRoom {
  clock += 1000;
  return {
    id: randomUUID(),
    name,
    kind: 'public',
    createdBy: 'owner-1',
    createdAt: new Date(clock),
    ...overrides,
  };
}

function newMessage(roomId: string, overrides: Partial<NewMessage> = {}): NewMessage {
  clock += 1000;
  return {
    id: randomUUID(),
    roomId,
    senderId: 'sender-1',
    senderUsername: 'sender',
    text: 'hello',
    createdAt: new Date(clock),
    mentions: [],
    ...overrides,
  };
}

/**
 * The behaviour every ChatStore adapter must have (keyv's storageTestSuite). `newDatabase` gives an opener
 * for a fresh, empty database per test; the suite opens a second store on it to act as a second process.
 */
export function chatStoreContract(newDatabase: () => Promise<StoreOpener>): void {
  let open: StoreOpener;
  let store: ChatStore;
  const extra: ChatStore[] = [];

  beforeEach(async () => {
    open = await newDatabase();
    store = await open();
  });

  afterEach(async () => {
    for (const other of extra.splice(0)) await other.close();
    await store.close();
  });

  async function secondStore(): Promise<ChatStore> {
    const other = await open();
    extra.push(other);
    return other;
  }

  it('is connected and answers a ping while open', async () => {
    expect(store.connected()).toBe(true);
    await expect(store.ping()).resolves.toBe(true);
  });

  describe('rooms', () => {
    it('creates a room with its owner as the first member and finds it again', async () => {
      const input = newRoom('General');
      const room = await store.createRoom(input);
      expect(room).toEqual({
        id: input.id,
        name: 'General',
        kind: 'public',
        memberCount: 1,
        createdBy: 'owner-1',
        createdAt: input.createdAt.toISOString(),
        topic: null,
      });
      expect(Object.getPrototypeOf(room)).toBe(Object.prototype);
      expect(await store.getRoom(input.id)).toEqual(room);
      expect(await store.isMember(input.id, 'owner-1')).toBe(true);
      expect(await store.roomIdsOf('owner-1')).toEqual([input.id]);
    });

    it('answers undefined for an unknown room', async () => {
      expect(await store.getRoom('no-such-room')).toBeUndefined();
    });

    it('refuses a public name taken by a public room in another case with ROOM_NAME_TAKEN', async () => {
      await store.createRoom(newRoom('Design'));
      expect(await codeOf(store.createRoom(newRoom('dESIGN')))).toBe('ROOM_NAME_TAKEN');
      expect((await store.listPublicRooms()).map((room) => room.name)).toEqual(['Design']);
    });

    it('keeps private names out of uniqueness: a private room never collides, so creating one reveals no other (issue 9)', async () => {
      await store.createRoom(newRoom('Design'));
      const first = await store.createRoom(newRoom('design', { kind: 'private', createdBy: 'a' }));
      const second = await store.createRoom(newRoom('DESIGN', { kind: 'private', createdBy: 'b' }));
      expect(first.id).not.toBe(second.id);
      // And a private name squats nothing: the public name is still free for whoever takes it first.
      await store.createRoom(newRoom('Roadmap', { kind: 'private' }));
      expect((await store.createRoom(newRoom('roadmap'))).name).toBe('roadmap');
    });

    it('pages the public directory by name in any case, with a name prefix and a keyset cursor', async () => {
      for (const name of ['beta', 'Alpha', 'alps', 'Gamma', 'al-secret'])
        await store.createRoom(newRoom(name, name === 'al-secret' ? { kind: 'private' } : {}));
      const names = async (query: Parameters<ChatStore['publicRoomPage']>[0]) =>
        (await store.publicRoomPage(query)).map((room) => room.name);
      expect(await names({ limit: 10 })).toEqual(['Alpha', 'alps', 'beta', 'Gamma']);
      expect(await names({ limit: 2 })).toEqual(['Alpha', 'alps']);
      expect(await names({ limit: 2, after: 'alps' })).toEqual(['beta', 'Gamma']);
      expect(await names({ limit: 10, prefix: 'al' })).toEqual(['Alpha', 'alps']);
      expect(await names({ limit: 10, prefix: 'al', after: 'alpha' })).toEqual(['alps']);
      expect(await names({ limit: 10, prefix: '.*' })).toEqual([]);
      const [alpha] = await store.publicRoomPage({ limit: 1 });
      expect(alpha).toMatchObject({ kind: 'public', memberCount: 1 });
    });

    it('lists public rooms only, oldest first, and fetches rooms by id', async () => {
      const first = await store.createRoom(newRoom('one'));
      const hidden = await store.createRoom(newRoom('two', { kind: 'private' }));
      const third = await store.createRoom(newRoom('three'));
      expect((await store.listPublicRooms()).map((room) => room.id)).toEqual([first.id, third.id]);
      const fetched = await store.getRooms([hidden.id, third.id, 'missing']);
      expect(fetched.map((room) => room.id).sort()).toEqual([hidden.id, third.id].sort());
      expect(await store.getRooms([])).toEqual([]);
    });
  });

  describe('direct rooms', () => {
    const direct = (a: string, b: string) => ({
      id: randomUUID(),
      key: directKeyOf(a, b),
      name: `${a}, ${b}`,
      createdBy: a,
      createdAt: new Date(),
    });

    it('creates the pair room once and finds the same room from either side', async () => {
      const first = await store.findOrCreateDirectRoom(direct('ann', 'bob'));
      expect(first.created).toBe(true);
      expect(first.room).toMatchObject({ kind: 'direct', memberCount: 0, createdBy: 'ann' });
      const again = await store.findOrCreateDirectRoom(direct('bob', 'ann'));
      expect(again).toEqual({ room: first.room, created: false });
      const other = await store.findOrCreateDirectRoom(direct('ann', 'cid'));
      expect(other.room.id).not.toBe(first.room.id);
    });

    it('gives concurrent callers in two processes one room', async () => {
      const other = await secondStore();
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? other : store).findOrCreateDirectRoom(direct('dee', 'eve')),
        ),
      );
      expect(new Set(results.map((result) => result.room.id)).size).toBe(1);
      expect(results.filter((result) => result.created)).toHaveLength(1);
    });

    it('keeps direct rooms out of the public list and out of the room names', async () => {
      await store.findOrCreateDirectRoom(direct('fay', 'gus'));
      await store.findOrCreateDirectRoom(direct('fay', 'hal'));
      expect(await store.listPublicRooms()).toEqual([]);
      expect((await store.createRoom(newRoom('fay, gus'))).name).toBe('fay, gus');
    });
  });

  describe('memberships', () => {
    it('adds a member once, counts members, and removes them once', async () => {
      const room = await store.createRoom(newRoom('club'));
      const join = {
        roomId: room.id,
        userId: 'u2',
        role: 'member' as const,
        joinedAt: new Date(),
        lastReadSeq: 0,
      };
      expect(await store.addMember(join)).toBe(true);
      expect(await store.addMember(join)).toBe(false);
      expect((await store.getRoom(room.id))?.memberCount).toBe(2);
      expect(await store.isMember(room.id, 'u2')).toBe(true);
      expect(await store.removeMember(room.id, 'u2')).toBe(true);
      expect(await store.removeMember(room.id, 'u2')).toBe(false);
      expect(await store.isMember(room.id, 'u2')).toBe(false);
      expect((await store.getRoom(room.id))?.memberCount).toBe(1);
    });

    it('counts concurrent joins exactly', async () => {
      const room = await store.createRoom(newRoom('crowd'));
      const other = await secondStore();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? other : store).addMember({
            roomId: room.id,
            userId: `u${i % 10}`,
            role: 'member',
            joinedAt: new Date(),
            lastReadSeq: 0,
          }),
        ),
      );
      expect((await store.getRoom(room.id))?.memberCount).toBe(11);
    });

    it('lists the members of given rooms, leaving out rooms without any', async () => {
      const first = await store.createRoom(newRoom('first'));
      const second = await store.createRoom(newRoom('second'));
      await store.addMember({
        roomId: first.id,
        userId: 'u2',
        role: 'member',
        joinedAt: new Date(),
        lastReadSeq: 0,
      });
      const members = await store.memberIdsOf([first.id, second.id, 'nowhere']);
      expect([...members.keys()].sort()).toEqual([first.id, second.id].sort());
      expect(members.get(first.id)?.sort()).toEqual([first.createdBy, 'u2'].sort());
      expect(members.get(second.id)).toEqual([second.createdBy]);
      expect(await store.memberIdsOf([])).toEqual(new Map());
    });

    it('answers the rooms of users', async () => {
      const a = await store.createRoom(newRoom('a', { createdBy: 'x' }));
      const b = await store.createRoom(newRoom('b', { createdBy: 'y' }));
      await store.addMember({
        roomId: b.id,
        userId: 'x',
        role: 'member',
        joinedAt: new Date(),
        lastReadSeq: 0,
      });
      const byUser = await store.roomIdsOfUsers(['x', 'y', 'z']);
      expect(byUser.get('x')?.sort()).toEqual([a.id, b.id].sort());
      expect(byUser.get('y')).toEqual([b.id]);
      expect(byUser.has('z')).toBe(false);
      expect(await store.roomCountOf('x')).toBe(2);
      expect(await store.roomCountOf('y')).toBe(1);
      expect(await store.roomCountOf('z')).toBe(0);
    });
  });

  describe('messages', () => {
    it('numbers a room from 1 by one, each room on its own', async () => {
      const first = await store.appendMessage(newMessage('room-a', { text: 'one' }));
      const second = await store.appendMessage(newMessage('room-a', { text: 'two' }));
      const elsewhere = await store.appendMessage(newMessage('room-b'));
      expect(first.created).toBe(true);
      expect(first.message).toMatchObject({
        roomId: 'room-a',
        seq: 1,
        text: 'one',
        sender: { id: 'sender-1', username: 'sender' },
      });
      expect(second.message.seq).toBe(2);
      expect(elsewhere.message.seq).toBe(1);
      expect(await store.findMessage(second.message.id)).toEqual(second.message);
      expect(first.message).not.toHaveProperty('clientMsgId');
    });

    it('deduplicates a clientMsgId per sender and room: the same id in another room is another message (issue 9)', async () => {
      const first = await store.appendMessage(newMessage('room-x', { clientMsgId: 'c-1', text: 'in x' }));
      const elsewhere = await store.appendMessage(newMessage('room-y', { clientMsgId: 'c-1', text: 'in y' }));
      expect(elsewhere.created).toBe(true);
      expect(elsewhere.message).toMatchObject({ roomId: 'room-y', seq: 1, text: 'in y', clientMsgId: 'c-1' });
      const again = await store.appendMessage(newMessage('room-y', { clientMsgId: 'c-1', text: 'retried' }));
      expect(again).toEqual({ message: elsewhere.message, created: false });
      expect(await store.findMessage(first.message.id)).toEqual(first.message);
      expect((await store.listMessages('room-y', { limit: 10 })).items).toEqual([elsewhere.message]);
    });

    it('returns the first message for a repeated clientMsgId of one sender, without using a seq', async () => {
      const first = await store.appendMessage(newMessage('room-c', { clientMsgId: 'c-1', text: 'first' }));
      const retry = await store.appendMessage(newMessage('room-c', { clientMsgId: 'c-1', text: 'retried' }));
      expect(retry).toEqual({ message: first.message, created: false });
      expect(first.message.clientMsgId).toBe('c-1');
      const otherSender = await store.appendMessage(
        newMessage('room-c', { clientMsgId: 'c-1', senderId: 'sender-2' }),
      );
      expect(otherSender).toMatchObject({ created: true, message: { seq: 2 } });
      expect((await store.appendMessage(newMessage('room-c'))).message.seq).toBe(3);
    });

    it('assigns seqs without gaps or repeats to concurrent writers in two processes', async () => {
      const other = await secondStore();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 ? other : store).appendMessage(
            newMessage('busy', { clientMsgId: `m-${i}`, text: `m ${i}` }),
          ),
        ),
      );
      expect(results.every((result) => result.created)).toBe(true);
      expect(results.map((result) => result.message.seq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      const page = await store.listMessages('busy', { limit: 200 });
      expect(page.items.map((message) => message.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('numbers a burst in the order it was sent, storing a clientMsgId repeated within it once', async () => {
      const burst = Array.from({ length: 30 }, (_, i) =>
        store.appendMessage(newMessage('burst', { text: `b${i}`, clientMsgId: i === 20 ? 'c-5' : `c-${i}` })),
      );
      const results = await Promise.all(burst);
      expect(results[20]).toEqual({ message: results[5]!.message, created: false });
      const created = results.filter((result) => result.created);
      expect(created.map((result) => result.message.text)).toEqual(
        Array.from({ length: 30 }, (_, i) => `b${i}`).filter((_, i) => i !== 20),
      );
      expect(created.map((result) => result.message.seq)).toEqual(
        Array.from({ length: 29 }, (_, i) => i + 1),
      );
    });

    it('stores one message for a clientMsgId retried concurrently from two processes', async () => {
      const other = await secondStore();
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? other : store).appendMessage(newMessage('retry', { clientMsgId: 'same' })),
        ),
      );
      expect(new Set(results.map((result) => result.message.id)).size).toBe(1);
      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect((await store.listMessages('retry', { limit: 10 })).items).toHaveLength(1);
    });

    describe('history pages', () => {
      const seqs = (page: { items: { seq: number }[] }) => page.items.map((message) => message.seq);

      beforeEach(async () => {
        for (let i = 0; i < 7; i++) await store.appendMessage(newMessage('hist', { text: `m${i + 1}` }));
        await store.appendMessage(newMessage('noise'));
      });

      it('gives the latest messages oldest first, with hasMore when older ones exist', async () => {
        const page = await store.listMessages('hist', { limit: 3 });
        expect(seqs(page)).toEqual([5, 6, 7]);
        expect(page.hasMore).toBe(true);
        expect(page.items[0]?.text).toBe('m5');
        const all = await store.listMessages('hist', { limit: 7 });
        expect(seqs(all)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(all.hasMore).toBe(false);
      });

      it('pages backwards before a seq and forwards after one', async () => {
        const before = await store.listMessages('hist', { beforeSeq: 5, limit: 3 });
        expect(seqs(before)).toEqual([2, 3, 4]);
        expect(before.hasMore).toBe(true);
        const oldest = await store.listMessages('hist', { beforeSeq: 2, limit: 3 });
        expect(seqs(oldest)).toEqual([1]);
        expect(oldest.hasMore).toBe(false);
        const after = await store.listMessages('hist', { afterSeq: 2, limit: 3 });
        expect(seqs(after)).toEqual([3, 4, 5]);
        expect(after.hasMore).toBe(true);
        const newest = await store.listMessages('hist', { afterSeq: 5, limit: 3 });
        expect(seqs(newest)).toEqual([6, 7]);
        expect(newest.hasMore).toBe(false);
        const range = await store.listMessages('hist', { afterSeq: 1, beforeSeq: 5, limit: 10 });
        expect(seqs(range)).toEqual([2, 3, 4]);
      });

      it('answers an empty page for a room without messages', async () => {
        expect(await store.listMessages('empty', { limit: 5 })).toEqual({ items: [], hasMore: false });
      });
    });
  });

  describe('changes and read state (issue 11)', () => {
    const at = () => new Date(clock);

    it('gives every change in a room the next revision: new messages, edits, reactions and deletions', async () => {
      const first = (await store.appendMessage(newMessage('rev', { text: 'one' }))).message;
      const second = (await store.appendMessage(newMessage('rev', { text: 'two' }))).message;
      expect([first.rev, second.rev]).toEqual([1, 2]);
      const edited = await store.changeMessage(first.id, {
        kind: 'edit',
        text: 'one, edited',
        mentions: ['u9'],
        at: at(),
      });
      expect(edited?.changed).toBe(true);
      expect(edited?.message).toMatchObject({ text: 'one, edited', rev: 3, mentions: ['u9'], seq: 1 });
      expect(edited?.message.editedAt).toEqual(expect.any(String));
      const react = (userId: string, emoji: string, on: boolean) =>
        store.changeMessage(second.id, { kind: 'react', userId, emoji, on, at: at() });
      expect((await react('u1', '👍', true))?.message).toMatchObject({
        rev: 4,
        reactions: [{ emoji: '👍', count: 1, userIds: ['u1'] }],
      });
      expect(await react('u1', '👍', true)).toMatchObject({ changed: false, message: { rev: 4 } });
      await react('u2', '👍', true);
      await react('u2', '🎉', true);
      expect((await store.findMessage(second.id))?.reactions).toEqual([
        { emoji: '👍', count: 2, userIds: ['u1', 'u2'] },
        { emoji: '🎉', count: 1, userIds: ['u2'] },
      ]);
      expect(await store.reactionCountOf(second.id, 'u2')).toBe(2);
      expect(await react('u3', '👍', false)).toMatchObject({ changed: false });
      const deleted = await store.changeMessage(second.id, { kind: 'delete', at: at() });
      expect(deleted?.message).toMatchObject({ text: '', rev: 7, reactions: [], mentions: [] });
      expect(deleted?.message.deletedAt).toEqual(expect.any(String));
      expect(await store.reactionCountOf(second.id, 'u2')).toBe(0);
      expect(await store.roomRev('rev')).toBe(7);
      expect(await store.roomRev('no-such-room')).toBe(0);
      expect(await store.changeMessage('no-such-message', { kind: 'delete', at: at() })).toBeUndefined();
    });

    it('keeps a reply’s preview of the message it answers', async () => {
      const original = (await store.appendMessage(newMessage('reply', { text: 'question' }))).message;
      const replyTo = {
        id: original.id,
        seq: original.seq,
        senderId: 'sender-1',
        senderUsername: 'sender',
        text: 'question',
      };
      const reply = (await store.appendMessage(newMessage('reply', { text: 'answer', replyTo }))).message;
      expect(reply.replyTo).toEqual({
        id: original.id,
        seq: 1,
        sender: { id: 'sender-1', username: 'sender' },
        text: 'question',
      });
      expect((await store.listMessages('reply', { limit: 5 })).items[1]?.replyTo?.id).toBe(original.id);
    });

    it('answers the messages up to a seq changed after a revision, in their current state', async () => {
      const messages = [];
      for (let n = 1; n <= 4; n++) messages.push((await store.appendMessage(newMessage('since'))).message);
      await store.changeMessage(messages[0]!.id, {
        kind: 'edit',
        text: 'early edit',
        mentions: [],
        at: at(),
      });
      const sinceRev = await store.roomRev('since');
      await store.changeMessage(messages[1]!.id, {
        kind: 'edit',
        text: 'later edit',
        mentions: [],
        at: at(),
      });
      await store.changeMessage(messages[1]!.id, {
        kind: 'react',
        userId: 'u1',
        emoji: '👀',
        on: true,
        at: at(),
      });
      await store.changeMessage(messages[3]!.id, { kind: 'delete', at: at() });
      await store.appendMessage(newMessage('since'));
      const changed = await store.changedSince('since', { sinceRev, uptoSeq: 3, limit: 10 });
      expect(changed.hasMore).toBe(false);
      expect(changed.items).toEqual([
        expect.objectContaining({
          id: messages[1]!.id,
          text: 'later edit',
          rev: sinceRev + 2,
          reactions: [{ emoji: '👀', count: 1, userIds: ['u1'] }],
        }),
      ]);
      const all = await store.changedSince('since', { sinceRev, uptoSeq: 4, limit: 1 });
      expect(all.items.map((message) => message.seq)).toEqual([2]);
      expect(all.hasMore).toBe(true);
    });

    it('takes revisions without gaps or repeats from two processes at once', async () => {
      const other = await secondStore();
      const seeds = await Promise.all(
        [store, other].map(async (each) => (await each.appendMessage(newMessage('race'))).message),
      );
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? other : store).changeMessage(seeds[i % 2]!.id, {
            kind: 'react',
            userId: `u${i}`,
            emoji: '🔥',
            on: true,
            at: at(),
          }),
        ),
      );
      expect(await store.roomRev('race')).toBe(22);
      const changed = await store.changedSince('race', { sinceRev: 0, uptoSeq: 2, limit: 10 });
      expect(changed.items.map((message) => message.reactions[0]?.count).sort()).toEqual([10, 10]);
      expect(Math.max(...changed.items.map((message) => message.rev))).toBe(22);
    });

    /** A room with `reader` as a member who has read nothing. */
    async function roomWithReader(name: string) {
      const room = await store.createRoom(newRoom(name));
      await store.addMember({
        roomId: room.id,
        userId: 'reader',
        role: 'member',
        joinedAt: at(),
        lastReadSeq: 0,
      });
      return room;
    }

    it('moves a read position forward only, and counts unread messages and mentions of others, deleted ones left out', async () => {
      const room = await roomWithReader('reading');
      const send = (senderId: string, mentions: string[] = []) =>
        store.appendMessage(newMessage(room.id, { senderId, mentions }));
      await send('other');
      await send('reader');
      await send('other', ['reader']);
      const gone = (await send('other', ['reader'])).message;
      await send('other');
      await store.changeMessage(gone.id, { kind: 'delete', at: at() });
      expect((await store.readStates('reader', [room.id, 'not-mine'])).get(room.id)).toEqual({
        myRole: 'member',
        lastSeq: 5,
        lastReadSeq: 0,
        unread: 3,
        mentions: 1,
      });
      expect(await store.markRead(room.id, 'reader', 3)).toBe(true);
      expect(await store.markRead(room.id, 'reader', 2)).toBe(false);
      expect(await store.markRead(room.id, 'reader', 3)).toBe(false);
      const states = await store.readStates('reader', [room.id, 'not-mine']);
      expect([...states.keys()]).toEqual([room.id]);
      expect(states.get(room.id)).toEqual({
        myRole: 'member',
        lastSeq: 5,
        lastReadSeq: 3,
        unread: 1,
        mentions: 0,
      });
      expect(await store.lastSeq(room.id)).toBe(5);
      expect(await store.lastSeq('empty-room')).toBe(0);
    });

    it('counts mentions as edits leave them, and a mention of oneself never', async () => {
      const room = await roomWithReader('mentions');
      const plain = (await store.appendMessage(newMessage(room.id, { senderId: 'other' }))).message;
      const named = (
        await store.appendMessage(newMessage(room.id, { senderId: 'other', mentions: ['reader'] }))
      ).message;
      await store.appendMessage(newMessage(room.id, { senderId: 'reader', mentions: ['reader'] }));
      const counts = async () => {
        const state = (await store.readStates('reader', [room.id])).get(room.id)!;
        return [state.unread, state.mentions];
      };
      expect(await counts()).toEqual([2, 1]);

      await store.changeMessage(plain.id, { kind: 'edit', text: '@reader', mentions: ['reader'], at: at() });
      expect(await counts()).toEqual([2, 2]);
      await store.changeMessage(named.id, { kind: 'edit', text: 'no one', mentions: [], at: at() });
      expect(await counts()).toEqual([2, 1]);
      await store.changeMessage(plain.id, { kind: 'delete', at: at() });
      expect(await counts()).toEqual([1, 0]);
    });
  });
}
