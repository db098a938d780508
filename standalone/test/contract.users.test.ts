import {
  expectError,
  expectInvalidField,
  isIsoTime,
  PASSWORD,
  uniqueUsername,
  USER_KEYS,
  USER_PUBLIC_KEYS,
  startSystem,
  within,
  type Session,
  type TestSystem,
} from './support/system';
import { runAdminCommand } from '@chat/users-service';

const ADMIN = 'root_admin';

/** Users (docs/openapi.json, tag users): every behaviour and error case, through the gateway. */
describe('contract: users', () => {
  let system: TestSystem;
  let admin: Session;

  beforeAll(async () => {
    system = await startSystem();
    await system.call('POST', '/api/users', { body: { username: ADMIN, password: PASSWORD } });
    // The first admin is made on the server (`npm run admin -- promote <username>`), with the one-process
    // run stopped: its embedded store belongs to one process at a time.
    await system.stop({ keepData: true });
    const promoted = await runAdminCommand(['promote', ADMIN], {
      DATA_DIR: system.dataDir,
      LOG_LEVEL: 'error',
    });
    expect(promoted.code).toBe(0);
    system = await startSystem({}, system.dataDir);
    admin = await system.login(ADMIN);
  });

  afterAll(async () => {
    await system.stop();
  });

  describe('POST /api/users (signup)', () => {
    it('201 with the full User view, role "user", and never the password or a hash', async () => {
      const username = uniqueUsername('Signup');
      const reply = await system.call('POST', '/api/users', {
        body: {
          username,
          password: PASSWORD,
          name: 'Sign Up',
          email: `${username}@example.com`,
          phone: '+1 555 0100',
        },
      });
      expect(reply.status).toBe(201);
      expect(Object.keys(reply.body).sort()).toEqual(USER_KEYS);
      expect(reply.body).toMatchObject({
        username,
        name: 'Sign Up',
        email: `${username}@example.com`,
        phone: '+1 555 0100',
        role: 'user',
      });
      expect(typeof reply.body.id).toBe('string');
      expect(isIsoTime(reply.body.createdAt)).toBe(true);
      expect(isIsoTime(reply.body.updatedAt)).toBe(true);
      expect(reply.text).not.toContain(PASSWORD);
      expect(reply.text).not.toMatch(/\$2[aby]\$/);
      expect(reply.text.toLowerCase()).not.toContain('hash');
    });

    it('only username and password are required; absent optional fields are null', async () => {
      const username = uniqueUsername('minimal');
      const reply = await system.call('POST', '/api/users', { body: { username, password: PASSWORD } });
      expect(reply.status).toBe(201);
      expect(reply.body).toMatchObject({ username, name: null, email: null, phone: null, role: 'user' });
    });

    it.each([
      ['too short', 'ab'],
      ['too long', 'a'.repeat(33)],
      ['a space', 'has space'],
      ['a slash', 'a/b'],
      ['an @', 'me@example'],
      ['non-ASCII', 'ünïcode'],
      ['not a string', 42],
    ])('refuses a username with %s: 400 naming username', async (_case, username) => {
      expectInvalidField(
        await system.call('POST', '/api/users', { body: { username, password: PASSWORD } }),
        'username',
      );
    });

    it('accepts usernames of exactly 3 and 32 characters of [A-Za-z0-9_.-]', async () => {
      for (const username of ['a.-', `Z9_.-${'x'.repeat(27)}`]) {
        expect(
          (await system.call('POST', '/api/users', { body: { username, password: PASSWORD } })).status,
        ).toBe(201);
      }
    });

    it.each([
      ['7 characters', 'x'.repeat(7)],
      ['129 characters', 'x'.repeat(129)],
      ['missing', undefined],
    ])('refuses a password of %s: 400 naming password', async (_case, password) => {
      const reply = await system.call('POST', '/api/users', {
        body: { username: uniqueUsername('pw'), password },
      });
      expectInvalidField(reply, 'password');
    });

    it('accepts passwords of exactly 8 and 128 characters', async () => {
      for (const password of ['x'.repeat(8), 'y'.repeat(128)]) {
        const account = await system.signup('pwlen', { password });
        await system.login(account.username, password);
      }
    });

    it('refuses a malformed email: 400 naming email', async () => {
      const reply = await system.call('POST', '/api/users', {
        body: { username: uniqueUsername('mail'), password: PASSWORD, email: 'not-an-email' },
      });
      expectInvalidField(reply, 'email');
    });

    it('usernames are unique in any case: 409 USERNAME_TAKEN', async () => {
      const account = await system.signup('Taken');
      for (const username of [
        account.username,
        account.username.toLowerCase(),
        account.username.toUpperCase(),
      ]) {
        expectError(
          await system.call('POST', '/api/users', { body: { username, password: PASSWORD } }),
          409,
          'USERNAME_TAKEN',
        );
      }
    });

    it('emails are unique in any case: 409 EMAIL_TAKEN', async () => {
      const username = uniqueUsername('mailer');
      await system.signup('first', { email: `${username}@Example.com` });
      const reply = await system.call('POST', '/api/users', {
        body: {
          username: uniqueUsername('second'),
          password: PASSWORD,
          email: `${username.toUpperCase()}@example.COM`,
        },
      });
      expectError(reply, 409, 'EMAIL_TAKEN');
    });

    it('never accepts a role: 400, and the account is not created', async () => {
      const username = uniqueUsername('wannabe');
      for (const role of ['admin', 'user']) {
        const reply = await system.call('POST', '/api/users', {
          body: { username, password: PASSWORD, role },
        });
        expectError(reply, 400, 'VALIDATION_FAILED');
      }
      expectError(
        await system.call('POST', '/api/auth/login', { body: { username, password: PASSWORD } }),
        401,
        'INVALID_CREDENTIALS',
      );
    });

    it('the configured admin username signs up as an admin', () => {
      expect(admin.user.role).toBe('admin');
    });
  });

  describe('GET /api/users', () => {
    let me: Session;
    const prefix = `pg${process.pid}x`;
    const names: string[] = [];

    beforeAll(async () => {
      me = await system.account('lister');
      for (const suffix of ['a', 'B', 'c', 'D', 'e']) {
        const username = `${prefix}${suffix}`;
        names.push(username);
        await system.call('POST', '/api/users', {
          body: { username, password: PASSWORD, email: `${username}@example.com` },
        });
      }
    });

    it('401 without a token', async () => {
      expectError(await system.call('GET', '/api/users'), 401, 'UNAUTHENTICATED');
    });

    it('{items: [UserPublic], nextCursor} with public fields only', async () => {
      const reply = await system.call('GET', `/api/users?q=${prefix}`, { token: me.accessToken });
      expect(reply.status).toBe(200);
      expect(Object.keys(reply.body).sort()).toEqual(['items', 'nextCursor']);
      expect(reply.body.items).toHaveLength(5);
      for (const item of reply.body.items) expect(Object.keys(item).sort()).toEqual(USER_PUBLIC_KEYS);
      expect(reply.body.nextCursor).toBeNull();
      expect(reply.text).not.toContain('@example.com');
    });

    it('q is a username prefix, in any case', async () => {
      const reply = await system.call('GET', `/api/users?q=${prefix.toUpperCase()}B`, {
        token: me.accessToken,
      });
      expect(reply.body.items.map((user: { username: string }) => user.username)).toEqual([`${prefix}B`]);
      const none = await system.call('GET', `/api/users?q=${prefix}zz`, { token: me.accessToken });
      expect(none.body).toEqual({ items: [], nextCursor: null });
    });

    it('q is matched literally, never as a pattern', async () => {
      for (const q of ['.*', `${prefix}.`, '^', '[a-z]', '\\']) {
        const reply = await system.call('GET', `/api/users?q=${encodeURIComponent(q)}`, {
          token: me.accessToken,
        });
        expect(reply.status).toBe(200);
        expect(reply.body.items).toEqual([]);
      }
    });

    it('pages with limit and nextCursor: every user once, in order, then null', async () => {
      const seen: string[] = [];
      let cursor = '';
      for (let page = 0; page < 5; page += 1) {
        const reply = await system.call(
          'GET',
          `/api/users?q=${prefix}&limit=2&cursor=${encodeURIComponent(cursor)}`,
          {
            token: me.accessToken,
          },
        );
        expect(reply.status).toBe(200);
        expect(reply.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...reply.body.items.map((user: { username: string }) => user.username));
        if (reply.body.nextCursor === null) break;
        expect(typeof reply.body.nextCursor).toBe('string');
        cursor = reply.body.nextCursor;
      }
      expect(seen).toEqual(names);
    });

    it('limit defaults to 20 and accepts 1-100', async () => {
      for (const limit of [1, 100]) {
        expect(
          (await system.call('GET', `/api/users?limit=${limit}`, { token: me.accessToken })).status,
        ).toBe(200);
      }
      const all = await system.call('GET', '/api/users', { token: me.accessToken });
      expect(all.body.items.length).toBeLessThanOrEqual(20);
    });

    it.each(['0', '101', '-1', 'abc', '1.5'])('limit=%s is 400 naming limit', async (limit) => {
      expectInvalidField(
        await system.call('GET', `/api/users?limit=${limit}`, { token: me.accessToken }),
        'limit',
      );
    });

    it('a cursor that is not one we made is 400, not 500', async () => {
      for (const cursor of ['garbage', 'eyJ4IjoxfQ', '%7B%7D']) {
        const reply = await system.call('GET', `/api/users?cursor=${cursor}`, { token: me.accessToken });
        expectError(reply, 400, 'VALIDATION_FAILED');
      }
    });

    it('an unknown query parameter is 400', async () => {
      expectError(
        await system.call('GET', '/api/users?role=admin', { token: me.accessToken }),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  describe('GET /api/users/me and /api/users/:id', () => {
    let alice: Session;
    let bob: Session;

    beforeAll(async () => {
      alice = await system.account('alice', {
        name: 'Alice',
        email: `${uniqueUsername('alice')}@example.com`,
      });
      bob = await system.account('bob');
    });

    it('/me is the full User of the token', async () => {
      const reply = await system.call('GET', '/api/users/me', { token: alice.accessToken });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual(alice.user);
    });

    it('/me needs a token: 401', async () => {
      expectError(await system.call('GET', '/api/users/me'), 401, 'UNAUTHENTICATED');
    });

    it('yourself: the full User', async () => {
      const reply = await system.call('GET', `/api/users/${alice.id}`, { token: alice.accessToken });
      expect(reply.body).toEqual(alice.user);
    });

    it('another user: the UserPublic view only', async () => {
      const reply = await system.call('GET', `/api/users/${alice.id}`, { token: bob.accessToken });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({
        id: alice.id,
        username: alice.username,
        name: 'Alice',
        avatarUrl: null,
        createdAt: alice.user.createdAt,
      });
    });

    it('an admin: the full User', async () => {
      const reply = await system.call('GET', `/api/users/${alice.id}`, { token: admin.accessToken });
      expect(reply.body).toEqual(alice.user);
    });

    it('404 NOT_FOUND for an id that does not exist', async () => {
      expectError(
        await system.call('GET', '/api/users/no-such-user', { token: bob.accessToken }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await system.call('GET', '/api/users/no-such-user', { token: admin.accessToken }),
        404,
        'NOT_FOUND',
      );
    });

    it('an id that could never be one is 400 or 404, never 500', async () => {
      for (const id of ['%24ne', 'a%20b', 'x'.repeat(300)]) {
        const reply = await system.call('GET', `/api/users/${id}`, { token: bob.accessToken });
        expect([400, 404]).toContain(reply.status);
        expectError(reply, reply.status, reply.status === 400 ? 'VALIDATION_FAILED' : 'NOT_FOUND');
      }
    });
  });

  describe('PATCH /api/users/:id', () => {
    let carol: Session;
    let dave: Session;

    beforeEach(async () => {
      carol = await system.account('carol', { email: `${uniqueUsername('carol')}@example.com` });
      dave = await system.account('dave');
    });

    it('yourself: 200 with the changed User; null clears a field', async () => {
      const reply = await system.call('PATCH', `/api/users/${carol.id}`, {
        token: carol.accessToken,
        body: { name: 'Carol C', phone: '+44 20 7946 0000', email: null },
      });
      expect(reply.status).toBe(200);
      expect(Object.keys(reply.body).sort()).toEqual(USER_KEYS);
      expect(reply.body).toMatchObject({
        id: carol.id,
        name: 'Carol C',
        phone: '+44 20 7946 0000',
        email: null,
      });
      expect(Date.parse(reply.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(carol.user.updatedAt));
      expect((await system.call('GET', '/api/users/me', { token: carol.accessToken })).body).toEqual(
        reply.body,
      );
    });

    it('another user: 403 FORBIDDEN and nothing changes', async () => {
      const reply = await system.call('PATCH', `/api/users/${carol.id}`, {
        token: dave.accessToken,
        body: { name: 'pwned' },
      });
      expectError(reply, 403, 'FORBIDDEN');
      expect((await system.call('GET', '/api/users/me', { token: carol.accessToken })).body.name).toBeNull();
    });

    it('an admin may change anyone', async () => {
      const reply = await system.call('PATCH', `/api/users/${carol.id}`, {
        token: admin.accessToken,
        body: { name: 'By Admin' },
      });
      expect(reply.status).toBe(200);
      expect(reply.body.name).toBe('By Admin');
    });

    it('only an admin may set role: 403 for yourself, 200 for an admin', async () => {
      const self = await system.call('PATCH', `/api/users/${carol.id}`, {
        token: carol.accessToken,
        body: { role: 'admin' },
      });
      expectError(self, 403, 'FORBIDDEN');
      expect((await system.call('GET', '/api/users/me', { token: carol.accessToken })).body.role).toBe(
        'user',
      );

      const byAdmin = await system.call('PATCH', `/api/users/${carol.id}`, {
        token: admin.accessToken,
        body: { role: 'admin' },
      });
      expect(byAdmin.status).toBe(200);
      expect(byAdmin.body.role).toBe('admin');
      // The new role shows at once: carol now sees others' full view.
      const view = await system.call('GET', `/api/users/${dave.id}`, { token: carol.accessToken });
      expect(Object.keys(view.body).sort()).toEqual(USER_KEYS);
    });

    it('a new password needs the right currentPassword', async () => {
      const path = `/api/users/${carol.id}`;
      const missing = await system.call('PATCH', path, {
        token: carol.accessToken,
        body: { password: 'brand new pass' },
      });
      expectInvalidField(missing, 'currentPassword');
      const wrong = await system.call('PATCH', path, {
        token: carol.accessToken,
        body: { password: 'brand new pass', currentPassword: 'not my password' },
      });
      expectError(wrong, 403, 'FORBIDDEN');
      await system.login(carol.username, PASSWORD);

      const right = await system.call('PATCH', path, {
        token: carol.accessToken,
        body: { password: 'brand new pass', currentPassword: PASSWORD },
      });
      expect(right.status).toBe(200);
      expect(right.text).not.toContain('brand new pass');
      await system.login(carol.username, 'brand new pass');
      expectError(
        await system.call('POST', '/api/auth/login', {
          body: { username: carol.username, password: PASSWORD },
        }),
        401,
        'INVALID_CREDENTIALS',
      );
    });

    it('an admin sets a password without currentPassword', async () => {
      const reply = await system.call('PATCH', `/api/users/${dave.id}`, {
        token: admin.accessToken,
        body: { password: 'set by the admin' },
      });
      expect(reply.status).toBe(200);
      await system.login(dave.username, 'set by the admin');
    });

    it('a taken email is 409 EMAIL_TAKEN', async () => {
      const reply = await system.call('PATCH', `/api/users/${dave.id}`, {
        token: dave.accessToken,
        body: { email: carol.user.email.toUpperCase() },
      });
      expectError(reply, 409, 'EMAIL_TAKEN');
    });

    it.each([
      [{ username: 'renamed' }, 'username'],
      [{ id: 'other-id' }, 'id'],
      [{ passwordHash: 'x' }, 'passwordHash'],
      [{ createdAt: '2000-01-01T00:00:00.000Z' }, 'createdAt'],
      [{ name: { $ne: null } }, 'name'],
      [{ email: { $gt: '' } }, 'email'],
      [{ password: 'short' }, 'password'],
      [{ phone: 'call me' }, 'phone'],
      [{ role: 'superuser' }, 'role'],
    ])('refuses %j: 400 naming the field, nothing stored', async (body, field) => {
      const reply = await system.call('PATCH', `/api/users/${dave.id}`, { token: dave.accessToken, body });
      expectError(reply, 400, 'VALIDATION_FAILED');
      expect(JSON.stringify(reply.body.error.details)).toContain(field);
      expect((await system.call('GET', '/api/users/me', { token: dave.accessToken })).body).toEqual(
        dave.user,
      );
    });

    it('an empty body is 400', async () => {
      expectError(
        await system.call('PATCH', `/api/users/${dave.id}`, { token: dave.accessToken, body: {} }),
        400,
        'VALIDATION_FAILED',
      );
    });

    it('401 without a token, 404 for an admin patching nobody', async () => {
      expectError(
        await system.call('PATCH', `/api/users/${dave.id}`, { body: { name: 'x' } }),
        401,
        'UNAUTHENTICATED',
      );
      expectError(
        await system.call('PATCH', '/api/users/no-such-user', {
          token: admin.accessToken,
          body: { name: 'x' },
        }),
        404,
        'NOT_FOUND',
      );
    });
  });

  describe('DELETE /api/users/:id', () => {
    it('another user: 403 and the account stays', async () => {
      const erin = await system.account('erin');
      const frank = await system.account('frank');
      expectError(
        await system.call('DELETE', `/api/users/${erin.id}`, { token: frank.accessToken }),
        403,
        'FORBIDDEN',
      );
      expect((await system.call('GET', '/api/users/me', { token: erin.accessToken })).status).toBe(200);
    });

    it('yourself: 204, then the user is 404 to others and cannot log in', async () => {
      const gina = await system.account('gina');
      const other = await system.account('other');
      const reply = await system.call('DELETE', `/api/users/${gina.id}`, { token: gina.accessToken });
      expect(reply.status).toBe(204);
      expect(reply.text).toBe('');
      expect(reply.headers.get('x-request-id')).toBeTruthy();
      expectError(
        await system.call('GET', `/api/users/${gina.id}`, { token: other.accessToken }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await system.call('POST', '/api/auth/login', {
          body: { username: gina.username, password: PASSWORD },
        }),
        401,
        'INVALID_CREDENTIALS',
      );
      const listed = await system.call('GET', `/api/users?q=${gina.username}`, { token: other.accessToken });
      expect(listed.body.items).toEqual([]);
    });

    it('an admin deletes anyone: 204; deleting again is 404', async () => {
      const hank = await system.account('hank');
      expect(
        (await system.call('DELETE', `/api/users/${hank.id}`, { token: admin.accessToken })).status,
      ).toBe(204);
      expectError(
        await system.call('DELETE', `/api/users/${hank.id}`, { token: admin.accessToken }),
        404,
        'NOT_FOUND',
      );
    });

    it("the deleted user's sessions end everywhere: access and refresh tokens are refused within 2 s", async () => {
      const ivan = await system.account('ivan');
      const second = await system.login(ivan.username);
      expect((await system.call('DELETE', `/api/users/${ivan.id}`, { token: ivan.accessToken })).status).toBe(
        204,
      );
      await within(2_000, async () => {
        for (const token of [ivan.accessToken, second.accessToken]) {
          for (const [method, pathname] of [
            ['GET', '/api/users/me'],
            ['GET', '/api/rooms'],
            ['POST', '/api/auth/logout'],
          ] as const) {
            expectError(await system.call(method, pathname, { token }), 401, 'UNAUTHENTICATED');
          }
        }
        for (const refreshToken of [ivan.refreshToken, second.refreshToken]) {
          expectError(
            await system.call('POST', '/api/auth/refresh', { body: { refreshToken } }),
            401,
            'UNAUTHENTICATED',
          );
        }
      });
    });

    it('401 without a token', async () => {
      expectError(await system.call('DELETE', `/api/users/${admin.id}`), 401, 'UNAUTHENTICATED');
    });
  });
});
