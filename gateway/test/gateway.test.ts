import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@chat/shared';
import { LogCapture } from '@chat/testing';
import {
  closedOrigin,
  errorWith,
  rawExchange,
  send,
  startGateway,
  startUpstream,
  type Upstream,
} from './helpers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('gateway in front of running services', () => {
  let users: Upstream;
  let auth: Upstream;
  let chat: Upstream;
  let docsDir: string;
  let gateway: { url: string; stop(): Promise<void> };

  beforeAll(async () => {
    [users, auth, chat] = await Promise.all([
      startUpstream('users'),
      startUpstream('auth'),
      startUpstream('chat'),
    ]);
    docsDir = await mkdtemp(path.join(tmpdir(), 'gateway-docs-'));
    await writeFile(path.join(docsDir, 'index.html'), '<!doctype html><title>chat</title>');
    gateway = await startGateway({
      USERS_URL: users.url,
      AUTH_URL: auth.url,
      CHAT_URLS: chat.url,
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
      BODY_LIMIT_BYTES: '1024',
      OPENAPI_FILE: path.join(docsDir, 'openapi.json'),
      WEB_DIR: docsDir,
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([users.close(), auth.close(), chat.close()]);
    await rm(docsDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    for (const upstream of [users, auth, chat]) {
      upstream.seen.length = 0;
      upstream.answer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, url: req.url }));
      });
    }
  });

  describe('routing', () => {
    it.each([
      ['/api/users', 'users'],
      ['/api/users/me', 'users'],
      ['/api/users/u-1?fields=a&fields=b', 'users'],
      ['/api/auth/login', 'auth'],
      ['/api/auth/jwks', 'auth'],
      ['/api/rooms', 'chat'],
      ['/api/rooms/r-1/messages?before=m-9&limit=5', 'chat'],
      ['/api/direct/u-2', 'chat'],
    ] as const)('%s reaches %s-service with path and query unchanged', async (url, service) => {
      const reply = await send(gateway.url, url);
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ method: 'GET', url });
      const upstreams = { users, auth, chat };
      for (const [name, upstream] of Object.entries(upstreams)) {
        expect(upstream.seen.map((seen) => seen.url)).toEqual(name === service ? [url] : []);
      }
    });

    it('sends method and body through unchanged', async () => {
      const body = JSON.stringify({ username: 'alice', password: 'correct horse' });
      const reply = await send(gateway.url, '/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(reply.status).toBe(200);
      expect(auth.seen).toEqual([
        expect.objectContaining({
          method: 'POST',
          url: '/api/auth/login',
          body,
          complete: true,
          headers: expect.objectContaining({ 'content-type': 'application/json' }),
        }),
      ]);
    });

    it('streams a chunked body within the limit through whole', async () => {
      const chunks = [Buffer.from('{"name":'), Buffer.from('"general",'), Buffer.from('"kind":"public"}')];
      const reply = await send(gateway.url, '/api/rooms', { method: 'POST', chunks });
      expect(reply.status).toBe(200);
      expect(chat.seen[0]).toEqual(
        expect.objectContaining({ body: '{"name":"general","kind":"public"}', complete: true }),
      );
    });

    it.each(['/api/usersX', '/api/authority', '/api/room', '/api', '/nothing/here', '/api/docs'])(
      'answers 404 in the contract shape for %s and contacts no service',
      async (url) => {
        const reply = await send(gateway.url, url);
        expect(reply.status).toBe(404);
        expect(reply.json()).toEqual(errorWith('NOT_FOUND'));
        expect(reply.headers['x-request-id']).toMatch(UUID);
        expect([...users.seen, ...auth.seen, ...chat.seen]).toEqual([]);
      },
    );
  });

  describe('what passes through', () => {
    it("passes the service's status, body and headers, 401 with WWW-Authenticate included", async () => {
      users.answer((_req, res) => {
        res.writeHead(401, {
          'content-type': 'application/json; charset=utf-8',
          'www-authenticate': 'Bearer',
          'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
          'x-service-header': 'kept',
        });
        res.end('{"error":{"code":"UNAUTHENTICATED","message":"A valid access token is required."}}');
      });
      const reply = await send(gateway.url, '/api/users/me', {
        headers: { authorization: 'Bearer abc.def.ghi' },
      });
      expect(reply.status).toBe(401);
      expect(reply.body).toBe(
        '{"error":{"code":"UNAUTHENTICATED","message":"A valid access token is required."}}',
      );
      expect(reply.headers).toEqual(
        expect.objectContaining({
          'content-type': 'application/json; charset=utf-8',
          'www-authenticate': 'Bearer',
          'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
          'x-service-header': 'kept',
        }),
      );
      expect(users.seen[0]?.headers.authorization).toBe('Bearer abc.def.ghi');
    });

    it('passes 201 and 204 answers through', async () => {
      users.answer((req, res) => {
        if (req.method === 'DELETE') {
          res.writeHead(204).end();
          return;
        }
        res.writeHead(201, { 'content-type': 'application/json', location: '/api/users/u-9' });
        res.end('{"id":"u-9"}');
      });
      const created = await send(gateway.url, '/api/users', { method: 'POST', body: '{}' });
      expect(created).toEqual(expect.objectContaining({ status: 201, body: '{"id":"u-9"}' }));
      expect(created.headers.location).toBe('/api/users/u-9');
      const deleted = await send(gateway.url, '/api/users/u-9', { method: 'DELETE' });
      expect(deleted).toEqual(expect.objectContaining({ status: 204, body: '' }));
    });

    it('streams a large answer through intact', async () => {
      const big = 'x'.repeat(3 * 1024 * 1024);
      users.answer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(big);
      });
      const reply = await send(gateway.url, '/api/users');
      expect(reply.body.length).toBe(big.length);
      expect(reply.body === big).toBe(true);
    });

    it('drops hop-by-hop headers both ways and keeps end-to-end ones', async () => {
      users.answer((_req, res) => {
        res.writeHead(200, {
          connection: 'x-upstream-hop',
          'x-upstream-hop': 'secret',
          'proxy-authenticate': 'Basic',
          'x-upstream-kept': 'yes',
        });
        res.end('ok');
      });
      const reply = await send(gateway.url, '/api/users', {
        headers: {
          connection: 'keep-alive, x-client-hop',
          'keep-alive': 'timeout=5',
          'x-client-hop': 'secret',
          te: 'trailers',
          'proxy-authorization': 'Basic Zm9vOmJhcg==',
          upgrade: 'h2c',
          'x-client-kept': 'yes',
        },
      });
      expect(reply.status).toBe(200);
      expect(reply.headers['x-upstream-kept']).toBe('yes');
      expect(reply.headers['x-upstream-hop']).toBeUndefined();
      expect(reply.headers['proxy-authenticate']).toBeUndefined();
      const seen = users.seen[0]!.headers;
      expect(seen['x-client-kept']).toBe('yes');
      for (const name of ['x-client-hop', 'keep-alive', 'te', 'proxy-authorization', 'upgrade']) {
        expect(seen[name]).toBeUndefined();
      }
      expect(seen.connection).not.toContain('x-client-hop');
    });

    it("sets X-Forwarded-For/Proto/Host from the client's connection, not from what it claims", async () => {
      const reply = await send(gateway.url, '/api/users', {
        headers: {
          'x-forwarded-for': '203.0.113.7',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'evil.example',
        },
      });
      expect(reply.status).toBe(200);
      const seen = users.seen[0]!.headers;
      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen['x-forwarded-proto']).toBe('http');
      expect(seen['x-forwarded-host']).toBe(new URL(gateway.url).host);
      expect(seen.host).toBe(new URL(users.url).host);
    });
  });

  describe('request ids', () => {
    it('echoes a valid client id and forwards it to the service', async () => {
      const reply = await send(gateway.url, '/api/auth/jwks', {
        headers: { 'x-request-id': 'client-abc.123' },
      });
      expect(reply.headers['x-request-id']).toBe('client-abc.123');
      expect(auth.seen[0]?.headers['x-request-id']).toBe('client-abc.123');
    });

    it.each([
      ['absent', undefined],
      ['not safe to echo', 'has spaces; and <html>'],
    ])('generates one when the client id is %s, the same on both sides', async (_case, sent) => {
      const reply = await send(gateway.url, '/api/auth/jwks', {
        headers: sent === undefined ? {} : { 'x-request-id': sent },
      });
      const id = reply.headers['x-request-id'];
      expect(id).toMatch(UUID);
      expect(auth.seen[0]?.headers['x-request-id']).toBe(id);
    });
  });

  describe('body limit', () => {
    it('refuses a declared Content-Length over the limit with 413 before contacting the service', async () => {
      const reply = await send(gateway.url, '/api/users', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: 'x'.repeat(1025),
      });
      expect(reply.status).toBe(413);
      expect(reply.json()).toEqual(errorWith('PAYLOAD_TOO_LARGE'));
      expect(users.seen).toEqual([]);
    });

    it('accepts a body of exactly the limit', async () => {
      const reply = await send(gateway.url, '/api/users', { method: 'POST', body: 'x'.repeat(1024) });
      expect(reply.status).toBe(200);
      expect(users.seen[0]?.body.length).toBe(1024);
    });

    it('cuts a chunked body once it passes the limit, with 413, and the service never gets it whole', async () => {
      const chunks = Array.from({ length: 8 }, () => Buffer.alloc(400, 'y'));
      const reply = await send(gateway.url, '/api/users', { method: 'POST', chunks });
      expect(reply.status).toBe(413);
      expect(reply.json()).toEqual(errorWith('PAYLOAD_TOO_LARGE'));
      expect(users.seen.filter((seen) => seen.complete)).toEqual([]);
    });
  });

  describe('CORS', () => {
    it('grants an allowed origin and exposes the request id', async () => {
      const reply = await send(gateway.url, '/api/users', { headers: { origin: 'https://app.example.com' } });
      expect(reply.status).toBe(200);
      expect(reply.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(reply.headers['access-control-expose-headers']).toContain('x-request-id');
    });

    it('answers an allowed preflight itself', async () => {
      const reply = await send(gateway.url, '/api/rooms', {
        method: 'OPTIONS',
        headers: {
          origin: 'http://localhost:5173',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      expect(reply.status).toBe(204);
      expect(reply.headers['access-control-allow-origin']).toBe('http://localhost:5173');
      expect(reply.headers['access-control-allow-methods']).toContain('POST');
      expect(reply.headers['access-control-allow-headers']).toBe('authorization, content-type');
      expect(chat.seen).toEqual([]);
    });

    it('grants nothing to an origin not on the list', async () => {
      const reply = await send(gateway.url, '/api/users', { headers: { origin: 'https://evil.example' } });
      expect(reply.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await send(gateway.url, '/api/users', {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' },
      });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.headers['access-control-allow-methods']).toBeUndefined();
    });
  });

  describe('what a client may send', () => {
    it.each(['/api/users/%E0%A4%A', '/api/rooms/%', '/nothing/%zz'])(
      'answers a malformed URL %s with 400 in the contract shape, not 500',
      async (url) => {
        const reply = await send(gateway.url, url);
        expect(reply.status).toBe(400);
        expect(reply.json()).toEqual(errorWith('BAD_REQUEST'));
        expect([...users.seen, ...chat.seen]).toEqual([]);
      },
    );

    it('forwards an absolute-form request target in origin form', async () => {
      const answer = await rawExchange(
        gateway.url,
        'GET http://evil.example/api/users/u-1?x=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
      );
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(users.seen.map((seen) => seen.url)).toEqual(['/api/users/u-1?x=1']);
      expect(users.seen[0]?.headers.host).toBe(new URL(users.url).host);
    });

    it.each([
      [
        'a Content-Length that is not a number',
        'POST /api/users HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n',
      ],
      [
        'both Content-Length and chunked',
        'POST /api/users HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      ],
      ['a space in the path', 'GET /api/users/a b HTTP/1.1\r\nHost: a\r\n\r\n'],
    ])('refuses a request with %s with 400 and contacts no service', async (_case, text) => {
      const answer = await rawExchange(gateway.url, text);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(users.seen).toEqual([]);
    });

    it('answers oversized headers with 431 and keeps serving', async () => {
      const reply = await send(gateway.url, '/api/users', { headers: { 'x-huge': 'h'.repeat(64 * 1024) } });
      expect(reply.status).toBe(431);
      expect((await send(gateway.url, '/api/users')).status).toBe(200);
    });

    it('survives an upload the client abandons and keeps serving', async () => {
      const url = new URL(gateway.url);
      await new Promise<void>((resolve) => {
        const req = http.request({ host: url.hostname, port: url.port, path: '/api/users', method: 'POST' });
        req.on('error', () => resolve());
        req.write('{"partial":');
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 100);
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await send(gateway.url, '/api/users')).status).toBe(200);
      expect(users.seen.filter((seen) => seen.method === 'POST' && seen.complete)).toEqual([]);
    });
  });

  describe('its own routes', () => {
    it('serves security headers fit for a same-origin web client', async () => {
      const reply = await send(gateway.url, '/api/users');
      const csp = String(reply.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("connect-src 'self' ws: wss:");
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.headers['x-powered-by']).toBeUndefined();
    });

    it('answers 404 for the OpenAPI document until it exists, then serves it', async () => {
      const absent = await send(gateway.url, '/api/docs/openapi.json');
      expect(absent.status).toBe(404);
      expect(absent.json()).toEqual(errorWith('NOT_FOUND'));
      const document = { openapi: '3.1.0', info: { title: 'chat', version: '1' }, paths: {} };
      await writeFile(path.join(docsDir, 'openapi.json'), JSON.stringify(document));
      const present = await send(gateway.url, '/api/docs/openapi.json');
      expect(present.status).toBe(200);
      expect(present.headers['content-type']).toMatch(/^application\/json/);
      expect(present.json()).toEqual(document);
    });

    it('serves the web client from WEB_DIR', async () => {
      const reply = await send(gateway.url, '/');
      expect(reply.status).toBe(200);
      expect(reply.body).toContain('<title>chat</title>');
    });

    it('answers /healthz and /readyz while every service is up', async () => {
      expect((await send(gateway.url, '/healthz')).json()).toEqual({ status: 'ok' });
      const ready = await send(gateway.url, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.json()).toEqual({ status: 'ready', checks: { users: 'ok', auth: 'ok', chat: 'ok' } });
    });
  });
});

describe('gateway when services fail', () => {
  let users: Upstream;
  let gateway: { url: string; stop(): Promise<void> };
  let deadAuth: string;

  beforeAll(async () => {
    users = await startUpstream('users');
    deadAuth = await closedOrigin();
    gateway = await startGateway({ USERS_URL: users.url, AUTH_URL: deadAuth, UPSTREAM_TIMEOUT_MS: '300' });
  });

  afterAll(async () => {
    await gateway?.stop();
    await users.close();
  });

  it('answers 503 UPSTREAM_UNAVAILABLE when the service refuses connections', async () => {
    const reply = await send(gateway.url, '/api/auth/login', {
      method: 'POST',
      headers: { 'x-request-id': 'down-1' },
      body: '{}',
    });
    expect(reply.status).toBe(503);
    expect(reply.json()).toEqual(errorWith('UPSTREAM_UNAVAILABLE'));
    expect(reply.headers['x-request-id']).toBe('down-1');
  });

  it('answers 503 when the service does not answer within UPSTREAM_TIMEOUT_MS', async () => {
    users.answer(() => undefined);
    const started = Date.now();
    const reply = await send(gateway.url, '/api/users/slow');
    expect(reply.status).toBe(503);
    expect(reply.json()).toEqual(errorWith('UPSTREAM_UNAVAILABLE'));
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('answers 503 when the service resets the connection', async () => {
    users.answer((req) => req.socket.destroy());
    const reply = await send(gateway.url, '/api/users/reset');
    expect(reply.status).toBe(503);
    expect(reply.json()).toEqual(errorWith('UPSTREAM_UNAVAILABLE'));
  });

  it('cuts the client connection when the service dies mid-answer, so a partial body never looks whole', async () => {
    users.answer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"items":[');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await expect(send(gateway.url, '/api/users')).rejects.toThrow();
    users.answer((_req, res) => res.end('ok'));
    expect((await send(gateway.url, '/api/users')).status).toBe(200);
  });

  it('answers 503 for chat routes while no chat instance is configured', async () => {
    for (const url of ['/api/rooms', '/api/direct/u-2']) {
      const reply = await send(gateway.url, url);
      expect(reply.status).toBe(503);
      expect(reply.json()).toEqual(errorWith('UPSTREAM_UNAVAILABLE'));
    }
  });

  it('stays alive (/healthz) but not ready (/readyz names the service) while one is down', async () => {
    expect((await send(gateway.url, '/healthz')).status).toBe(200);
    const ready = await send(gateway.url, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json()).toEqual({ status: 'unavailable', checks: { users: 'ok', auth: 'unavailable' } });
  });
});

describe('gateway readiness with several chat instances', () => {
  let live: Upstream;
  let dead: string;

  beforeAll(async () => {
    live = await startUpstream('live');
    dead = await closedOrigin();
  });

  afterAll(() => live.close());

  it.each([
    ['one of two instances answers', 200, 'ok', () => `${dead},${live.url}`],
    ['no instance answers', 503, 'unavailable', () => dead],
  ] as const)('when %s, /readyz answers %i', async (_case, status, chat, chatUrls) => {
    const gateway = await startGateway({ USERS_URL: live.url, AUTH_URL: live.url, CHAT_URLS: chatUrls() });
    try {
      const ready = await send(gateway.url, '/readyz');
      expect(ready.status).toBe(status);
      expect(ready.json()).toEqual(expect.objectContaining({ checks: { users: 'ok', auth: 'ok', chat } }));
    } finally {
      await gateway.stop();
    }
  });
});

describe('gateway rate limit', () => {
  let users: Upstream;
  let gateway: { url: string; stop(): Promise<void> };

  beforeAll(async () => {
    users = await startUpstream('users');
    gateway = await startGateway({
      USERS_URL: users.url,
      AUTH_URL: users.url,
      RATE_LIMIT_PER_MINUTE: '3',
      CORS_ORIGINS: 'https://app.example.com',
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await users.close();
  });

  it('answers 429 RATE_LIMITED with Retry-After, readable cross-origin, once a client passes its budget, and spares the probes', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(gateway.url, '/api/users')).status);
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await send(gateway.url, '/api/users', { headers: { origin: 'https://app.example.com' } });
    expect(limited.status).toBe(429);
    expect(limited.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(limited.json()).toEqual(errorWith('RATE_LIMITED'));
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(users.seen.filter((seen) => seen.url === '/api/users')).toHaveLength(3);
    expect((await send(gateway.url, '/healthz')).status).toBe(200);
  });
});

describe('gateway with defaults', () => {
  let users: Upstream;
  let gateway: { url: string; stop(): Promise<void> };

  beforeAll(async () => {
    users = await startUpstream('users');
    gateway = await startGateway({ USERS_URL: users.url, AUTH_URL: users.url });
  });

  afterAll(async () => {
    await gateway?.stop();
    await users.close();
  });

  it('grants no cross-origin access when CORS_ORIGINS is empty, and still serves same-origin requests', async () => {
    const cross = await send(gateway.url, '/api/users', { headers: { origin: 'https://app.example.com' } });
    expect(cross.status).toBe(200);
    expect(cross.headers['access-control-allow-origin']).toBeUndefined();
    const same = await send(gateway.url, '/api/users', {
      method: 'POST',
      headers: { origin: gateway.url },
      body: '{}',
    });
    expect(same.status).toBe(200);
  });

  it('serves nothing at / without WEB_DIR', async () => {
    const reply = await send(gateway.url, '/');
    expect(reply.status).toBe(404);
    expect(reply.json()).toEqual(errorWith('NOT_FOUND'));
  });
});

describe('gateway access log', () => {
  let users: Upstream;
  let gateway: { url: string; stop(): Promise<void> };
  const logs = new LogCapture();

  beforeAll(async () => {
    users = await startUpstream('users');
    const logger = createLogger('gateway', 'http', [logs.transport]);
    gateway = await startGateway({ USERS_URL: users.url, AUTH_URL: users.url }, { logger });
  });

  afterAll(async () => {
    await gateway?.stop();
    await users.close();
  });

  it('logs each request under its own id, though answers come back over one pooled upstream connection', async () => {
    const ids = ['log-1', 'log-2', 'log-3'];
    for (const id of ids) await send(gateway.url, `/api/users/${id}`, { headers: { 'x-request-id': id } });
    const logged = logs.entries().filter((line) => line.message === 'request');
    expect(logged.map((line) => [line.requestId, line.url])).toEqual(
      ids.map((id) => [id, `/api/users/${id}`]),
    );
  });
});
