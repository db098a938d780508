import { describeWithInfra } from '@chat/testing';
import { createRoom, sleep, startChatPair, type ChatPair, type Json, type TestUser } from './support';

/**
 * Rooms and people (issue 13; contract v1.1, "Rooms and people") over real sockets on two chat instances
 * sharing NATS and a MongoDB-protocol database: every permission rule, removal across instances, bans,
 * blocks, announcements and what a deleted user leaves.
 */
describeWithInfra(['nats', 'mongo'], 'rooms and people on two instances', () => {
  let chats: ChatPair;

  beforeAll(async () => {
    chats = await startChatPair();
  });

  afterAll(() => chats?.stop());

  const call = (user: TestUser, method: string, path: string, body?: unknown) =>
    chats.a.call(method, path, { token: user.token, ...(body === undefined ? {} : { body }) });

  /** An owner's public room with a moderator and a member in it. */
  async function staffedRoom() {
    const owner = chats.users.add('owner');
    const moderator = chats.users.add('moderator');
    const member = chats.users.add('member');
    const room = await createRoom(chats.a, owner);
    for (const user of [moderator, member]) {
      expect((await call(user, 'POST', `/api/rooms/${room.id}/members`)).status).toBe(200);
    }
    const promoted = await call(owner, 'PUT', `/api/rooms/${room.id}/members/${moderator.id}/role`, {
      role: 'moderator',
    });
    expect(promoted).toMatchObject({ status: 200, body: { role: 'moderator', user: { id: moderator.id } } });
    return { owner, moderator, member, roomId: room.id as string };
  }

  it('lists members with their roles, a page at a time, to members only', async () => {
    const { owner, moderator, member, roomId } = await staffedRoom();
    const first = await call(member, 'GET', `/api/rooms/${roomId}/members?limit=2`);
    expect(first.body.items.map((item: Json) => [item.user.id, item.role])).toEqual([
      [owner.id, 'owner'],
      [moderator.id, 'moderator'],
    ]);
    const rest = await call(
      member,
      'GET',
      `/api/rooms/${roomId}/members?limit=2&cursor=${first.body.nextCursor}`,
    );
    expect(rest.body).toMatchObject({
      items: [{ user: { id: member.id }, role: 'member' }],
      nextCursor: null,
    });
    const stranger = chats.users.add('stranger');
    expect((await call(stranger, 'GET', `/api/rooms/${roomId}/members`)).status).toBe(403);
    const rooms = await call(moderator, 'GET', '/api/rooms');
    expect(rooms.body.items.find((room: Json) => room.id === roomId)).toMatchObject({ myRole: 'moderator' });
  });

  it('lets the owner and moderators remove members (moderators: members only), never the owner', async () => {
    const { owner, moderator, member, roomId } = await staffedRoom();
    const other = chats.users.add('other');
    await call(other, 'POST', `/api/rooms/${roomId}/members`);
    expect((await call(member, 'DELETE', `/api/rooms/${roomId}/members/${other.id}`)).status).toBe(403);
    expect((await call(moderator, 'DELETE', `/api/rooms/${roomId}/members/${owner.id}`)).status).toBe(403);
    expect((await call(owner, 'DELETE', `/api/rooms/${roomId}/members/${owner.id}`)).status).toBe(403);
    const secondModerator = chats.users.add('moderator-2');
    await call(secondModerator, 'POST', `/api/rooms/${roomId}/members`);
    await call(owner, 'PUT', `/api/rooms/${roomId}/members/${secondModerator.id}/role`, {
      role: 'moderator',
    });
    expect(
      (await call(moderator, 'DELETE', `/api/rooms/${roomId}/members/${secondModerator.id}`)).status,
    ).toBe(403);
    expect((await call(moderator, 'DELETE', `/api/rooms/${roomId}/members/${other.id}`)).status).toBe(204);
    expect((await call(owner, 'DELETE', `/api/rooms/${roomId}/members/${secondModerator.id}`)).status).toBe(
      204,
    );
    expect(
      (await call(member, 'PUT', `/api/rooms/${roomId}/members/${member.id}/role`, { role: 'moderator' }))
        .status,
    ).toBe(403);
  });

  it('lets the owner and moderators delete anyone’s message in their room, and members only their own', async () => {
    const { owner, moderator, member, roomId } = await staffedRoom();
    const memberOnB = await chats.b.connect(member);
    const ownerOnA = await chats.a.connect(owner);
    const texts = ['one', 'two', 'three'];
    const ids: string[] = [];
    for (const text of texts) {
      ids.push((await ownerOnA.request({ type: 'send', roomId, text, clientMsgId: text })).message.id);
    }
    expect(await memberOnB.request({ type: 'delete', roomId, messageId: ids[0] })).toMatchObject({
      code: 'FORBIDDEN',
    });
    const byModerator = await call(moderator, 'DELETE', `/api/rooms/${roomId}/messages/${ids[0]}`);
    expect(byModerator.body.deletedAt).toEqual(expect.any(String));
    const mine = (await memberOnB.request({ type: 'send', roomId, text: 'mine', clientMsgId: 'mine' }))
      .message.id;
    expect(await ownerOnA.request({ type: 'delete', roomId, messageId: mine })).toMatchObject({
      type: 'ack',
    });
    expect(
      await memberOnB.waitFor((event) => event.type === 'message.updated' && event.message.id === mine),
    ).toMatchObject({
      message: { deletedAt: expect.any(String), text: '' },
    });
  });

  it('takes a removed member’s socket on the other instance out of the room within a second, and tells the others', async () => {
    const { owner, member, roomId } = await staffedRoom();
    const memberOnB = await chats.b.connect(member);
    const ownerOnA = await chats.a.connect(owner);
    const started = Date.now();
    expect((await call(owner, 'DELETE', `/api/rooms/${roomId}/members/${member.id}`)).status).toBe(204);
    expect(await memberOnB.waitFor((event) => event.type === 'room.removed', 1_000)).toEqual({
      type: 'room.removed',
      roomId,
    });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await ownerOnA.waitFor((event) => event.type === 'member.left')).toMatchObject({
      roomId,
      user: { id: member.id },
    });
    await ownerOnA.request({ type: 'send', roomId, text: 'after the removal', clientMsgId: 'after' });
    await sleep(200);
    expect(memberOnB.of('message')).toEqual([]);
    expect(
      await memberOnB.request({ type: 'send', roomId, text: 'still here?', clientMsgId: 'x' }),
    ).toMatchObject({
      code: 'FORBIDDEN',
    });
  });

  it('keeps a banned user out: no join, no invitation, until the ban is lifted', async () => {
    const { owner, moderator, member, roomId } = await staffedRoom();
    const memberOnB = await chats.b.connect(member);
    expect((await call(moderator, 'POST', `/api/rooms/${roomId}/bans`, { userId: member.id })).status).toBe(
      204,
    );
    await memberOnB.waitFor((event) => event.type === 'room.removed');
    expect((await call(member, 'POST', `/api/rooms/${roomId}/members`)).status).toBe(403);
    expect(await memberOnB.request({ type: 'join', roomId })).toMatchObject({ code: 'FORBIDDEN' });
    expect(
      (await call(owner, 'POST', `/api/rooms/${roomId}/invitations`, { userId: member.id })).status,
    ).toBe(403);
    expect((await call(member, 'DELETE', `/api/rooms/${roomId}/bans/${member.id}`)).status).toBe(403);
    expect((await call(owner, 'DELETE', `/api/rooms/${roomId}/bans/${member.id}`)).status).toBe(204);
    expect((await call(member, 'POST', `/api/rooms/${roomId}/members`)).status).toBe(200);
  });

  it('lets the owner or an admin rename a room, set its topic and delete it; members see it happen', async () => {
    const { owner, moderator, member, roomId } = await staffedRoom();
    const admin = chats.users.add('admin', { role: 'admin' });
    const memberOnB = await chats.b.connect(member);
    expect((await call(moderator, 'PATCH', `/api/rooms/${roomId}`, { name: 'mine now' })).status).toBe(403);
    const renamed = await call(owner, 'PATCH', `/api/rooms/${roomId}`, {
      name: 'Renamed',
      topic: 'plans for May',
    });
    expect(renamed.body).toMatchObject({ name: 'Renamed', topic: 'plans for May', myRole: 'owner' });
    expect(await memberOnB.waitFor((event) => event.type === 'room.updated')).toMatchObject({
      room: { id: roomId, name: 'Renamed', topic: 'plans for May' },
    });
    expect((await call(admin, 'PATCH', `/api/rooms/${roomId}`, { topic: null })).body.topic).toBeNull();
    expect((await call(member, 'DELETE', `/api/rooms/${roomId}`)).status).toBe(403);
    expect((await call(admin, 'DELETE', `/api/rooms/${roomId}`)).status).toBe(204);
    expect(await memberOnB.waitFor((event) => event.type === 'room.deleted')).toEqual({
      type: 'room.deleted',
      roomId,
    });
    expect((await call(owner, 'GET', `/api/rooms/${roomId}/messages`)).status).toBe(404);
  });

  it('enforces blocks: no invitation, no direct room, no sends in an old direct room, no typing either way', async () => {
    const ann = chats.users.add('ann');
    const bob = chats.users.add('bob');
    const direct = (await call(ann, 'POST', `/api/direct/${bob.id}`)).body;
    const shared = await createRoom(chats.a, ann, undefined, 'private');
    const bobOnB = await chats.b.connect(bob);
    const annOnA = await chats.a.connect(ann);
    expect((await call(bob, 'PUT', `/api/users/me/blocks/${ann.id}`)).status).toBe(204);
    expect((await call(bob, 'GET', '/api/users/me/blocks')).body.items).toEqual([
      { user: expect.objectContaining({ id: ann.id }), createdAt: expect.any(String) },
    ]);
    expect((await call(ann, 'POST', `/api/rooms/${shared.id}/invitations`, { userId: bob.id })).status).toBe(
      403,
    );
    expect((await call(ann, 'POST', `/api/direct/${bob.id}`)).status).toBe(403);
    expect(
      await annOnA.request({ type: 'send', roomId: direct.id, text: 'hello?', clientMsgId: 'blocked' }),
    ).toMatchObject({ code: 'FORBIDDEN' });
    annOnA.send({ type: 'typing', roomId: direct.id, active: true });
    await sleep(200);
    expect(bobOnB.of('typing')).toEqual([]);
    expect((await call(bob, 'DELETE', `/api/users/me/blocks/${ann.id}`)).status).toBe(204);
    expect(
      await annOnA.request({ type: 'send', roomId: direct.id, text: 'hi', clientMsgId: 'ok' }),
    ).toMatchObject({
      type: 'ack',
    });
  });

  it('sends an admin’s announcement to every socket on both instances, keeps it for hello, and refuses others', async () => {
    const admin = chats.users.add('admin', { role: 'admin' });
    const someone = chats.users.add('someone');
    const onA = await chats.a.connect(someone);
    const onB = await chats.b.connect(chats.users.add('elsewhere'));
    expect((await call(someone, 'POST', '/api/announcements', { text: 'not me' })).status).toBe(403);
    const made = await call(admin, 'POST', '/api/announcements', { text: 'Maintenance at noon' });
    expect(made).toMatchObject({
      status: 201,
      body: { text: 'Maintenance at noon', sender: { id: admin.id } },
    });
    for (const socket of [onA, onB]) {
      expect(await socket.waitFor((event) => event.type === 'announcement')).toEqual({
        type: 'announcement',
        announcement: made.body,
      });
    }
    await sleep(2_100);
    const later = await chats.b.connect(chats.users.add('later'));
    expect(later.of('hello')[0].announcements[0]).toEqual(made.body);
    const listed = await call(someone, 'GET', '/api/announcements?limit=1');
    expect(listed.body.items).toEqual([made.body]);
  });

  it('takes a deleted user out of every room, leaves their messages as from deleted-user, and keeps nothing else', async () => {
    const { owner, member, roomId } = await staffedRoom();
    const ownerOnA = await chats.a.connect(owner);
    const memberOnB = await chats.b.connect(member);
    const said = await memberOnB.request({
      type: 'send',
      roomId,
      text: `hi @${owner.username}`,
      clientMsgId: 'bye',
    });
    await ownerOnA.request({ type: 'react', roomId, messageId: said.message.id, emoji: '👋', on: true });
    await memberOnB.request({ type: 'react', roomId, messageId: said.message.id, emoji: '🙂', on: true });
    await call(member, 'PUT', `/api/users/me/blocks/${owner.id}`);
    await chats.users.delete(member);
    expect(await ownerOnA.waitFor((event) => event.type === 'member.left', 5_000)).toMatchObject({
      roomId,
      user: { id: member.id },
    });
    const rooms = await call(owner, 'GET', '/api/rooms');
    expect(rooms.body.items.find((room: Json) => room.id === roomId).memberCount).toBe(2);
    const history = await call(owner, 'GET', `/api/rooms/${roomId}/messages`);
    const kept = history.body.items.find((message: Json) => message.id === said.message.id);
    expect(kept).toMatchObject({ sender: { id: 'deleted-user', username: 'deleted-user' } });
    expect(kept.clientMsgId).toBeUndefined();
    expect(kept.reactions).toEqual([{ emoji: '👋', count: 1, userIds: [owner.id] }]);
    expect(JSON.stringify(history.body)).not.toContain(member.id);
  });
});
