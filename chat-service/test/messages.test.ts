import { describeWithInfra } from '@chat/testing';
import {
  createRoom,
  sleep,
  startChat,
  startChatPair,
  type ChatPair,
  type Json,
  type TestClient,
} from './support';

/**
 * Edits, deletions, replies, reactions, mentions and read state (issue 11; contract v1.1, "Messages" and
 * "Read state"), over real sockets on two chat instances sharing NATS and a MongoDB-protocol database.
 */
describeWithInfra(['nats', 'mongo'], 'message changes and read state on two instances', () => {
  let chats: ChatPair;

  beforeAll(async () => {
    chats = await startChatPair();
  });

  afterAll(() => chats?.stop());

  /** Ann and Bob in a public room Ann made on instance a, Bob joined on b. */
  async function room() {
    const ann = chats.users.add('ann');
    const bob = chats.users.add('bob');
    const created = await createRoom(chats.a, ann);
    const joined = await chats.b.call('POST', `/api/rooms/${created.id}/members`, { token: bob.token });
    expect(joined.status).toBe(200);
    return { ann, bob, roomId: created.id as string };
  }

  const updatesOf = (socket: TestClient, messageId: string) =>
    socket.events.filter((event: Json) => event.type === 'message.updated' && event.message.id === messageId);

  it('delivers each edit, reaction and deletion once to every socket of the room on both instances', async () => {
    const { ann, bob, roomId } = await room();
    const sockets = [await chats.a.connect(ann), await chats.b.connect(ann), await chats.b.connect(bob)];
    const [annOnA, , bobOnB] = sockets;
    const sent = await annOnA!.request({ type: 'send', roomId, text: 'first draft', clientMsgId: 'd1' });
    const id = sent.message.id as string;
    const edited = await annOnA!.request({ type: 'edit', roomId, messageId: id, text: 'final text' });
    expect(edited).toMatchObject({
      type: 'ack',
      message: { id, text: 'final text', rev: sent.message.rev + 1 },
    });
    const reacted = await bobOnB!.request({ type: 'react', roomId, messageId: id, emoji: '👍', on: true });
    expect(reacted.message.reactions).toEqual([{ emoji: '👍', count: 1, userIds: [bob.id] }]);
    const again = await bobOnB!.request({ type: 'react', roomId, messageId: id, emoji: '👍', on: true });
    expect(again.message.rev).toBe(reacted.message.rev);
    const deleted = await annOnA!.request({ type: 'delete', roomId, messageId: id });
    expect(deleted.message).toMatchObject({ text: '', reactions: [], deletedAt: expect.any(String) });
    for (const socket of sockets) {
      await socket.waitFor((event) => event.type === 'message.updated' && event.message.deletedAt);
    }
    await sleep(150);
    for (const socket of sockets) {
      expect(updatesOf(socket, id).map((event: Json) => event.message.rev)).toEqual([
        edited.message.rev,
        reacted.message.rev,
        deleted.message.rev,
      ]);
    }
  });

  it('gives a client that was away every edit, deletion and reaction in joined.changed when it rejoins', async () => {
    const { ann, bob, roomId } = await room();
    const annOnA = await chats.a.connect(ann);
    const bobOnB = await chats.b.connect(bob);
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      ids.push(
        (await annOnA.request({ type: 'send', roomId, text: `m${n}`, clientMsgId: `m${n}` })).message.id,
      );
    }
    const seen = await bobOnB.request({ type: 'join', roomId });
    await bobOnB.waitForCount((event) => event.type === 'message', 3);
    bobOnB.terminate();

    await annOnA.request({ type: 'edit', roomId, messageId: ids[0], text: 'm1 (edited)' });
    await annOnA.request({ type: 'react', roomId, messageId: ids[1], emoji: '🎉', on: true });
    await annOnA.request({ type: 'delete', roomId, messageId: ids[2] });
    await annOnA.request({ type: 'send', roomId, text: 'm4', clientMsgId: 'm4' });

    const back = await chats.a.connect(bob);
    const joined = await back.request({ type: 'join', roomId, since: ids[2], sinceRev: seen.rev });
    expect(joined.missed.map((message: Json) => message.text)).toEqual(['m4']);
    expect(joined.changedHasMore).toBe(false);
    const changed = new Map(joined.changed.map((message: Json) => [message.id, message]));
    expect(changed.get(ids[0])).toMatchObject({ text: 'm1 (edited)', editedAt: expect.any(String) });
    expect(changed.get(ids[1])).toMatchObject({ reactions: [{ emoji: '🎉', count: 1, userIds: [ann.id] }] });
    expect(changed.get(ids[2])).toMatchObject({ text: '', deletedAt: expect.any(String) });
    expect(joined.rev).toBeGreaterThan(seen.rev);
    const nothingNew = await back.request({
      type: 'join',
      roomId,
      since: joined.missed[0].id,
      sinceRev: joined.rev,
    });
    expect(nothingNew.changed).toEqual([]);
  });

  it('lets only the sender edit, the sender or an admin delete, and members react', async () => {
    const { ann, bob, roomId } = await room();
    const admin = chats.users.add('admin', { role: 'admin' });
    const stranger = chats.users.add('stranger');
    const annOnA = await chats.a.connect(ann);
    const bobOnB = await chats.b.connect(bob);
    const id = (await annOnA.request({ type: 'send', roomId, text: 'mine', clientMsgId: 'p1' })).message.id;
    expect(await bobOnB.request({ type: 'edit', roomId, messageId: id, text: 'his' })).toMatchObject({
      type: 'error',
      code: 'FORBIDDEN',
    });
    expect(await bobOnB.request({ type: 'delete', roomId, messageId: id })).toMatchObject({
      code: 'FORBIDDEN',
    });
    const strangerSocket = await chats.b.connect(stranger);
    expect(
      await strangerSocket.request({ type: 'react', roomId, messageId: id, emoji: '👎', on: true }),
    ).toMatchObject({ code: 'FORBIDDEN' });
    expect(await bobOnB.request({ type: 'edit', roomId, messageId: 'no-such-id', text: 'x' })).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(
      await bobOnB.request({ type: 'react', roomId, messageId: id, emoji: 'two words', on: true }),
    ).toMatchObject({ code: 'VALIDATION_FAILED' });
    // An admin who is a member may delete anyone's message; the deleted message takes no edit.
    await chats.a.call('POST', `/api/rooms/${roomId}/members`, { token: admin.token });
    const adminSocket = await chats.a.connect(admin);
    expect(await adminSocket.request({ type: 'delete', roomId, messageId: id })).toMatchObject({
      type: 'ack',
    });
    expect(await annOnA.request({ type: 'edit', roomId, messageId: id, text: 'back' })).toMatchObject({
      code: 'FORBIDDEN',
    });
  });

  it('mirrors edit, delete and reactions over REST with the same events', async () => {
    const { ann, bob, roomId } = await room();
    const bobOnB = await chats.b.connect(bob);
    const annOnA = await chats.a.connect(ann);
    const id = (await annOnA.request({ type: 'send', roomId, text: 'rest', clientMsgId: 'r1' })).message.id;
    const base = `/api/rooms/${roomId}/messages/${id}`;
    const edited = await chats.a.call('PATCH', base, { token: ann.token, body: { text: 'rest, edited' } });
    expect(edited).toMatchObject({ status: 200, body: { text: 'rest, edited' } });
    const emoji = encodeURIComponent('❤️');
    const put = await chats.b.call('PUT', `${base}/reactions/${emoji}`, { token: bob.token });
    expect(put.body.reactions).toEqual([{ emoji: '❤️', count: 1, userIds: [bob.id] }]);
    const removed = await chats.b.call('DELETE', `${base}/reactions/${emoji}`, { token: bob.token });
    expect(removed.body.reactions).toEqual([]);
    expect((await chats.b.call('DELETE', base, { token: bob.token })).status).toBe(403);
    expect((await chats.a.call('DELETE', base, { token: ann.token })).body.deletedAt).toEqual(
      expect.any(String),
    );
    await bobOnB.waitFor((event) => event.type === 'message.updated' && event.message.deletedAt);
    expect(updatesOf(bobOnB, id)).toHaveLength(4);
  });

  it('keeps a reply’s preview and resolves mentions to members only', async () => {
    const { ann, bob, roomId } = await room();
    const outsider = chats.users.add('outsider');
    const annOnA = await chats.a.connect(ann);
    const question = await annOnA.request({ type: 'send', roomId, text: 'who is here?', clientMsgId: 'q' });
    const bobOnB = await chats.b.connect(bob);
    const answer = await bobOnB.request({
      type: 'send',
      roomId,
      text: `@${ann.username.toUpperCase()} me, not @${outsider.username}, and not ${bob.username}@mail`,
      clientMsgId: 'a',
      replyTo: question.message.id,
    });
    expect(answer.message.replyTo).toEqual({
      id: question.message.id,
      seq: question.message.seq,
      sender: { id: ann.id, username: ann.username },
      text: 'who is here?',
    });
    expect(answer.message.mentions).toEqual([ann.id]);
    const other = await createRoom(chats.a, ann);
    const elsewhere = await annOnA.request({ type: 'send', roomId: other.id, text: 'x', clientMsgId: 'x' });
    expect(
      await bobOnB.request({
        type: 'send',
        roomId,
        text: 'bad',
        clientMsgId: 'b',
        replyTo: elsewhere.message.id,
      }),
    ).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'replyTo' }] });
  });

  it('counts unread messages and mentions per room for every device, and moves the read position on all of them', async () => {
    const { ann, bob, roomId } = await room();
    const annOnA = await chats.a.connect(ann);
    for (const text of ['one', `two @${bob.username}`, 'three']) {
      await annOnA.request({ type: 'send', roomId, text, clientMsgId: text });
    }
    const rooms = await chats.b.call('GET', '/api/rooms', { token: bob.token });
    expect(rooms.body.items.find((item: Json) => item.id === roomId)).toMatchObject({
      lastSeq: 3,
      lastReadSeq: 0,
      unread: 3,
      mentions: 1,
    });
    const phone = await chats.a.connect(bob);
    const laptop = await chats.b.connect(bob);
    expect(laptop.of('hello')[0].rooms.find((item: Json) => item.id === roomId)).toMatchObject({ unread: 3 });
    const read = await phone.request({ type: 'read', roomId, seq: 2 });
    expect(read).toMatchObject({ type: 'read', roomId, userId: bob.id, seq: 2 });
    expect(await laptop.waitFor((event) => event.type === 'read')).toMatchObject({ roomId, seq: 2 });
    expect(await phone.request({ type: 'read', roomId, seq: 1 })).toMatchObject({ seq: 2 });
    expect(await phone.request({ type: 'read', roomId, seq: 99 })).toMatchObject({ seq: 3 });
    // The other member of a public room does not hear of it.
    await sleep(100);
    expect(annOnA.of('read')).toEqual([]);
    const after = await chats.a.call('GET', '/api/rooms', { token: bob.token });
    expect(after.body.items.find((item: Json) => item.id === roomId)).toMatchObject({
      lastReadSeq: 3,
      unread: 0,
      mentions: 0,
    });
  });

  it('shows a direct room’s read position to the other member', async () => {
    const ann = chats.users.add('ann');
    const bob = chats.users.add('bob');
    const direct = (await chats.a.call('POST', `/api/direct/${bob.id}`, { token: ann.token })).body;
    const annOnA = await chats.a.connect(ann);
    const bobOnB = await chats.b.connect(bob);
    await annOnA.request({ type: 'send', roomId: direct.id, text: 'hi', clientMsgId: 'h' });
    await bobOnB.request({ type: 'read', roomId: direct.id, seq: 1 });
    expect(await annOnA.waitFor((event) => event.type === 'read')).toMatchObject({
      roomId: direct.id,
      userId: bob.id,
      seq: 1,
    });
  });
});

/** Read state survives a restart of the one-process store (the embedded files). */
describe('read state across a restart', () => {
  it('keeps unread counts and read positions when chat-service starts again on the same data', async () => {
    const first = await startChat();
    const ann = first.users.add('ann');
    const bob = first.users.add('bob');
    const created = await createRoom(first, ann);
    await first.call('POST', `/api/rooms/${created.id}/members`, { token: bob.token });
    const annSocket = await first.connect(ann);
    for (const n of [1, 2, 3]) {
      await annSocket.request({ type: 'send', roomId: created.id, text: `${n}`, clientMsgId: `${n}` });
    }
    const bobSocket = await first.connect(bob);
    await bobSocket.request({ type: 'read', roomId: created.id, seq: 1 });
    const restarted = await first.restart();
    try {
      const rooms = await restarted.call('GET', '/api/rooms', { token: bob.token });
      expect(rooms.body.items.find((item: Json) => item.id === created.id)).toMatchObject({
        lastSeq: 3,
        lastReadSeq: 1,
        unread: 2,
      });
    } finally {
      await restarted.stop();
    }
  });
});
