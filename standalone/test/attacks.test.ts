import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { authRoutes, createApp as createAuthApp, loadAuthConfig } from '@chat/auth-service';
import { chatRoutes, createApp as createChatApp, loadChatConfig } from '@chat/chat-service';
import { createLogger, MemoryBus, type RouteDescription, type ServiceApp } from '@chat/shared';
import { createApp as createUsersApp, loadUsersConfig, usersRoutes } from '@chat/users-service';
import {
  base64urlJson,
  expectError,
  PASSWORD,
  refusedUpgrade,
  startSystem,
  uniqueUsername,
  type Json,
  type Reply,
  type TestSystem,
} from './support/system';

/**
 * Issue 9, findings 4, 5, 8 and 10, replayed against the whole system (what `npm start` runs) as a client
 * would, through the gateway: each attack must fail.
 */

/** Tokens that are not well-formed JWTs (finding 4), each of a kind that once answered 500 or 503. */
const MALFORMED_TOKENS: Array<[string, string]> = [
  [
    'a JSON header over a payload that is not JSON',
    `${base64urlJson({ alg: 'ES256', kid: 'x', typ: 'JWT' })}.${Buffer.from('not json').toString('base64url')}.c2ln`,
  ],
  ['not a JWT at all', 'garbage'],
  ['two parts only', `${base64urlJson({ alg: 'ES256', kid: 'x' })}.${base64urlJson({ sub: 'x' })}`],
  [
    'a header that is not JSON',
    `${Buffer.from('{nope').toString('base64url')}.${base64urlJson({ sub: 'x' })}.c2ln`,
  ],
  ['a header that is JSON null', `${base64urlJson(null)}.${base64urlJson({ sub: 'x' })}.c2ln`],
  [
    'a payload that is a JSON number',
    `${base64urlJson({ alg: 'ES256', kid: 'x', typ: 'JWT' })}.${base64urlJson(7)}.c2ln`,
  ],
  ['empty parts', '..'],
];

/** Every route that requires a token, as `[method, path]` with path parameters filled in. */
function authenticatedRoutes(routes: readonly RouteDescription[]): Array<[string, string]> {
  return routes
    .filter((route) => route.auth)
    .map((route) => [route.method.toUpperCase(), route.path.replace(/\{[^}]+\}/g, 'x')]);
}

const ALL_AUTHENTICATED = [
  ...authenticatedRoutes(usersRoutes),
  ...authenticatedRoutes(authRoutes),
  ...authenticatedRoutes(chatRoutes),
];

async function rawCall(
  baseUrl: string,
  method: string,
  pathname: string,
  headers: Record<string, string>,
  body?: Buffer | string,
): Promise<Reply> {
  const response = await fetch(`${baseUrl}${pathname}`, {
    method,
    headers,
    body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : undefined,
    text,
  };
}

describe('attacks on the whole system (issue 9)', () => {
  let system: TestSystem;

  beforeAll(async () => {
    // TRUST_PROXY 1: the test plays clients at several addresses, as a proxy in front of the gateway says.
    system = await startSystem({ TRUST_PROXY: '1', RATE_LIMIT_PER_MINUTE: '100000' });
  });

  afterAll(async () => {
    await system.stop();
  });

  describe('finding 4: malformed tokens and encoded bodies', () => {
    it.each(MALFORMED_TOKENS)(
      '%s is 401 UNAUTHENTICATED on every route that takes a token',
      async (_kind, token) => {
        expect(ALL_AUTHENTICATED.length).toBeGreaterThan(10);
        for (const [method, pathname] of ALL_AUTHENTICATED) {
          const reply = await system.call(method, pathname, {
            token,
            ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }),
          });
          expect({ route: `${method} ${pathname}`, status: reply.status }).toEqual({
            route: `${method} ${pathname}`,
            status: 401,
          });
          expectError(reply, 401, 'UNAUTHENTICATED');
        }
      },
    );

    it.each(MALFORMED_TOKENS)(
      '%s refuses the socket upgrade with 401 (not 503), as ?token= and as a header',
      async (_kind, token) => {
        for (const bearer of [false, true]) {
          const refused = await refusedUpgrade(system.wsUrl, { token, bearer });
          expect(refused).toMatchObject({
            status: 401,
            opened: false,
            body: { error: { code: 'UNAUTHENTICATED' } },
          });
        }
      },
    );

    it('in a socket `refresh` frame answers an UNAUTHENTICATED error (not INTERNAL), and the socket stays open', async () => {
      const session = await system.account('refresher');
      const socket = await system.connect(session.accessToken);
      for (const [, token] of MALFORMED_TOKENS) {
        const reply = await socket.request({ type: 'refresh', token });
        expect(reply).toMatchObject({ type: 'error', code: 'UNAUTHENTICATED' });
      }
      expect(await socket.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      socket.ws.close();
    });

    it.each([
      [
        'gzip over a plain body',
        'gzip',
        Buffer.from(JSON.stringify({ username: 'zipper', password: PASSWORD })),
      ],
      ['a real gzip body', 'gzip', gzipSync(JSON.stringify({ username: 'zipper2', password: PASSWORD }))],
      ['br over a plain body', 'br', Buffer.from(JSON.stringify({ username: 'broti', password: PASSWORD }))],
      ['an unknown coding', 'x-made-up', Buffer.from('{}')],
    ])(
      'a body with %s is 415 UNSUPPORTED_MEDIA_TYPE through the gateway, never 500',
      async (_kind, encoding, body) => {
        const session = await system.account('encoder');
        for (const [method, pathname, token] of [
          ['POST', '/api/users', undefined],
          ['POST', '/api/auth/login', undefined],
          ['POST', '/api/rooms', session.accessToken],
          ['PATCH', `/api/users/${session.id}`, session.accessToken],
        ] as const) {
          const reply = await rawCall(
            system.url,
            method,
            pathname,
            {
              'content-type': 'application/json',
              'content-encoding': encoding,
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
            body,
          );
          expectError(reply, 415, 'UNSUPPORTED_MEDIA_TYPE');
        }
      },
    );
  });

  describe('finding 8: login limits slow guessing but do not lock the owner out', () => {
    const login = (username: string, password: string, address: string) =>
      system.call('POST', '/api/auth/login', {
        body: { username, password },
        headers: { 'x-forwarded-for': address },
      });

    it("a stranger's failures, by username and by email, from another address never lock the owner out", async () => {
      const owner = await system.signup('owner', { email: `${uniqueUsername('o')}@example.com` });
      const email = owner.user.email as string;
      for (let i = 0; i < 12; i++) {
        const reply = await login(
          i % 2 === 0 ? owner.username : email.toUpperCase(),
          `guess ${i}`,
          '203.0.113.9',
        );
        expect([401, 429]).toContain(reply.status);
      }
      expect((await login(owner.username, PASSWORD, '198.51.100.20')).status).toBe(200);
      expect((await login(email, PASSWORD, '198.51.100.21')).status).toBe(200);
    });

    it('guessing from one address is slowed: after the free failures, even the right password must wait, counted across the username and email forms', async () => {
      const owner = await system.signup('slowed', { email: `${uniqueUsername('s')}@example.com` });
      const email = owner.user.email as string;
      const address = '203.0.113.10';
      // The default: 5 failures free, then waits from 30 s up.
      for (const [i, form] of [
        owner.username,
        email,
        owner.username.toUpperCase(),
        email.toUpperCase(),
        owner.username,
      ].entries())
        expect((await login(form, `guess ${i}`, address)).status).toBe(401);
      const waits: number[] = [];
      for (const form of [email, owner.username, email]) {
        const refused = await login(form, PASSWORD, address);
        expectError(refused, 429, 'RATE_LIMITED');
        waits.push(Number(refused.headers.get('retry-after')));
      }
      expect(Math.min(...waits)).toBeGreaterThan(20);
    });
  });

  describe('finding 10: rooms', () => {
    it("creating a private room never reveals another private room's name", async () => {
      const alice = await system.account('alice');
      const mallory = await system.account('mallory');
      const secret = `merger ${randomBytes(4).toString('hex')}`;
      const hidden = await system.call('POST', '/api/rooms', {
        token: alice.accessToken,
        body: { name: secret, kind: 'private' },
      });
      expect(hidden.status).toBe(201);
      for (const probe of [secret, secret.toUpperCase()]) {
        const reply = await system.call('POST', '/api/rooms', {
          token: mallory.accessToken,
          body: { name: probe, kind: 'private' },
        });
        expect(reply.status).toBe(201);
      }
      // A public room of that name is no probe either: the private one does not hold the name.
      const open = await system.call('POST', '/api/rooms', {
        token: mallory.accessToken,
        body: { name: secret, kind: 'public' },
      });
      expect(open.status).toBe(201);
      const directory = await system.call('GET', `/api/rooms/public?q=${encodeURIComponent(secret)}`, {
        token: mallory.accessToken,
      });
      expect(directory.body.items.map((room: Json) => room.id)).toEqual([open.body.id]);
    });

    it('the public directory is paged: GET /api/rooms/public?q=&limit=&cursor= answers {items, nextCursor}', async () => {
      const owner = await system.account('lister');
      const prefix = `dir ${randomBytes(3).toString('hex')}`;
      for (let i = 0; i < 7; i++) {
        const created = await system.call('POST', '/api/rooms', {
          token: owner.accessToken,
          body: { name: `${prefix} ${i}`, kind: 'public' },
        });
        expect(created.status).toBe(201);
      }
      const names: string[] = [];
      let cursor = '';
      for (let page = 0; page < 5; page++) {
        const reply = await system.call(
          'GET',
          `/api/rooms/public?q=${encodeURIComponent(prefix)}&limit=3&cursor=${encodeURIComponent(cursor)}`,
          { token: owner.accessToken },
        );
        expect(reply.status).toBe(200);
        expect(Object.keys(reply.body).sort()).toEqual(['items', 'nextCursor']);
        names.push(...reply.body.items.map((room: Json) => room.name));
        if (reply.body.nextCursor === null) break;
        cursor = reply.body.nextCursor;
      }
      expect(names).toEqual(Array.from({ length: 7 }, (_, i) => `${prefix} ${i}`));
    });

    it('a clientMsgId reused in another room is another message there, not an ack of the first room’s', async () => {
      const sender = await system.account('sender');
      const rooms: Json[] = [];
      for (const name of ['first', 'second']) {
        const reply = await system.call('POST', '/api/rooms', {
          token: sender.accessToken,
          body: { name: `${name} ${randomBytes(3).toString('hex')}`, kind: 'private' },
        });
        rooms.push(reply.body);
      }
      const socket = await system.connect(sender.accessToken);
      const first = await socket.request({
        type: 'send',
        roomId: rooms[0].id,
        text: 'one',
        clientMsgId: 'same',
      });
      const second = await socket.request({
        type: 'send',
        roomId: rooms[1].id,
        text: 'two',
        clientMsgId: 'same',
      });
      expect(second).toMatchObject({ type: 'ack', message: { roomId: rooms[1].id, text: 'two', seq: 1 } });
      expect(second.message.id).not.toBe(first.message.id);
      const resent = await socket.request({
        type: 'send',
        roomId: rooms[1].id,
        text: 'two',
        clientMsgId: 'same',
      });
      expect(resent.message).toEqual(second.message);
      const history = await system.call('GET', `/api/rooms/${rooms[1].id}/messages`, {
        token: sender.accessToken,
      });
      expect(history.body.items.map((message: Json) => message.text)).toEqual(['two']);
      socket.ws.close();
    });
  });
});

describe('attack: signups that the gateway gave up on (issue 9, finding 5)', () => {
  let system: TestSystem;

  beforeAll(async () => {
    // Hashes take long enough, and may wait long enough, that the gateway times out on some signups.
    system = await startSystem({
      BCRYPT_COST: '11',
      UPSTREAM_TIMEOUT_MS: '600',
      SIGNUP_QUEUE_TIMEOUT_MS: '30000',
      SIGNUP_QUEUE_MAX: '100',
      RATE_LIMIT_PER_MINUTE: '100000',
    });
  });

  afterAll(async () => {
    await system.stop();
  });

  it('a signup that answered 503 at the gateway left no account: its retry is 201, never USERNAME_TAKEN', async () => {
    const names = Array.from({ length: 24 }, () => uniqueUsername('burst'));
    const answers = await Promise.all(
      names.map((username) => system.call('POST', '/api/users', { body: { username, password: PASSWORD } })),
    );
    const statuses = answers.map((reply) => reply.status);
    expect(statuses.every((status) => status === 201 || status === 503)).toBe(true);
    expect(statuses.filter((status) => status === 503).length).toBeGreaterThan(0);
    for (const [index, reply] of answers.entries()) {
      if (reply.status === 201) continue;
      expectError(reply, 503, 'UPSTREAM_UNAVAILABLE');
      const retry = await system.call('POST', '/api/users', {
        body: { username: names[index], password: PASSWORD },
      });
      expect({ username: names[index], status: retry.status }).toEqual({
        username: names[index],
        status: 201,
      });
    }
  });
});

describe('attack: reaching each service directly (issue 9, findings 4 and 9)', () => {
  const logger = createLogger('attacks', 'error');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'chat-attacks-'));
  const bus = new MemoryBus({ logger });
  const apps: ServiceApp[] = [];
  const urls: Record<'users' | 'auth' | 'chat', string> = { users: '', auth: '', chat: '' };

  beforeAll(async () => {
    const env = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error', DATA_DIR: dataDir, BCRYPT_COST: '4' };
    const started: Array<[keyof typeof urls, ServiceApp]> = [
      ['users', createUsersApp(loadUsersConfig(env), { bus, logger })],
      ['auth', createAuthApp(loadAuthConfig(env), { bus, logger })],
      ['chat', createChatApp(loadChatConfig(env), { bus, logger })],
    ];
    for (const [name, app] of started) {
      urls[name] = (await app.start()).url;
      apps.push(app);
    }
  });

  afterAll(async () => {
    for (const app of apps.reverse()) await app.stop();
    await bus.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([
    ['users', 'POST', '/api/users'],
    ['auth', 'POST', '/api/auth/login'],
    ['auth', 'POST', '/api/auth/refresh'],
    ['chat', 'POST', '/api/rooms'],
  ] as const)('%s-service answers a gzip body 415 on %s %s, never 500', async (service, method, pathname) => {
    for (const body of [Buffer.from('{"a":1}'), gzipSync('{"a":1}')]) {
      const reply = await rawCall(
        urls[service],
        method,
        pathname,
        { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: 'Bearer garbage' },
        body,
      );
      expect(reply.status).toBe(415);
      expect(reply.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it.each(MALFORMED_TOKENS)('each service answers %s with 401 on its own routes', async (_kind, token) => {
    for (const [service, routes] of [
      ['users', usersRoutes],
      ['auth', authRoutes],
      ['chat', chatRoutes],
    ] as const) {
      for (const [method, pathname] of authenticatedRoutes(routes)) {
        const reply = await rawCall(urls[service], method, pathname, { authorization: `Bearer ${token}` });
        expect({ route: `${service} ${method} ${pathname}`, status: reply.status }).toEqual({
          route: `${service} ${method} ${pathname}`,
          status: 401,
        });
      }
    }
  });

  it('a client at a service port cannot pick its address with X-Forwarded-For (TRUST_PROXY defaults to 0 everywhere)', async () => {
    for (const name of ['users', 'auth', 'chat'] as const) {
      const config = { users: loadUsersConfig, auth: loadAuthConfig, chat: loadChatConfig }[name]({});
      expect({ name, trustProxy: config.TRUST_PROXY }).toEqual({ name, trustProxy: 0 });
    }
    // 20 failed logins from "20 addresses" are 20 from this one: the next is refused.
    for (let i = 0; i < 20; i++) {
      const reply = await rawCall(
        urls.auth,
        'POST',
        '/api/auth/login',
        { 'content-type': 'application/json', 'x-forwarded-for': `203.0.113.${i + 1}` },
        JSON.stringify({ username: uniqueUsername('nobody'), password: 'wrong password' }),
      );
      expect(reply.status).toBe(401);
    }
    const refused = await rawCall(
      urls.auth,
      'POST',
      '/api/auth/login',
      { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.200' },
      JSON.stringify({ username: uniqueUsername('nobody'), password: 'wrong password' }),
    );
    expect(refused.status).toBe(429);
  });
});
