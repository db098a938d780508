import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  expectError,
  PASSWORD,
  startSystem,
  within,
  type Json,
  type Session,
  type TestSystem,
} from './support/system';

/**
 * Running it (README): data kept under DATA_DIR, so a restart loses nothing. The whole system
 * stops and a new one starts on the same directory; everything a user had is still there.
 */
describe('contract: a restart on the same DATA_DIR loses nothing', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'contract-restart-'));
  let before: TestSystem;
  let after: TestSystem | undefined;
  let ann: Session;
  let ben: Session;
  let loggedOut: Session;
  let room: Json;
  let secret: Json;
  let sent: Json[];
  let closeCode: number;

  beforeAll(async () => {
    before = await startSystem({}, dataDir);
    ann = await before.account('ann');
    ben = await before.account('ben');
    loggedOut = await before.login(ann.username);
    room = (
      await before.call('POST', '/api/rooms', {
        token: ann.accessToken,
        body: { name: 'Durable', kind: 'public' },
      })
    ).body;
    secret = (
      await before.call('POST', '/api/rooms', {
        token: ann.accessToken,
        body: { name: 'Durable secret', kind: 'private' },
      })
    ).body;
    await before.call('POST', `/api/rooms/${secret.id}/invitations`, {
      token: ann.accessToken,
      body: { userId: ben.id },
    });
    const socket = await before.connect(ann.accessToken);
    sent = [];
    for (const text of ['first', 'second', 'third']) {
      sent.push(
        (await socket.request({ type: 'send', roomId: room.id, text, clientMsgId: `k-${text}` })).message,
      );
    }
    sent.push(
      (await socket.request({ type: 'send', roomId: secret.id, text: 'psst', clientMsgId: 'k-psst' }))
        .message,
    );
    expect((await before.call('POST', '/api/auth/logout', { token: loggedOut.accessToken })).status).toBe(
      204,
    );
    await within(2_000, async () => {
      expectError(
        await before.call('GET', '/api/users/me', { token: loggedOut.accessToken }),
        401,
        'UNAUTHENTICATED',
      );
    });

    const closed = socket.closed;
    await before.stop({ keepData: true });
    closeCode = (await closed).code;
    after = await startSystem({}, dataDir);
  });

  afterAll(async () => {
    await after?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const system = () => after!;

  it('open sockets were told to reconnect (1012) or that the server is going away (1001)', () => {
    expect([1001, 1012]).toContain(closeCode);
  });

  it('the user logs in with the same password and is the same user', async () => {
    const session = await system().login(ann.username, PASSWORD);
    expect(session.user).toEqual(ann.user);
    expectError(
      await system().call('POST', '/api/auth/login', {
        body: { username: ann.username, password: 'wrong password' },
      }),
      401,
      'INVALID_CREDENTIALS',
    );
  });

  it('usernames stay taken', async () => {
    const reply = await system().call('POST', '/api/users', {
      body: { username: ann.username, password: PASSWORD },
    });
    expectError(reply, 409, 'USERNAME_TAKEN');
  });

  it('access and refresh tokens issued before the restart still work (the signing key and sessions are kept)', async () => {
    expect((await system().call('GET', '/api/users/me', { token: ben.accessToken })).status).toBe(200);
    expect((await system().call('GET', '/api/rooms', { token: ben.accessToken })).status).toBe(200);
    const refreshed = await system().call('POST', '/api/auth/refresh', {
      body: { refreshToken: ben.refreshToken },
    });
    expect(refreshed.status).toBe(200);
  });

  it('a session that ended before the restart stays ended on every service', async () => {
    for (const [method, pathname] of [
      ['GET', '/api/users/me'],
      ['GET', '/api/rooms'],
      ['POST', '/api/auth/logout'],
    ] as const) {
      expectError(
        await system().call(method, pathname, { token: loggedOut.accessToken }),
        401,
        'UNAUTHENTICATED',
      );
    }
    expectError(
      await system().call('POST', '/api/auth/refresh', { body: { refreshToken: loggedOut.refreshToken } }),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('rooms, memberships and history are all there', async () => {
    const session = await system().login(ben.username);
    const rooms = await system().call('GET', '/api/rooms', { token: session.accessToken });
    expect(rooms.body.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: room.id, name: 'Durable', memberCount: 1 }),
        expect.objectContaining({ id: secret.id, name: 'Durable secret', memberCount: 2 }),
      ]),
    );
    const history = await system().call('GET', `/api/rooms/${room.id}/messages`, { token: ann.accessToken });
    expect(history.body).toEqual({ items: sent.slice(0, 3), hasMore: false });
    const secretHistory = await system().call('GET', `/api/rooms/${secret.id}/messages`, {
      token: session.accessToken,
    });
    expect(secretHistory.body.items).toEqual([sent[3]]);
  });

  it('a reconnecting client catches up with since, seq goes on from where it was, and clientMsgIds are remembered', async () => {
    const socket = await system().connect(ann.accessToken);
    const joined = await socket.request({ type: 'join', roomId: room.id, since: sent[0].id });
    expect(joined.missed).toEqual(sent.slice(1, 3));
    const retried = await socket.request({
      type: 'send',
      roomId: room.id,
      text: 'third',
      clientMsgId: 'k-third',
    });
    expect(retried.message).toEqual(sent[2]);
    const next = await socket.request({
      type: 'send',
      roomId: room.id,
      text: 'fourth',
      clientMsgId: 'k-fourth',
    });
    expect(next.message.seq).toBe(sent[2].seq + 1);
    socket.ws.close();
  });

  it('room names stay taken', async () => {
    const reply = await system().call('POST', '/api/rooms', {
      token: ann.accessToken,
      body: { name: 'durable', kind: 'public' },
    });
    expectError(reply, 409, 'ROOM_NAME_TAKEN');
  });
});
