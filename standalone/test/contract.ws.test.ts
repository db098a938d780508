import WebSocket from 'ws';
import {
  claimsOf,
  expectError,
  headerOf,
  pause,
  refusedUpgrade,
  MEMBER_ROOM_KEYS,
  SigningKey,
  startSystem,
  USER_PUBLIC_KEYS,
  within,
  type Json,
  type Session,
  type TestSocket,
  type TestSystem,
} from './support/system';

let roomCounter = 0;
const roomName = (prefix: string) => `${prefix} ${process.pid}-${(roomCounter += 1)}`;

const publicOf = (session: Session) => ({
  id: session.id,
  username: session.username,
  name: session.user.name,
  avatarUrl: session.user.avatarUrl,
  createdAt: session.user.createdAt,
});

/** The socket at `GET /ws` through the gateway (docs/asyncapi.md). */
describe('contract: WebSocket', () => {
  const key = new SigningKey();
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem({ JWT_PRIVATE_KEY: key.pem });
  });

  afterAll(async () => {
    await system.stop();
  });

  const createRoom = async (as: Session, kind: 'public' | 'private') => {
    const reply = await system.call('POST', '/api/rooms', {
      token: as.accessToken,
      body: { name: roomName(kind), kind },
    });
    expect(reply.status).toBe(201);
    return reply.body;
  };
  const join = (as: Session, roomId: string) =>
    system.call('POST', `/api/rooms/${roomId}/members`, { token: as.accessToken });
  const countOf = (socket: TestSocket, predicate: (event: Json) => boolean) =>
    socket.matching(predicate).length;
  const isMessage = (id: string) => (event: Json) => event.type === 'message' && event.message.id === id;

  describe('the upgrade', () => {
    let me: Session;

    beforeAll(async () => {
      me = await system.account('upgrader');
    });

    it('no token: 401 UNAUTHENTICATED with WWW-Authenticate: Bearer, and no socket opens', async () => {
      const refused = await refusedUpgrade(system.wsUrl);
      expect(refused).toMatchObject({ status: 401, opened: false });
      expect(refused.body).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
      expect(refused.headers['www-authenticate']).toBe('Bearer');
      expect(refused.headers['x-request-id']).toBeTruthy();
    });

    it('a bad token, in the query or the Authorization header: 401', async () => {
      for (const options of [{ token: 'not-a-token' }, { token: 'a.b.c', bearer: true }]) {
        expect(await refusedUpgrade(system.wsUrl, options)).toMatchObject({ status: 401, opened: false });
      }
    });

    it('an Origin from another host: 403 FORBIDDEN, no socket, even with a good token', async () => {
      const refused = await refusedUpgrade(system.wsUrl, {
        token: me.accessToken,
        headers: { origin: 'https://evil.example' },
      });
      expect(refused).toMatchObject({ status: 403, opened: false, body: { error: { code: 'FORBIDDEN' } } });
      expect(refused.headers['x-request-id']).toBeTruthy();
      // The page the gateway serves may: an Origin naming the host the request was sent to.
      const socket = await system.connect(me.accessToken, {
        headers: { origin: new URL(system.url).origin },
      });
      expect(socket.isOpen).toBe(true);
      socket.ws.close();
    });

    it('the request id is echoed on a refusal', async () => {
      const refused = await refusedUpgrade(system.wsUrl, { headers: { 'x-request-id': 'ws-upgrade-1' } });
      expect(refused.headers['x-request-id']).toBe('ws-upgrade-1');
    });

    it('the token may come as ?token= or as Authorization: Bearer', async () => {
      const query = await system.connect(me.accessToken);
      const header = await system.connect(me.accessToken, { bearer: true });
      expect(query.events[0].type).toBe('hello');
      expect(header.events[0].type).toBe('hello');
      query.ws.close();
      header.ws.close();
    });

    it('only /ws upgrades', async () => {
      const refused = await refusedUpgrade(system.wsUrl.replace(/\/ws$/, '/api/rooms'), {
        token: me.accessToken,
      });
      expect(refused.opened).toBe(false);
      expect(refused.status).toBe(404);
      expect(refused.body.error.code).toBe('NOT_FOUND');
      expect(refused.headers['x-request-id']).toBeTruthy();
    });
  });

  describe('hello, join, leave, send, typing, ping', () => {
    let ann: Session;
    let ben: Session;
    let room: Json;
    let annSocket: TestSocket;
    let benSocket: TestSocket;

    beforeAll(async () => {
      ann = await system.account('ann', { name: 'Ann' });
      ben = await system.account('ben');
      room = await createRoom(ann, 'public');
      await join(ben, room.id);
      annSocket = await system.connect(ann.accessToken);
      benSocket = await system.connect(ben.accessToken);
    });

    afterAll(() => {
      annSocket.ws.close();
      benSocket.ws.close();
    });

    it('hello: {user: UserPublic, sessionId, rooms: [Room], online: [UserPublic]} first', async () => {
      const hello = benSocket.events[0];
      expect(Object.keys(hello).sort()).toEqual([
        'announcements',
        'online',
        'presenceMaxRoomMembers',
        'rooms',
        'sessionId',
        'type',
        'user',
      ]);
      expect(hello.type).toBe('hello');
      expect(hello.presenceMaxRoomMembers).toBe(1000);
      expect(hello.user).toEqual(publicOf(ben));
      expect(hello.sessionId).toBe(ben.sid);
      expect(hello.rooms.map((r: Json) => r.id)).toEqual([room.id]);
      expect(Object.keys(hello.rooms[0]).sort()).toEqual(MEMBER_ROOM_KEYS);
      // Ann was online in a shared room when Ben connected.
      expect(hello.online).toEqual([publicOf(ann)]);
    });

    it('ping -> pong with the ref', async () => {
      expect(await annSocket.request({ type: 'ping' })).toEqual({ type: 'pong', ref: expect.any(String) });
    });

    it('send -> ack {ref, message} once stored; every receiver of the room gets the message exactly once', async () => {
      const ack = await annSocket.request({
        type: 'send',
        roomId: room.id,
        text: '  hello, ben  ',
        clientMsgId: 'm-1',
      });
      expect(ack).toEqual({ type: 'ack', ref: expect.any(String), message: expect.any(Object) });
      expect(ack.message).toMatchObject({
        roomId: room.id,
        text: 'hello, ben',
        clientMsgId: 'm-1',
        sender: { id: ann.id, username: ann.username },
      });
      await benSocket.waitFor(isMessage(ack.message.id));
      await annSocket.waitFor(isMessage(ack.message.id));
      expect(benSocket.matching(isMessage(ack.message.id))[0]).toEqual({
        type: 'message',
        message: ack.message,
      });
      await pause(200);
      expect(countOf(benSocket, isMessage(ack.message.id))).toBe(1);
      expect(countOf(annSocket, isMessage(ack.message.id))).toBe(1);
      const history = await system.call('GET', `/api/rooms/${room.id}/messages`, { token: ben.accessToken });
      expect(history.body.items).toEqual([ack.message]);
    });

    it('the same clientMsgId from the same user again: the first message, nothing new broadcast or stored', async () => {
      const first = await benSocket.request({
        type: 'send',
        roomId: room.id,
        text: 'once',
        clientMsgId: 'dup-1',
      });
      const again = await benSocket.request({
        type: 'send',
        roomId: room.id,
        text: 'once',
        clientMsgId: 'dup-1',
      });
      const changed = await benSocket.request({
        type: 'send',
        roomId: room.id,
        text: 'edited',
        clientMsgId: 'dup-1',
      });
      expect(again.message).toEqual(first.message);
      expect(changed.message).toEqual(first.message);
      await annSocket.waitFor(isMessage(first.message.id));
      await pause(200);
      const messagesAfter = (socket: TestSocket) =>
        socket.matching((event) => event.type === 'message' && event.message.seq >= first.message.seq);
      expect(messagesAfter(annSocket)).toHaveLength(1);
      expect(messagesAfter(benSocket)).toHaveLength(1);
      const history = await system.call('GET', `/api/rooms/${room.id}/messages?after=${first.message.id}`, {
        token: ann.accessToken,
      });
      expect(history.body.items).toEqual([]);
      // Another user's equal clientMsgId is their own message.
      const other = await annSocket.request({
        type: 'send',
        roomId: room.id,
        text: 'mine',
        clientMsgId: 'dup-1',
      });
      expect(other.message.id).not.toBe(first.message.id);
      expect(other.message.seq).toBe(first.message.seq + 1);
    });

    it("typing: the room's other receivers get {type, roomId, user, active}", async () => {
      annSocket.send({ type: 'typing', roomId: room.id, active: true });
      const typing = await benSocket.waitFor((event) => event.type === 'typing' && event.active === true);
      expect(typing).toEqual({ type: 'typing', roomId: room.id, user: publicOf(ann), active: true });
      annSocket.send({ type: 'typing', roomId: room.id, active: false });
      await benSocket.waitFor((event) => event.type === 'typing' && event.active === false);
      await pause(100);
      expect(countOf(annSocket, (event) => event.type === 'typing')).toBe(0);
    });

    it('join a public room: joined {ref, roomId, missed, hasMore}; members are told member.joined', async () => {
      const other = await createRoom(ann, 'public');
      const joined = await benSocket.request({ type: 'join', roomId: other.id });
      expect(joined).toEqual({
        type: 'joined',
        ref: expect.any(String),
        roomId: other.id,
        missed: [],
        hasMore: false,
        rev: 0,
        changed: [],
        changedHasMore: false,
      });
      const event = await annSocket.waitFor((e) => e.type === 'member.joined' && e.roomId === other.id);
      expect(event).toEqual({ type: 'member.joined', roomId: other.id, user: publicOf(ben) });
      // From now on Ben's socket receives the room.
      const ack = await annSocket.request({
        type: 'send',
        roomId: other.id,
        text: 'welcome',
        clientMsgId: 'w-1',
      });
      await benSocket.waitFor(isMessage(ack.message.id));
    });

    it('join with since: missed are the messages after it, oldest first', async () => {
      const other = await createRoom(ann, 'public');
      const sent: Json[] = [];
      for (const text of ['a', 'b', 'c']) {
        sent.push(
          (await annSocket.request({ type: 'send', roomId: other.id, text, clientMsgId: `s-${text}` }))
            .message,
        );
      }
      const joined = await benSocket.request({ type: 'join', roomId: other.id, since: sent[0].id });
      expect(joined.missed).toEqual(sent.slice(1));
      expect(joined.hasMore).toBe(false);
      const rejoined = await annSocket.request({ type: 'join', roomId: other.id, since: sent[2].id });
      expect(rejoined).toMatchObject({ type: 'joined', missed: [], hasMore: false });
    });

    it('join a private room you do not belong to: error FORBIDDEN with the ref, socket stays open', async () => {
      const secret = await createRoom(ann, 'private');
      const reply = await benSocket.request({ type: 'join', roomId: secret.id });
      expect(reply).toMatchObject({ type: 'error', code: 'FORBIDDEN', message: expect.any(String) });
      expect(
        (await benSocket.request({ type: 'send', roomId: secret.id, text: 'let me in', clientMsgId: 'x' }))
          .code,
      ).toBe('FORBIDDEN');
      expect((await benSocket.request({ type: 'join', roomId: 'no-such-room' })).code).toBe('NOT_FOUND');
      expect((await benSocket.request({ type: 'ping' })).type).toBe('pong');
    });

    it('leave -> left {ref, roomId}; others get member.left; the leaver receives the room no more', async () => {
      const other = await createRoom(ann, 'public');
      await benSocket.request({ type: 'join', roomId: other.id });
      const left = await benSocket.request({ type: 'leave', roomId: other.id });
      expect(left).toEqual({ type: 'left', ref: expect.any(String), roomId: other.id });
      const event = await annSocket.waitFor((e) => e.type === 'member.left' && e.roomId === other.id);
      expect(event).toEqual({ type: 'member.left', roomId: other.id, user: publicOf(ben) });
      expectError(
        await system.call('GET', `/api/rooms/${other.id}/messages`, { token: ben.accessToken }),
        403,
        'FORBIDDEN',
      );
      const ack = await annSocket.request({
        type: 'send',
        roomId: other.id,
        text: 'gone?',
        clientMsgId: 'g-1',
      });
      await annSocket.waitFor(isMessage(ack.message.id));
      await pause(200);
      expect(countOf(benSocket, isMessage(ack.message.id))).toBe(0);
    });
  });

  describe('rooms joined while the socket is open', () => {
    it('a REST join, an invitation (room.invited) and a new direct room all start delivering at once', async () => {
      const cat = await system.account('cat');
      const dan = await system.account('dan');
      const catSocket = await system.connect(cat.accessToken);
      const danSocket = await system.connect(dan.accessToken);

      const open = await createRoom(dan, 'public');
      expect((await join(cat, open.id)).status).toBe(200);
      const secret = await createRoom(dan, 'private');
      const invited = await system.call('POST', `/api/rooms/${secret.id}/invitations`, {
        token: dan.accessToken,
        body: { userId: cat.id },
      });
      expect(invited.status).toBe(201);
      const invitation = await catSocket.waitFor((event) => event.type === 'room.invited');
      expect(invitation).toEqual({
        type: 'room.invited',
        room: expect.objectContaining({ id: secret.id, kind: 'private' }),
      });
      expect(Object.keys(invitation.room).sort()).toEqual(MEMBER_ROOM_KEYS);
      const direct = (await system.call('POST', `/api/direct/${cat.id}`, { token: dan.accessToken })).body;

      for (const roomId of [open.id, secret.id, direct.id]) {
        const ack = await danSocket.request({
          type: 'send',
          roomId,
          text: `to ${roomId}`,
          clientMsgId: roomId,
        });
        expect(ack.type).toBe('ack');
        await catSocket.waitFor(isMessage(ack.message.id));
      }
      catSocket.ws.close();
      danSocket.ws.close();
    });
  });

  describe('presence', () => {
    it('users sharing a room see each other come online and go offline', async () => {
      const eve = await system.account('eve');
      const fay = await system.account('fay');
      const room = await createRoom(eve, 'private');
      await system.call('POST', `/api/rooms/${room.id}/invitations`, {
        token: eve.accessToken,
        body: { userId: fay.id },
      });
      const eveSocket = await system.connect(eve.accessToken);
      const faySocket = await system.connect(fay.accessToken);
      const online = await eveSocket.waitFor(
        (event) => event.type === 'presence' && event.user.id === fay.id,
      );
      expect(online).toEqual({ type: 'presence', user: publicOf(fay), status: 'online' });
      expect(Object.keys(online.user).sort()).toEqual(USER_PUBLIC_KEYS);
      faySocket.ws.close();
      const offline = await eveSocket.waitFor(
        (event) => event.type === 'presence' && event.user.id === fay.id && event.status === 'offline',
      );
      expect(offline.user).toEqual(publicOf(fay));
      eveSocket.ws.close();
    });
  });

  describe('bad frames', () => {
    let socket: TestSocket;
    let room: Json;

    beforeAll(async () => {
      const gus = await system.account('gus');
      room = await createRoom(gus, 'public');
      socket = await system.connect(gus.accessToken);
    });

    afterAll(() => socket.ws.close());

    it.each(['{not json', '', 'null]', '\u0000'])(
      'bad JSON %j: error INVALID_JSON, socket stays open',
      async (frame) => {
        const before = socket.events.length;
        socket.send(frame);
        const error = await socket.waitFor(
          (event) => socket.events.indexOf(event) >= before && event.type === 'error',
        );
        expect(error).toMatchObject({ type: 'error', code: 'INVALID_JSON', message: expect.any(String) });
        expect((await socket.request({ type: 'ping' })).type).toBe('pong');
      },
    );

    /** The reply to a frame with a ref; for frames that cannot carry one, the next error. */
    const replyTo = async (frame: unknown): Promise<Json> => {
      if (frame && typeof frame === 'object' && !Array.isArray(frame)) {
        return socket.request(frame as Record<string, unknown>);
      }
      const before = socket.events.length;
      socket.send(JSON.stringify(frame));
      return socket.waitFor((event) => socket.events.indexOf(event) >= before && event.type === 'error');
    };

    it.each([
      ['an unknown type', () => ({ type: 'shout' })],
      ['send without roomId', () => ({ type: 'send', text: 'no room', clientMsgId: 'v-1' })],
      ['blank text', () => ({ type: 'send', roomId: room.id, text: '   ', clientMsgId: 'v-2' })],
      [
        'text of 4001 characters',
        () => ({ type: 'send', roomId: room.id, text: 'x'.repeat(4001), clientMsgId: 'v-3' }),
      ],
      [
        'an unknown field',
        () => ({ type: 'send', roomId: room.id, text: 'hi', clientMsgId: 'v-4', admin: true }),
      ],
      ['an operator as roomId', () => ({ type: 'join', roomId: { $ne: null } })],
      ['typing without active', () => ({ type: 'typing', roomId: room.id })],
      ['ping with an extra field', () => ({ type: 'ping', extra: 1 })],
      ['no type', () => ({ noType: true })],
      ['an array', () => [1, 2, 3]],
      ['a JSON string', () => 'a string'],
      ['a JSON number', () => 42],
    ])(
      '%s: error VALIDATION_FAILED (with the ref when there is one), socket stays open',
      async (_case, frame) => {
        const reply = await replyTo(frame());
        expect(reply).toMatchObject({
          type: 'error',
          code: 'VALIDATION_FAILED',
          message: expect.any(String),
        });
        expect(socket.isOpen).toBe(true);
        expect((await socket.request({ type: 'ping' })).type).toBe('pong');
      },
    );

    it('a text of exactly 4000 characters is accepted', async () => {
      const ack = await socket.request({
        type: 'send',
        roomId: room.id,
        text: 'y'.repeat(4000),
        clientMsgId: 'max',
      });
      expect(ack.type).toBe('ack');
      expect(ack.message.text).toHaveLength(4000);
    });

    it('a frame over 16 KiB closes the socket with 1009', async () => {
      const gus2 = await system.account('big');
      const big = await system.connect(gus2.accessToken);
      big.send(
        JSON.stringify({ type: 'send', roomId: room.id, text: 'z'.repeat(17 * 1024), clientMsgId: 'big' }),
      );
      expect((await big.closedWithin(2_000)).code).toBe(1009);
    });

    it('a frame of 16 KiB exactly is read (and judged on its content)', async () => {
      const frame = JSON.stringify({ type: 'ping', pad: '' });
      const padded = JSON.stringify({ type: 'ping', pad: 'p'.repeat(16 * 1024 - frame.length) });
      expect(Buffer.byteLength(padded)).toBe(16 * 1024);
      const before = socket.events.length;
      socket.send(padded);
      const reply = await socket.waitFor(
        (event) => socket.events.indexOf(event) >= before && event.type === 'error',
      );
      expect(reply.code).toBe('VALIDATION_FAILED');
      expect(socket.isOpen).toBe(true);
    });

    it('a client that keeps sending past its rate limit is closed with 1008', async () => {
      const flooder = await system.account('flood');
      const flood = await system.connect(flooder.accessToken);
      for (let i = 0; i < 400 && flood.isOpen; i += 1) flood.send({ type: 'ping' });
      expect((await flood.closedWithin(3_000)).code).toBe(1008);
    });
  });

  describe('sessions', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const tokenFor = (session: Session, exp: number) =>
      key.sign(
        { alg: 'ES256', typ: 'JWT', kid: headerOf(session.accessToken).kid },
        { ...claimsOf(session.accessToken), iat: now(), exp },
      );

    it('session.expiring about a minute before expiry, then close 4001 when the token expires', async () => {
      const hal = await system.account('hal');
      const exp = now() + 2;
      const socket = await system.connect(tokenFor(hal, exp));
      const expiring = await socket.waitFor((event) => event.type === 'session.expiring');
      expect(expiring).toEqual({ type: 'session.expiring', expiresAt: new Date(exp * 1000).toISOString() });
      const closed = await socket.closedWithin(4_000);
      expect(closed.code).toBe(4001);
    });

    it("refresh with a fresh token for the same user extends the socket; another user's token is refused", async () => {
      const ida = await system.account('ida');
      const other = await system.account('other');
      const exp = now() + 2;
      const socket = await system.connect(tokenFor(ida, exp));
      const refused = await socket.request({ type: 'refresh', token: other.accessToken });
      expect(refused).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
      const garbage = await socket.request({ type: 'refresh', token: 'not-a-token' });
      expect(garbage).toMatchObject({ type: 'error', code: 'UNAUTHENTICATED' });
      const renewed = await socket.request({ type: 'refresh', token: ida.accessToken });
      expect(renewed.type).not.toBe('error');
      // Past the first token's expiry, the socket lives on the second one.
      await pause(exp * 1000 - Date.now() + 700);
      expect(socket.isOpen).toBe(true);
      expect((await socket.request({ type: 'ping' })).type).toBe('pong');
      socket.ws.close();
    });

    it('deleting the user closes their sockets with 4003 within 2 s', async () => {
      const jon = await system.account('jon');
      const second = await system.login(jon.username);
      const sockets = [await system.connect(jon.accessToken), await system.connect(second.accessToken)];
      expect((await system.call('DELETE', `/api/users/${jon.id}`, { token: jon.accessToken })).status).toBe(
        204,
      );
      for (const socket of sockets) expect((await socket.closedWithin(2_000)).code).toBe(4003);
      await within(2_000, async () => {
        expect(await refusedUpgrade(system.wsUrl, { token: second.accessToken })).toMatchObject({
          status: 401,
          opened: false,
        });
      });
    });
  });
});

describe('contract: WebSocket heartbeat', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem({ HEARTBEAT_INTERVAL_MS: '200' });
  });

  afterAll(async () => {
    await system.stop();
  });

  it('the server pings, and drops a socket that does not answer while one that does stays', async () => {
    const kim = await system.account('kim');
    const answering = await system.connect(kim.accessToken);
    const silent = await system.connect(kim.accessToken, { autoPong: false });
    let pings = 0;
    silent.ws.on('ping', () => (pings += 1));
    const closed = await silent.closedWithin(2_000);
    expect(pings).toBeGreaterThan(0);
    expect(closed.code).not.toBe(1000);
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
    expect((await answering.request({ type: 'ping' })).type).toBe('pong');
  });
});
