import { createRoom, refusal, startChat, type TestChat, type TestUser } from './support';

/** The contract's "Limits" on the socket: what one user may hold and send, across all their sockets. */
describe('per-user limits on the socket', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat({
      env: { WS_MAX_SOCKETS_PER_USER: '3', MESSAGES_PER_USER_PER_SECOND: '2', MESSAGES_PER_USER_BURST: '4' },
    });
  });

  afterAll(() => chat.stop());

  it('refuses a socket past WS_MAX_SOCKETS_PER_USER with 403 LIMIT_REACHED, and takes one again once a socket closes', async () => {
    const hoarder = chat.users.add('hoarder');
    const sockets = await Promise.all([1, 2, 3].map(() => chat.connect(hoarder)));
    const refused = await refusal(chat.wsUrl, { token: hoarder.token });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({
      code: 'LIMIT_REACHED',
      details: [{ limit: 'socketsPerUser', value: 3 }],
    });
    // Another user is not affected by the hoarder.
    const bystander = await chat.connect(chat.users.add('bystander'));
    expect(bystander.of('hello')).toHaveLength(1);
    sockets[0]!.ws.close();
    await sockets[0]!.closed;
    const again = await chat.connect(hoarder);
    expect(again.of('hello')).toHaveLength(1);
  });

  it('shares one message budget between all sockets of a user: sends past it get RATE_LIMITED, others keep theirs', async () => {
    const sender = chat.users.add('spreader');
    const other = chat.users.add('other-sender');
    const room = await createRoom(chat, sender);
    await chat.call('POST', `/api/rooms/${room.id}/members`, { token: other.token });
    const [first, second, third] = await Promise.all([1, 2, 3].map(() => chat.connect(sender)));
    const replies = await Promise.all(
      [first!, second!, third!].flatMap((client, index) =>
        [1, 2].map((n) =>
          client.request({
            type: 'send',
            roomId: room.id,
            text: `socket ${index} message ${n}`,
            clientMsgId: `${index}-${n}`,
          }),
        ),
      ),
    );
    const acked = replies.filter((reply) => reply.type === 'ack');
    const limited = replies.filter((reply) => reply.type === 'error');
    expect(acked).toHaveLength(4);
    expect(limited).toHaveLength(2);
    expect(limited.every((reply) => reply.code === 'RATE_LIMITED')).toBe(true);
    // The sockets stay open, and another user's budget is untouched.
    const otherSocket = await chat.connect(other);
    expect(
      await otherSocket.request({ type: 'send', roomId: room.id, text: 'mine', clientMsgId: 'o-1' }),
    ).toMatchObject({ type: 'ack' });
    expect(await first!.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });
});

/** The contract's "Limits" on rooms: how many a user belongs to, and how many invitations they send. */
describe('per-user limits on rooms and invitations', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat({ env: { ROOMS_PER_USER: '3', INVITATIONS_PER_MINUTE: '4' } });
  });

  afterAll(() => chat.stop());

  const roomsLimit = { code: 'LIMIT_REACHED', details: [{ limit: 'roomsPerUser', value: 3 }] };

  it('refuses creating, joining and opening a direct room past ROOMS_PER_USER with 403 LIMIT_REACHED, and takes one again after a leave', async () => {
    const collector = chat.users.add('collector');
    const host = chat.users.add('host');
    const peer = chat.users.add('peer');
    const rooms = [await createRoom(chat, collector), await createRoom(chat, collector)];
    const open = await createRoom(chat, host);
    expect(
      (await chat.call('POST', `/api/rooms/${open.id}/members`, { token: collector.token })).status,
    ).toBe(200);
    const create = await chat.call('POST', '/api/rooms', {
      token: collector.token,
      body: { name: 'one-too-many', kind: 'public' },
    });
    expect(create.status).toBe(403);
    expect(create.body.error).toMatchObject(roomsLimit);
    const another = await createRoom(chat, host);
    const join = await chat.call('POST', `/api/rooms/${another.id}/members`, { token: collector.token });
    expect(join.status).toBe(403);
    expect(join.body.error).toMatchObject(roomsLimit);
    const direct = await chat.call('POST', `/api/direct/${peer.id}`, { token: collector.token });
    expect(direct.status).toBe(403);
    expect(direct.body.error).toMatchObject(roomsLimit);
    // Confirming a membership it has is not a new room.
    expect(
      (await chat.call('POST', `/api/rooms/${open.id}/members`, { token: collector.token })).status,
    ).toBe(200);
    expect(
      (await chat.call('DELETE', `/api/rooms/${rooms[0].id}/members/me`, { token: collector.token })).status,
    ).toBe(204);
    expect(
      (await chat.call('POST', `/api/rooms/${another.id}/members`, { token: collector.token })).status,
    ).toBe(200);
  });

  it('an invitation cannot push someone past the cap (issue 9, finding 1): the inviter gets LIMIT_REACHED, the victim keeps a working socket', async () => {
    const attacker = chat.users.add('pusher');
    const victim = chat.users.add('pushed');
    const attempts = [];
    for (let n = 0; n < 4; n++) {
      const inviter = n < 2 ? attacker : chat.users.add(`pusher-${n}`);
      const room = await createRoom(chat, inviter, undefined, 'private');
      attempts.push(
        await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
          token: inviter.token,
          body: { userId: victim.id },
        }),
      );
    }
    expect(attempts.map((attempt) => attempt.status)).toEqual([201, 201, 201, 403]);
    expect(attempts[3]!.body.error).toMatchObject(roomsLimit);
    const socket = await chat.connect(victim);
    expect(socket.of('hello')[0].rooms).toHaveLength(3);
  });

  it('limits the invitations a user sends per minute with 429 RATE_LIMITED and Retry-After; inviting a member again is free', async () => {
    const inviter = chat.users.add('inviter');
    const room = await createRoom(chat, inviter, undefined, 'private');
    const invitees = [1, 2, 3, 4, 5].map((n) => chat.users.add(`invitee-${n}`));
    const statuses = [];
    for (const invitee of invitees.slice(0, 4)) {
      const reply = await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
        token: inviter.token,
        body: { userId: invitee.id },
      });
      statuses.push(reply.status);
    }
    const again = await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
      token: inviter.token,
      body: { userId: invitees[0]!.id },
    });
    expect(again.status).toBe(201);
    const limited = await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
      token: inviter.token,
      body: { userId: invitees[4]!.id },
    });
    expect(statuses).toEqual([201, 201, 201, 201]);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // A direct room with someone new is an invitation too; another user's budget is untouched.
    const direct = await chat.call('POST', `/api/direct/${invitees[4]!.id}`, { token: inviter.token });
    expect(direct.status).toBe(429);
    const other = chat.users.add('other-inviter');
    expect((await chat.call('POST', `/api/direct/${invitees[4]!.id}`, { token: other.token })).status).toBe(
      200,
    );
  });
});

/** A user at the room cap (the default 1000) with long room names: their hello outgrows the slow-reader bound. */
describe('a user at the room cap (issue 9, findings 1 and 2)', () => {
  let chat: TestChat;
  let member: TestUser;

  beforeAll(async () => {
    chat = await startChat({ env: { WS_MAX_BUFFERED_BYTES: '16384' } });
    member = chat.users.add('everywhere');
    const names = Array.from({ length: 1000 }, (_, n) => `${String(n).padStart(4, '0')}-${'r'.repeat(59)}`);
    for (let start = 0; start < names.length; start += 25) {
      await Promise.all(names.slice(start, start + 25).map((name) => createRoom(chat, member, name)));
    }
  }, 60_000);

  afterAll(() => chat.stop());

  it('gets hello in full, well over WS_MAX_BUFFERED_BYTES, within 2 s of the upgrade', async () => {
    const started = Date.now();
    const socket = await chat.connect(member);
    const elapsed = Date.now() - started;
    const hello = socket.of('hello')[0];
    expect(hello.rooms).toHaveLength(1000);
    expect(JSON.stringify(hello).length).toBeGreaterThan(2 * 16_384);
    expect(elapsed).toBeLessThan(2_000);
    expect(await socket.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('opening 10 sockets at once leaves another user’s socket and requests prompt', async () => {
    const bystander = chat.users.add('bystander-at-cap');
    const storm = Promise.all(Array.from({ length: 10 }, () => chat.connect(member)));
    const started = Date.now();
    const socket = await chat.connect(bystander);
    const rooms = await chat.call('GET', '/api/rooms/public?limit=5', { token: bystander.token });
    const elapsed = Date.now() - started;
    expect(socket.of('hello')).toHaveLength(1);
    expect(rooms.status).toBe(200);
    // Not a speed figure (bench:open has those): before issue 9 the storm stalled the instance for 20-30 s
    // and the bystander got 503; a generous bound keeps a busy test machine from failing it.
    expect(elapsed).toBeLessThan(5_000);
    const sockets = await storm;
    expect(sockets.every((client) => client.of('hello')[0].rooms.length === 1000)).toBe(true);
  });
});
