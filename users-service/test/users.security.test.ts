import { createHmac, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { subjects, type User } from '@chat/shared';
import { PASSWORD, startTestService, type TestService } from './support';

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT built by hand, for the forgeries no library will sign. */
function forge(header: object, payload: object, sign: (input: string) => string): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  return `${input}.${sign(input)}`;
}

function claimsOf(user: User, overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: user.id,
    username: user.username,
    role: user.role,
    sid: 'forged-session',
    iat: now,
    exp: now + 900,
    iss: 'chat-auth',
    aud: 'chat',
    ...overrides,
  };
}

describe('users-service security', () => {
  let service: TestService;
  let alice: User;
  let mallory: User;
  let root: User;

  beforeEach(async () => {
    service = await startTestService();
    alice = await service.signup('alice', { email: 'alice@example.com', name: 'Alice' });
    mallory = await service.signup('mallory', { email: 'mallory@example.com' });
    root = await service.signupAdmin();
  });

  afterEach(async () => {
    await service.stop();
  });

  const as = (user: User) => service.tokenFor(user);
  const current = async (user: User) =>
    (await service.call('GET', '/api/users/me', { token: as(user) })).body as User;

  describe('authorization matrix', () => {
    it('GET: yourself and an admin see the full user, another user the public view', async () => {
      const path = `/api/users/${alice.id}`;
      expect((await service.call('GET', path, { token: as(alice) })).body).toEqual(alice);
      expect((await service.call('GET', path, { token: as(root) })).body).toEqual(alice);
      const byOther = await service.call('GET', path, { token: as(mallory) });
      expect(byOther.status).toBe(200);
      expect(byOther.body).toEqual({
        id: alice.id,
        username: 'alice',
        name: 'Alice',
        avatarUrl: null,
        createdAt: alice.createdAt,
      });
    });

    it('PATCH: yourself and an admin may, another user gets 403 and changes nothing', async () => {
      const path = `/api/users/${alice.id}`;
      const byOther = await service.call('PATCH', path, { token: as(mallory), body: { name: 'pwned' } });
      expect(byOther.status).toBe(403);
      expect(byOther.body.error.code).toBe('FORBIDDEN');
      const password = await service.call('PATCH', path, {
        token: as(mallory),
        body: { password: 'taken over!' },
      });
      expect(password.status).toBe(403);
      expect((await current(alice)).name).toBe('Alice');

      expect((await service.call('PATCH', path, { token: as(alice), body: { name: 'Self' } })).status).toBe(
        200,
      );
      expect((await service.call('PATCH', path, { token: as(root), body: { name: 'Admin' } })).status).toBe(
        200,
      );
      expect((await current(alice)).name).toBe('Admin');
    });

    it('DELETE: another user gets 403; yourself and an admin get 204', async () => {
      const byOther = await service.call('DELETE', `/api/users/${alice.id}`, { token: as(mallory) });
      expect(byOther.status).toBe(403);
      expect((await service.call('GET', `/api/users/${alice.id}`, { token: as(root) })).status).toBe(200);

      expect((await service.call('DELETE', `/api/users/${alice.id}`, { token: as(root) })).status).toBe(204);
      expect((await service.call('DELETE', `/api/users/${mallory.id}`, { token: as(mallory) })).status).toBe(
        204,
      );
      for (const user of [alice, mallory]) {
        expect((await service.call('GET', `/api/users/${user.id}`, { token: as(root) })).status).toBe(404);
      }
    });

    it('an admin gets 404 for a user that does not exist; a user gets 403 before learning that', async () => {
      expect(
        (await service.call('PATCH', '/api/users/nobody', { token: as(root), body: { name: 'x' } })).status,
      ).toBe(404);
      expect((await service.call('DELETE', '/api/users/nobody', { token: as(root) })).status).toBe(404);
      expect((await service.call('DELETE', '/api/users/nobody', { token: as(mallory) })).status).toBe(403);
    });

    describe('role escalation', () => {
      it('refuses a user who sets their own role', async () => {
        const response = await service.call('PATCH', `/api/users/${mallory.id}`, {
          token: as(mallory),
          body: { role: 'admin' },
        });
        expect(response.status).toBe(403);
        expect((await current(mallory)).role).toBe('user');
      });

      it('refuses a user who sets another user’s role', async () => {
        const response = await service.call('PATCH', `/api/users/${alice.id}`, {
          token: as(mallory),
          body: { role: 'admin' },
        });
        expect(response.status).toBe(403);
        expect((await current(alice)).role).toBe('user');
      });

      it('goes by the stored role, not the role a token claims', async () => {
        const claimsAdmin = service.issuer.mint({ sub: mallory.id, username: 'mallory', role: 'admin' });
        const patch = await service.call('PATCH', `/api/users/${alice.id}`, {
          token: claimsAdmin,
          body: { role: 'user', name: 'x' },
        });
        expect(patch.status).toBe(403);
        const remove = await service.call('DELETE', `/api/users/${alice.id}`, { token: claimsAdmin });
        expect(remove.status).toBe(403);
        const view = await service.call('GET', `/api/users/${alice.id}`, { token: claimsAdmin });
        expect(view.body.email).toBeUndefined();
      });

      it('refuses a role at signup', async () => {
        const response = await service.call('POST', '/api/users', {
          body: { username: 'sneaky', password: PASSWORD, role: 'admin' },
        });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
      });

      it('lets an admin demote an admin, who then loses admin rights', async () => {
        const other = await service.signup('Root2');
        await service.call('PATCH', `/api/users/${other.id}`, { token: as(root), body: { role: 'admin' } });
        await service.call('PATCH', `/api/users/${other.id}`, { token: as(root), body: { role: 'user' } });
        const response = await service.call('DELETE', `/api/users/${alice.id}`, {
          token: service.tokenFor({ ...other, role: 'admin' }),
        });
        expect(response.status).toBe(403);
      });
    });
  });

  describe('forged and unacceptable tokens', () => {
    const cases: [string, (s: TestService, user: User) => string][] = [
      [
        'alg none',
        (s, user) => forge({ alg: 'none', typ: 'JWT', kid: s.issuer.kid }, claimsOf(user), () => ''),
      ],
      [
        'HS256 signed with the public key PEM as the secret',
        (s, user) =>
          forge({ alg: 'HS256', typ: 'JWT', kid: s.issuer.kid }, claimsOf(user), (input) =>
            createHmac('sha256', s.issuer.publicKeyPem).update(input).digest('base64url'),
          ),
      ],
      [
        'a tampered payload',
        (s, user) => {
          const [header, , signature] = s.tokenFor(user).split('.');
          return `${header}.${base64url(claimsOf(user, { role: 'admin', sub: user.id }))}.${signature}`;
        },
      ],
      [
        'an expired token',
        (s, user) => s.issuer.mint({ sub: user.id, username: user.username }, { expiresInSeconds: -60 }),
      ],
      [
        'a wrong audience',
        (s, user) => s.issuer.mint({ sub: user.id, username: user.username }, { audience: 'other' }),
      ],
      [
        'a wrong issuer',
        (s, user) => s.issuer.mint({ sub: user.id, username: user.username }, { issuer: 'evil' }),
      ],
      [
        'an unknown kid',
        (_s, user) => {
          const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
          return jwt.sign(claimsOf(user), privateKey, { algorithm: 'ES256', keyid: 'unknown-kid' });
        },
      ],
      [
        'the right kid but another key',
        (s, user) => {
          const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
          return jwt.sign(claimsOf(user), privateKey, { algorithm: 'ES256', keyid: s.issuer.kid });
        },
      ],
      ['garbage', () => 'not.a.jwt'],
    ];

    it.each(cases)('answers 401 to %s', async (_name, make) => {
      const response = await service.call('GET', '/api/users/me', { token: make(service, mallory) });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(response.body.error.code).toBe('UNAUTHENTICATED');
    });

    it('cannot delete another user with a tampered token', async () => {
      const [header, , signature] = as(mallory).split('.');
      const tampered = `${header}.${base64url(claimsOf(root))}.${signature}`;
      expect((await service.call('DELETE', `/api/users/${alice.id}`, { token: tampered })).status).toBe(401);
      expect((await service.call('GET', `/api/users/${alice.id}`, { token: as(root) })).status).toBe(200);
    });

    it.each(['Basic YWxpY2U6cGFzc3dvcmQ=', 'Bearer', 'Bearer a b', 'Token abc'])(
      'answers 401 to the authorization header %p',
      async (authorization) => {
        const response = await service.call('GET', '/api/users/me', { headers: { authorization } });
        expect(response.status).toBe(401);
      },
    );
  });

  describe('operator objects and unexpected values', () => {
    const operators: unknown[] = [{ $ne: null }, { $gt: '' }, { $regex: '.*' }, ['alice'], true, 42];

    it.each(['username', 'password', 'name', 'email', 'phone'])(
      'signup refuses them in %s',
      async (field) => {
        for (const operator of operators) {
          const body = { username: 'newbie', password: PASSWORD, [field]: operator };
          const response = await service.call('POST', '/api/users', { body });
          expect(response.status).toBe(400);
          expect(response.body.error.code).toBe('VALIDATION_FAILED');
          expect(response.body.error.details.map((detail: { path: string }) => detail.path)).toContain(field);
        }
        expect(await service.bus.request(subjects.getPublicUsers.subject, { ids: [] })).toEqual({
          users: [],
        });
        const list = await service.call('GET', '/api/users?q=newbie', { token: as(root) });
        expect(list.body.items).toEqual([]);
      },
    );

    it.each(['name', 'email', 'phone', 'password', 'currentPassword', 'role'])(
      'PATCH refuses them in %s',
      async (field) => {
        for (const operator of operators) {
          const body = { password: 'a new password', [field]: operator };
          const response = await service.call('PATCH', `/api/users/${mallory.id}`, {
            token: as(mallory),
            body,
          });
          expect(response.status).toBe(400);
          expect(response.body.error.code).toBe('VALIDATION_FAILED');
          expect(response.body.error.details.map((detail: { path: string }) => detail.path)).toContain(field);
        }
        expect(await current(mallory)).toEqual(mallory);
      },
    );

    it.each(['q[$ne]=', 'q[$regex]=.*', 'limit[$gt]=0', 'cursor[$ne]=x', 'q=a&q=b', 'limit=1&limit=2'])(
      'GET /api/users refuses the query %s',
      async (query) => {
        const response = await service.call('GET', `/api/users?${query}`, { token: as(mallory) });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
      },
    );

    it('refuses an operator object as an id', async () => {
      const response = await service.call('GET', `/api/users/${encodeURIComponent('{"$ne":null}')}`, {
        token: as(mallory),
      });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });
  });

  describe('unknown fields', () => {
    it.each([
      ['isAdmin', true],
      ['passwordHash', '$2b$04$abcdefghijklmnopqrstuu'],
      ['id', 'chosen-id'],
      ['_id', 'chosen-id'],
      ['createdAt', '2000-01-01T00:00:00.000Z'],
    ])('signup refuses %s and stores nothing', async (field, value) => {
      const response = await service.call('POST', '/api/users', {
        body: { username: 'extra', password: PASSWORD, [field]: value },
      });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
      const list = await service.call('GET', '/api/users?q=extra', { token: as(root) });
      expect(list.body.items).toEqual([]);
    });

    it('signup refuses a __proto__ key', async () => {
      const raw = `{"username":"proto","password":"${PASSWORD}","__proto__":{"role":"admin"}}`;
      const response = await service.call('POST', '/api/users', { raw });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });

    it.each(['username', 'id', 'passwordHash', 'createdAt', 'emailLower'])(
      'PATCH refuses %s',
      async (field) => {
        const response = await service.call('PATCH', `/api/users/${mallory.id}`, {
          token: as(mallory),
          body: { name: 'ok', [field]: 'x' },
        });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
        expect(await current(mallory)).toEqual(mallory);
      },
    );

    it('GET /api/users refuses an unknown query parameter', async () => {
      const response = await service.call('GET', '/api/users?role=admin', { token: as(mallory) });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });
  });

  describe('malformed and oversized bodies', () => {
    it.each([
      ['POST', '/api/users'],
      ['PATCH', '/api/users/:id'],
    ])('%s %s answers 400 INVALID_JSON to broken JSON', async (method, path) => {
      const response = await service.call(method, path.replace(':id', mallory.id), {
        token: as(mallory),
        raw: '{"username": "broken", "password": ',
      });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('INVALID_JSON');
    });

    it('answers 400 VALIDATION_FAILED to JSON that is not an object', async () => {
      const response = await service.call('POST', '/api/users', { raw: '["username", "password"]' });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('answers 400 VALIDATION_FAILED to a body that is not JSON', async () => {
      const response = await service.call('POST', '/api/users', {
        raw: `username=plain&password=${PASSWORD}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });

    it.each([
      ['POST', '/api/users'],
      ['PATCH', '/api/users/:id'],
    ])('%s %s answers 413 PAYLOAD_TOO_LARGE to an oversized body', async (method, path) => {
      const response = await service.call(method, path.replace(':id', mallory.id), {
        token: as(mallory),
        body: { username: 'big', password: PASSWORD, name: 'x'.repeat(100 * 1024) },
      });
      expect(response.status).toBe(413);
      expect(response.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    });
  });
});

describe('users-service logs', () => {
  it('never write a password, a hash or a token', async () => {
    const service = await startTestService({}, { logLevel: 'debug' });
    try {
      const first = 'first secret password';
      const second = 'second secret password';
      const attempted = 'attempted secret password';
      const signup = await service.call('POST', '/api/users', {
        body: { username: 'logan', password: first, email: 'logan@example.com' },
      });
      const logan = signup.body as User;
      const admin = await service.signupAdmin();
      const token = service.tokenFor(logan);
      const adminToken = service.tokenFor(admin);
      const tokens = [token, adminToken];

      await service.bus.request(subjects.verifyCredentials.subject, { login: 'logan', password: first });
      await service.bus
        .request(subjects.verifyCredentials.subject, { login: 'logan@example.com', password: attempted })
        .catch(() => undefined);
      await service.call('PATCH', `/api/users/${logan.id}`, {
        token,
        body: { password: attempted, currentPassword: 'nope-nope' },
      });
      await service.call('PATCH', `/api/users/${logan.id}`, {
        token,
        body: { password: second, currentPassword: first },
      });
      await service.call('PATCH', `/api/users/${logan.id}`, {
        token: adminToken,
        body: { password: attempted },
      });
      await service.call('GET', `/api/users?token=${token}`, { token });
      await service.call('GET', '/api/users/me', { token: `${token}x` });
      await service.call('POST', '/api/users', { raw: `{"username":"x","password":"${attempted}"` });
      await service.call('POST', '/api/users', {
        body: { username: 'x', password: attempted, role: 'admin' },
      });
      const forged = forge({ alg: 'none', kid: service.issuer.kid }, claimsOf(logan), () => '');
      tokens.push(forged);
      await service.call('GET', '/api/users/me', { token: forged });
      // Every hash the file held, superseded ones included, before the deletion rewrites it without them.
      const hashes = service.storedHashes();
      await service.call('DELETE', `/api/users/${logan.id}`, { token });

      expect(hashes.length).toBeGreaterThanOrEqual(4);
      const lines = service.logs.lines;
      expect(
        lines.some((line) => line.includes('"message":"request"') && line.includes('/api/users?token=')),
      ).toBe(true);
      const secrets = [
        first,
        second,
        attempted,
        ...hashes,
        ...tokens,
        ...tokens.map((t) => t.split('.')[1]!),
      ];
      for (const line of lines) {
        for (const secret of secrets) expect(line).not.toContain(secret);
        expect(line).not.toMatch(/\$2[aby]\$/);
      }
    } finally {
      await service.stop();
    }
  });
});
