import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expectError, expectInvalidField, postChunked, startSystem, type TestSystem } from './support/system';

/** The contract's conventions (README, "API"): what every answer through the gateway looks like. */
describe('contract: conventions', () => {
  let system: TestSystem;
  let token: string;

  beforeAll(async () => {
    system = await startSystem();
    token = (await system.account('conv')).accessToken;
  });

  afterAll(async () => {
    await system.stop();
  });

  describe('x-request-id', () => {
    it.each([
      ['GET', '/healthz'],
      ['GET', '/readyz'],
      ['GET', '/api/auth/jwks'],
      ['GET', '/api/users/me'],
      ['GET', '/api/rooms'],
      ['GET', '/api/nothing-here'],
      ['POST', '/api/users'],
    ])('is on the answer to %s %s, fresh for each request', async (method, pathname) => {
      const first = await system.call(method, pathname);
      const second = await system.call(method, pathname);
      expect(first.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{8,}$/);
      expect(second.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
    });

    it.each([
      ['GET', '/api/users/me', true],
      ['GET', '/api/users/me', false],
      ['GET', '/api/rooms', true],
      ['POST', '/api/auth/login', false],
      ['GET', '/api/auth/jwks', false],
      ['GET', '/healthz', false],
      ['GET', '/api/nothing-here', false],
    ])('is echoed when the client sent one: %s %s (signed in: %s)', async (method, pathname, signedIn) => {
      const requestId = `client-${method}-${Date.now()}`;
      const reply = await system.call(method, pathname, {
        token: signedIn ? token : undefined,
        headers: { 'x-request-id': requestId },
        body: method === 'POST' ? { username: 'nobody_here', password: 'x' } : undefined,
      });
      expect(reply.headers.get('x-request-id')).toBe(requestId);
    });
  });

  describe('error answers', () => {
    it('an unknown path is 404 NOT_FOUND in the error shape', async () => {
      expectError(await system.call('GET', '/api/nothing-here'), 404, 'NOT_FOUND');
      expectError(await system.call('DELETE', '/api/auth/nothing-here'), 404, 'NOT_FOUND');
    });

    it('a missing token is 401 UNAUTHENTICATED with WWW-Authenticate: Bearer on every service', async () => {
      for (const [method, pathname] of [
        ['GET', '/api/users'],
        ['GET', '/api/users/me'],
        ['POST', '/api/auth/logout'],
        ['GET', '/api/rooms'],
        ['POST', '/api/direct/someone'],
      ] as const) {
        expectError(await system.call(method, pathname), 401, 'UNAUTHENTICATED');
      }
    });

    it.each([
      ['Basic dXNlcjpwYXNz'],
      ['Bearer'],
      ['Bearer not.a.jwt'],
      ['Bearer a b'],
      [`Bearer ${'x'.repeat(5000)}`],
    ])('a malformed Authorization header (%#) is 401, not 400 or 500', async (authorization) => {
      for (const pathname of ['/api/users/me', '/api/rooms']) {
        expectError(
          await system.call('GET', pathname, { headers: { authorization } }),
          401,
          'UNAUTHENTICATED',
        );
      }
    });

    it.each([
      ['/api/users', {}],
      ['/api/auth/login', {}],
      ['/api/auth/refresh', {}],
      ['/api/rooms', { auth: true }],
    ])('malformed JSON to %s is 400 INVALID_JSON', async (pathname, options) => {
      for (const body of ['{"username": ', '{username: "x"}', "{'a': 1}", '[1,2', 'nul']) {
        const reply = await system.call('POST', pathname, {
          body,
          token: 'auth' in options ? token : undefined,
        });
        expectError(reply, 400, 'INVALID_JSON');
      }
    });

    it('a JSON body that is not an object is 400, never stored or 500', async () => {
      for (const body of ['null', '"text"', '42', '[]', 'true']) {
        const reply = await system.call('POST', '/api/users', { body });
        expect(reply.status).toBe(400);
        expect(['INVALID_JSON', 'VALIDATION_FAILED']).toContain(reply.body.error.code);
        expectError(reply, 400, reply.body.error.code);
      }
    });

    it('a body over the limit is 413 PAYLOAD_TOO_LARGE, declared or streamed', async () => {
      const big = JSON.stringify({ username: 'big_one', password: 'x'.repeat(70_000) });
      expectError(await system.call('POST', '/api/users', { body: big }), 413, 'PAYLOAD_TOO_LARGE');
      expectError(
        await system.call('POST', '/api/rooms', {
          body: JSON.stringify({ name: 'r'.repeat(70_000), kind: 'public' }),
          token,
        }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      const streamed = await postChunked(system.url, '/api/users', 200_000);
      expect(streamed.status).toBe(413);
      expect(streamed.body.error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(streamed.headers['x-request-id']).toBeTruthy();
    });

    it('a body just under the limit is read and validated (400, not 413)', async () => {
      const reply = await system.call('POST', '/api/users', {
        body: { username: 'under_limit', password: 'x'.repeat(60_000) },
      });
      expectInvalidField(reply, 'password');
    });

    it('a URL whose percent-encoding does not decode is 400, not 500', async () => {
      for (const pathname of ['/api/users/%E0%A4%A', '/api/rooms/%ZZ/messages', '/api/direct/%C0']) {
        const reply = await system.call('GET', pathname, { token });
        expect(reply.status).toBe(400);
        expect(Object.keys(reply.body)).toEqual(['error']);
        expect(reply.headers.get('x-request-id')).toBeTruthy();
      }
    });
  });

  describe('query operators and unknown fields', () => {
    const operator = { $ne: null };

    it.each([
      ['POST', '/api/users', { username: operator, password: 'long enough pw' }, 'username'],
      ['POST', '/api/users', { username: 'op_user_1', password: operator }, 'password'],
      ['POST', '/api/users', { username: 'op_user_2', password: 'long enough pw', email: operator }, 'email'],
      ['POST', '/api/auth/login', { username: operator, password: 'whatever1' }, 'username'],
      ['POST', '/api/auth/login', { username: 'op_user_3', password: operator }, 'password'],
      ['POST', '/api/auth/refresh', { refreshToken: operator }, 'refreshToken'],
      ['POST', '/api/rooms', { name: operator, kind: 'public' }, 'name'],
      ['POST', '/api/rooms', { name: 'op-room', kind: { $in: ['public'] } }, 'kind'],
    ])('%s %s with {"$ne": null} in a field is 400', async (method, pathname, body, field) => {
      const reply = await system.call(method, pathname, { body, token });
      expectInvalidField(reply, field);
    });

    it('operators in query strings are 400, not a filter', async () => {
      for (const query of ['q[$ne]=x', 'q[$gt]=', 'limit[$gt]=0', 'cursor[$ne]=1']) {
        expectError(await system.call('GET', `/api/users?${query}`, { token }), 400, 'VALIDATION_FAILED');
      }
    });

    it.each([
      ['/api/users', { username: 'extra_field', password: 'long enough pw', isAdmin: true }, 'isAdmin'],
      ['/api/users', { username: 'extra_role', password: 'long enough pw', role: 'admin' }, 'role'],
      ['/api/auth/login', { username: 'x_user', password: 'long enough pw', remember: true }, 'remember'],
      ['/api/auth/refresh', { refreshToken: 'abc', sid: 'x' }, 'sid'],
      ['/api/rooms', { name: 'extra-room', kind: 'public', owner: 'someone' }, 'owner'],
    ])('an unknown body field to %s is 400 naming the field', async (pathname, body, field) => {
      const reply = await system.call('POST', pathname, { body, token });
      expectError(reply, 400, 'VALIDATION_FAILED');
      expect(JSON.stringify(reply.body.error.details)).toContain(field);
    });

    it('a refused signup with an unknown field creates no account', async () => {
      const username = 'never_stored';
      await system.call('POST', '/api/users', {
        body: { username, password: 'long enough pw', role: 'admin' },
      });
      const found = await system.call('GET', `/api/users?q=${username}`, { token });
      expect(found.body.items).toEqual([]);
      const login = await system.call('POST', '/api/auth/login', {
        body: { username, password: 'long enough pw' },
      });
      expectError(login, 401, 'INVALID_CREDENTIALS');
    });
  });

  describe('health and docs', () => {
    it('GET /healthz and /readyz answer 200 on the gateway', async () => {
      const health = await system.call('GET', '/healthz');
      expect(health.status).toBe(200);
      const ready = await system.call('GET', '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('ready');
    });

    it('GET /api/docs/openapi.json serves docs/openapi.json as it is in the repository', async () => {
      const reply = await system.call('GET', '/api/docs/openapi.json');
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(reply.body.openapi).toBe('3.1.0');
      const file = readFileSync(path.resolve(__dirname, '../../docs/openapi.json'), 'utf8');
      expect(reply.text).toBe(file);
    });
  });

  describe('methods (issue 14)', () => {
    it.each([
      ['DELETE', '/healthz', 'GET, HEAD, OPTIONS'],
      ['DELETE', '/api/auth/jwks', 'GET, HEAD, OPTIONS'],
      ['POST', '/api/docs/openapi.json', 'GET, HEAD, OPTIONS'],
      ['PUT', '/api/auth/login', 'OPTIONS, POST'],
      ['PATCH', '/api/users/me', 'GET, HEAD, OPTIONS'],
      ['QUERY', '/api/rooms/r1/members/me', 'DELETE, OPTIONS'],
    ])('%s %s, a method the path does not have, is 405 with Allow: %s', async (method, pathname, allow) => {
      const reply = await system.call(method, pathname, { token });
      expectError(reply, 405, 'METHOD_NOT_ALLOWED');
      expect(reply.headers.get('allow')).toBe(allow);
    });

    it('OPTIONS lists the methods the document gives the path, and nothing it gives another', async () => {
      const reply = await system.call('OPTIONS', '/api/users/me');
      expect(reply.status).toBe(204);
      expect(reply.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
      expect((await system.call('OPTIONS', '/api/users/u1')).headers.get('allow')).toBe(
        'DELETE, GET, HEAD, OPTIONS, PATCH',
      );
    });
  });
});
