import {
  createRoom,
  protocolViolations,
  sleep,
  startChat,
  type TestChat,
  type TestClient,
  type TestUser,
  publicProfile,
} from './support';

describe('presence on one instance', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat({ env: { PRESENCE_GRACE_MS: '300' } });
  });

  afterAll(() => chat.stop());

  it('tells users sharing a room when someone comes online and goes offline, and no one else', async () => {
    const ann = chat.users.add('ann');
    const bob = chat.users.add('bob');
    const stranger = chat.users.add('stranger');
    const room = await createRoom(chat, ann, undefined, 'private');
    await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
      token: ann.token,
      body: { userId: bob.id },
    });
    const annSocket = await chat.connect(ann);
    const strangerSocket = await chat.connect(stranger);

    const bobSocket = await chat.connect(bob);
    const online = await annSocket.waitFor((e) => e.type === 'presence' && e.user.id === bob.id);
    expect(online).toEqual({
      type: 'presence',
      user: publicProfile(bob),
      status: 'online',
    });
    expect(bobSocket.of('hello')[0].online.map((user: { id: string }) => user.id)).toEqual([ann.id]);

    bobSocket.close();
    const offline = await annSocket.waitFor((e) => e.type === 'presence' && e.status === 'offline');
    expect(offline.user.id).toBe(bob.id);
    expect(strangerSocket.of('presence')).toEqual([]);
    expect(annSocket.of('presence')).toHaveLength(2);
  });

  it('does not flap when the last socket comes back within the grace period', async () => {
    const cid = chat.users.add('cid');
    const dee = chat.users.add('dee');
    const room = await createRoom(chat, cid);
    await chat.call('POST', `/api/rooms/${room.id}/members`, { token: dee.token });
    const watcher = await chat.connect(cid);
    const first = await chat.connect(dee);
    await watcher.waitFor((e) => e.type === 'presence' && e.user.id === dee.id);
    first.close();
    await first.closed;
    await chat.connect(dee);
    await sleep(600);
    expect(watcher.of('presence').map((e) => e.status)).toEqual(['online']);
  });

  it('coalesces a burst of users coming online into a few frames per recipient', async () => {
    const owner = chat.users.add('owner');
    const room = await createRoom(chat, owner);
    const crowd = Array.from({ length: 30 }, (_, i) => chat.users.add(`crowd${i}`));
    for (const user of crowd) await chat.call('POST', `/api/rooms/${room.id}/members`, { token: user.token });
    const watcher = await chat.connect(owner);
    await Promise.all(crowd.map((user) => chat.connect(user)));
    const events = await watcher.waitForCount((e) => e.type === 'presence', 30);
    expect(new Set(events.map((e) => e.user.id)).size).toBe(30);
    const presenceFrames = watcher.frames.filter((frame) => frame.includes('"presence"'));
    expect(presenceFrames.length).toBeLessThanOrEqual(6);
    expect(presenceFrames.some((frame) => frame.startsWith('['))).toBe(true);
  });
});

describe('presence when two online users start sharing a room', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat();
  });

  afterAll(() => chat.stop());

  const seesOnline = (socket: TestClient, user: TestUser) =>
    socket.waitFor((e) => e.type === 'presence' && e.user.id === user.id && e.status === 'online');

  /** Two users online on their own, sharing no room yet, and a third online user who shares a room with ann. */
  async function strangers() {
    const ann = chat.users.add('ann');
    const bob = chat.users.add('bob');
    const cid = chat.users.add('cid');
    const theirs = await createRoom(chat, ann, undefined, 'private');
    await chat.call('POST', `/api/rooms/${theirs.id}/invitations`, {
      token: ann.token,
      body: { userId: cid.id },
    });
    const cidSocket = await chat.connect(cid);
    const annSocket = await chat.connect(ann);
    const bobSocket = await chat.connect(bob);
    await cidSocket.waitFor((e) => e.type === 'presence' && e.user.id === ann.id);
    expect(annSocket.of('hello')[0].online.map((user: TestUser) => user.id)).toEqual([cid.id]);
    expect(bobSocket.of('hello')[0].online).toEqual([]);
    // Past the presence batches of their connecting: what follows comes from the shared room alone.
    await sleep(200);
    const sockets = [annSocket, bobSocket, cidSocket];
    const marks = sockets.map((socket) => socket.events.length);
    /** Who each socket has heard about since, and as what. */
    const heard = () =>
      sockets.map((socket, i) =>
        socket.events
          .slice(marks[i])
          .filter((event) => event.type === 'presence')
          .map((event) => `${event.user.name} ${event.status}`),
      );
    return { ann, bob, annSocket, bobSocket, heard };
  }

  async function expectMutuallyOnline(pair: Awaited<ReturnType<typeof strangers>>) {
    const { ann, bob, annSocket, bobSocket, heard } = pair;
    expect(await seesOnline(annSocket, bob)).toEqual({
      type: 'presence',
      user: publicProfile(bob),
      status: 'online',
    });
    expect(await seesOnline(bobSocket, ann)).toEqual({
      type: 'presence',
      user: publicProfile(ann),
      status: 'online',
    });
    await sleep(200);
    // Nothing else, and nothing to cid, who shares a room with ann but not with bob. (Twice is possible:
    // ann's own new room may already hold bob when her joining it is handled.)
    const [toAnn, toBob, toCid] = heard();
    expect(new Set(toAnn)).toEqual(new Set(['bob online']));
    expect(new Set(toBob)).toEqual(new Set(['ann online']));
    expect(toCid).toEqual([]);
  }

  it('an invitation makes the inviter and the invitee see each other online', async () => {
    const pair = await strangers();
    const room = await createRoom(chat, pair.ann, undefined, 'private');
    const invited = await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
      token: pair.ann.token,
      body: { userId: pair.bob.id },
    });
    expect(invited.status).toBe(201);
    await expectMutuallyOnline(pair);
  });

  it('a new direct room makes both users see each other online', async () => {
    const pair = await strangers();
    expect((await chat.call('POST', `/api/direct/${pair.ann.id}`, { token: pair.bob.token })).status).toBe(
      200,
    );
    await expectMutuallyOnline(pair);
  });

  it('joining a public room over REST makes the joiner and the members see each other online', async () => {
    const pair = await strangers();
    const room = await createRoom(chat, pair.ann);
    expect((await chat.call('POST', `/api/rooms/${room.id}/members`, { token: pair.bob.token })).status).toBe(
      200,
    );
    await expectMutuallyOnline(pair);
  });

  it('joining a public room on the socket makes the joiner and the members see each other online', async () => {
    const pair = await strangers();
    const room = await createRoom(chat, pair.ann);
    expect(await pair.bobSocket.request({ type: 'join', roomId: room.id })).toMatchObject({ type: 'joined' });
    await expectMutuallyOnline(pair);
  });

  it('tells nobody anything about a newcomer who is offline', async () => {
    const ann = chat.users.add('ann');
    const bob = chat.users.add('bob');
    const annSocket = await chat.connect(ann);
    const room = await createRoom(chat, ann, undefined, 'private');
    await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
      token: ann.token,
      body: { userId: bob.id },
    });
    await annSocket.waitFor((e) => e.type === 'member.joined' && e.user.id === bob.id);
    await sleep(200);
    expect(annSocket.of('presence')).toEqual([]);
  });

  it('coalesces a burst of online users joining a room into a few frames for its members', async () => {
    const owner = chat.users.add('owner');
    const room = await createRoom(chat, owner);
    const watcher = await chat.connect(owner);
    const crowd = Array.from({ length: 20 }, (_, i) => chat.users.add(`crowd${i}`));
    await Promise.all(crowd.map((user) => chat.connect(user)));
    // Past the presence batches of their connecting: what follows comes from the shared room alone.
    await sleep(200);
    await Promise.all(
      crowd.map((user) => chat.call('POST', `/api/rooms/${room.id}/members`, { token: user.token })),
    );
    const events = await watcher.waitForCount((e) => e.type === 'presence', 20);
    expect(new Set(events.map((e) => e.user.id))).toEqual(new Set(crowd.map((user) => user.id)));
    const presenceFrames = watcher.frames.filter((frame) => frame.includes('"presence"'));
    expect(presenceFrames.length).toBeLessThanOrEqual(6);
  });
});

describe('presence in rooms of more than PRESENCE_MAX_ROOM_MEMBERS members', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat({ env: { PRESENCE_MAX_ROOM_MEMBERS: '2', PRESENCE_GRACE_MS: '300' } });
  });

  afterAll(() => chat.stop());

  it('carries none through the larger room, while a direct room shared with it still does', async () => {
    const ann = chat.users.add('ann');
    const bob = chat.users.add('bob');
    const cid = chat.users.add('cid');
    const dee = chat.users.add('dee');
    const big = await createRoom(chat, ann);
    for (const user of [bob, cid])
      await chat.call('POST', `/api/rooms/${big.id}/members`, { token: user.token });
    await chat.call('POST', `/api/direct/${cid.id}`, { token: ann.token });
    const annSocket = await chat.connect(ann);
    const deeSocket = await chat.connect(dee);
    const bobSocket = await chat.connect(bob);
    const cidSocket = await chat.connect(cid);

    expect(await annSocket.waitFor((e) => e.type === 'presence')).toEqual({
      type: 'presence',
      user: publicProfile(cid),
      status: 'online',
    });
    expect(bobSocket.of('hello')[0]).toMatchObject({ online: [], presenceMaxRoomMembers: 2 });
    expect(cidSocket.of('hello')[0].online).toEqual([publicProfile(ann)]);
    // Joining the larger room tells dee of no one, and no one of dee.
    await chat.call('POST', `/api/rooms/${big.id}/members`, { token: dee.token });
    await annSocket.waitFor((e) => e.type === 'member.joined' && e.user.id === dee.id);
    bobSocket.close();
    cidSocket.close();

    await annSocket.waitFor((e) => e.type === 'presence' && e.status === 'offline');
    await sleep(200);
    const heard = (socket: TestClient) => socket.of('presence').map((e) => `${e.user.name} ${e.status}`);
    expect(heard(annSocket)).toEqual(['cid online', 'cid offline']);
    expect(heard(deeSocket)).toEqual([]);
  });
});

// Everything the server sent in this suite is an event of the protocol package.
afterAll(() => expect(protocolViolations).toEqual([]));
