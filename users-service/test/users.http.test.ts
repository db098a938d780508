import { subjects, type User } from '@chat/shared';
import { PASSWORD, startTestService, type TestService } from './support';

const userKeys = ['avatarUrl', 'createdAt', 'email', 'id', 'name', 'phone', 'role', 'updatedAt', 'username'];
const publicKeys = ['avatarUrl', 'createdAt', 'id', 'name', 'username'];

describe('users-service over HTTP', () => {
  let service: TestService;

  beforeEach(async () => {
    service = await startTestService();
  });

  afterEach(async () => {
    await service.stop();
  });

  const login = (login: string, password: string) =>
    service.bus.request(subjects.verifyCredentials.subject, { login, password }).then(
      (reply) => (reply as { user: User }).user.id,
      (error: { code: string }) => error.code,
    );

  describe('POST /api/users', () => {
    it('signs up and answers 201 with the full User, no password, and a request id', async () => {
      const response = await service.call('POST', '/api/users', {
        body: {
          username: 'Alice',
          password: PASSWORD,
          name: 'Alice A.',
          email: 'alice@example.com',
          phone: '+1 555 0100',
        },
        headers: { 'x-request-id': 'signup-1' },
      });
      expect(response.status).toBe(201);
      expect(response.headers.get('x-request-id')).toBe('signup-1');
      expect(Object.keys(response.body).sort()).toEqual(userKeys);
      expect(response.body).toMatchObject({
        username: 'Alice',
        name: 'Alice A.',
        email: 'alice@example.com',
        phone: '+1 555 0100',
        role: 'user',
      });
      expect(response.body.createdAt).toBe(new Date(response.body.createdAt).toISOString());
      expect(response.body.updatedAt).toBe(response.body.createdAt);
    });

    it('never makes an admin at signup, whatever the name and however often the service restarts', async () => {
      const squatter = await service.signup('ROOT');
      expect(squatter.role).toBe('user');
      await service.restart();
      const after = await service.call('GET', `/api/users/${squatter.id}`, {
        token: service.tokenFor(squatter),
      });
      expect(after.body.role).toBe('user');
    });

    it('answers 409 USERNAME_TAKEN for a username taken in another case', async () => {
      await service.signup('bob');
      const response = await service.call('POST', '/api/users', {
        body: { username: 'BoB', password: PASSWORD },
      });
      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('USERNAME_TAKEN');
    });

    it('answers 409 EMAIL_TAKEN for an email taken in another case', async () => {
      await service.signup('carol', { email: 'carol@example.com' });
      const response = await service.call('POST', '/api/users', {
        body: { username: 'carol2', password: PASSWORD, email: 'CAROL@Example.com' },
      });
      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('EMAIL_TAKEN');
    });

    it('lets one of several simultaneous signups of one username through', async () => {
      const statuses = await Promise.all(
        ['dave', 'Dave', 'DAVE', 'daVe'].map(
          async (username) =>
            (await service.call('POST', '/api/users', { body: { username, password: PASSWORD } })).status,
        ),
      );
      expect(statuses.sort()).toEqual([201, 409, 409, 409]);
    });

    it.each([
      ['username', { username: 'ab', password: PASSWORD }],
      ['username', { username: 'has space', password: PASSWORD }],
      ['username', { username: 'x'.repeat(33), password: PASSWORD }],
      ['password', { username: 'erin', password: 'short' }],
      ['password', { username: 'erin', password: 'x'.repeat(129) }],
      ['email', { username: 'erin', password: PASSWORD, email: 'not-an-email' }],
      ['phone', { username: 'erin', password: PASSWORD, phone: 'call me' }],
      ['name', { username: 'erin', password: PASSWORD, name: '   ' }],
    ])('answers 400 VALIDATION_FAILED naming %s', async (path, body) => {
      const response = await service.call('POST', '/api/users', { body });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
      expect(response.body.error.details.map((detail: { path: string }) => detail.path)).toContain(path);
    });

    it('refuses a role at signup', async () => {
      const response = await service.call('POST', '/api/users', {
        body: { username: 'frank', password: PASSWORD, role: 'admin' },
      });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
      expect(await login('frank', PASSWORD)).toBe('INVALID_CREDENTIALS');
    });
  });

  describe('GET /api/users', () => {
    let token: string;

    beforeEach(async () => {
      for (const username of ['alex', 'Alice', 'b_x', 'bo.b', 'bob', 'Bobby', 'carl'])
        await service.signup(username);
      token = service.tokenFor(await service.signup('zed'));
    });

    it('answers 401 with WWW-Authenticate without a token', async () => {
      const response = await service.call('GET', '/api/users');
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(response.body.error.code).toBe('UNAUTHENTICATED');
    });

    it('pages through every user once, in username order, as public profiles', async () => {
      const seen: string[] = [];
      let cursor = '';
      for (let page = 0; page < 10; page++) {
        const response = await service.call('GET', `/api/users?limit=3&cursor=${cursor}`, { token });
        expect(response.status).toBe(200);
        for (const item of response.body.items) expect(Object.keys(item).sort()).toEqual(publicKeys);
        seen.push(...response.body.items.map((item: { username: string }) => item.username));
        if (response.body.nextCursor === null) break;
        cursor = encodeURIComponent(response.body.nextCursor);
      }
      expect(seen).toEqual(['alex', 'Alice', 'b_x', 'bo.b', 'bob', 'Bobby', 'carl', 'zed']);
    });

    it('answers nextCursor null when the page holds the rest exactly', async () => {
      const response = await service.call('GET', '/api/users?limit=8', { token });
      expect(response.body.items).toHaveLength(8);
      expect(response.body.nextCursor).toBeNull();
    });

    it('filters by a case-insensitive username prefix, taken literally', async () => {
      const usernames = async (query: string) =>
        (await service.call('GET', `/api/users?${query}`, { token })).body.items.map(
          (item: { username: string }) => item.username,
        );
      expect(await usernames('q=BO')).toEqual(['bo.b', 'bob', 'Bobby']);
      expect(await usernames('q=bo.')).toEqual(['bo.b']);
      expect(await usernames(`q=${encodeURIComponent('.*')}`)).toEqual([]);
      expect(await usernames(`q=${encodeURIComponent('^a')}`)).toEqual([]);
    });

    it('pages within a prefix', async () => {
      const first = await service.call('GET', '/api/users?q=bo&limit=2', { token });
      expect(first.body.items.map((item: { username: string }) => item.username)).toEqual(['bo.b', 'bob']);
      const next = await service.call(
        'GET',
        `/api/users?q=bo&limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`,
        { token },
      );
      expect(next.body).toEqual({
        items: [expect.objectContaining({ username: 'Bobby' })],
        nextCursor: null,
      });
    });

    it('treats empty parameters as absent and defaults the limit to 20', async () => {
      const response = await service.call('GET', '/api/users?limit=&cursor=&q=', { token });
      expect(response.status).toBe(200);
      expect(response.body.items).toHaveLength(8);
    });

    it.each(['limit=0', 'limit=101', 'limit=2.5', 'limit=ten', 'cursor=not-ours', `q=${'a'.repeat(33)}`])(
      'answers 400 VALIDATION_FAILED for %s',
      async (query) => {
        const response = await service.call('GET', `/api/users?${query}`, { token });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
      },
    );
  });

  describe('GET /api/users/me and /api/users/:id', () => {
    it('answers the signed-in user in full', async () => {
      const user = await service.signup('grace', { email: 'grace@example.com' });
      const response = await service.call('GET', '/api/users/me', { token: service.tokenFor(user) });
      expect(response.status).toBe(200);
      expect(response.body).toEqual(user);
    });

    it('answers the public view of another user and the full one of yourself', async () => {
      const heidi = await service.signup('heidi', { email: 'heidi@example.com', name: 'Heidi' });
      const ivan = await service.signup('ivan');
      const token = service.tokenFor(ivan);
      const other = await service.call('GET', `/api/users/${heidi.id}`, { token });
      expect(other.status).toBe(200);
      expect(other.body).toEqual({
        id: heidi.id,
        username: 'heidi',
        name: 'Heidi',
        avatarUrl: null,
        createdAt: heidi.createdAt,
      });
      expect((await service.call('GET', `/api/users/${ivan.id}`, { token })).body).toEqual(ivan);
    });

    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      const token = service.tokenFor(await service.signup('judy'));
      const absent = await service.call('GET', '/api/users/no-such-user', { token });
      expect(absent.status).toBe(404);
      expect(absent.body.error.code).toBe('NOT_FOUND');
      const malformed = await service.call('GET', `/api/users/${encodeURIComponent('a b$')}`, { token });
      expect(malformed.status).toBe(400);
    });
  });

  describe('PATCH /api/users/:id', () => {
    let user: User;
    let token: string;

    beforeEach(async () => {
      user = await service.signup('mallory', { name: 'Mal', email: 'mal@example.com', phone: '555 0101' });
      token = service.tokenFor(user);
    });

    it('changes name, email and phone, and null clears them', async () => {
      const changed = await service.call('PATCH', `/api/users/${user.id}`, {
        token,
        body: { name: 'Mallory', email: 'Mallory@Example.com' },
      });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({
        name: 'Mallory',
        email: 'Mallory@Example.com',
        phone: '555 0101',
      });
      expect(changed.body.updatedAt >= user.updatedAt).toBe(true);
      const cleared = await service.call('PATCH', `/api/users/${user.id}`, {
        token,
        body: { name: null, email: null, phone: null },
      });
      expect(cleared.body).toMatchObject({ name: null, email: null, phone: null });
      expect((await service.call('GET', '/api/users/me', { token })).body).toEqual(cleared.body);
      expect(await login('mallory@example.com', PASSWORD)).toBe('INVALID_CREDENTIALS');
    });

    it('answers 409 EMAIL_TAKEN for an email another user has', async () => {
      await service.signup('niaj', { email: 'niaj@example.com' });
      const response = await service.call('PATCH', `/api/users/${user.id}`, {
        token,
        body: { email: 'NIAJ@example.com' },
      });
      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('EMAIL_TAKEN');
      expect((await service.call('GET', '/api/users/me', { token })).body.email).toBe('mal@example.com');
    });

    it('answers 400 for a body that changes nothing', async () => {
      const response = await service.call('PATCH', `/api/users/${user.id}`, { token, body: {} });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('changes your own password only with the right current one', async () => {
      const url = `/api/users/${user.id}`;
      const missing = await service.call('PATCH', url, { token, body: { password: 'a new password' } });
      expect(missing.status).toBe(400);
      expect(missing.body.error.details).toEqual([expect.objectContaining({ path: 'currentPassword' })]);
      const wrong = await service.call('PATCH', url, {
        token,
        body: { password: 'a new password', currentPassword: 'not the password' },
      });
      expect(wrong.status).toBe(403);
      expect(await login('mallory', 'a new password')).toBe('INVALID_CREDENTIALS');
      const right = await service.call('PATCH', url, {
        token,
        body: { password: 'a new password', currentPassword: PASSWORD },
      });
      expect(right.status).toBe(200);
      expect(await login('mallory', 'a new password')).toBe(user.id);
      expect(await login('mallory', PASSWORD)).toBe('INVALID_CREDENTIALS');
    });

    it('answers 429 with Retry-After after 5 wrong current passwords, even to the right one', async () => {
      const url = `/api/users/${user.id}`;
      const attempt = (currentPassword: string) =>
        service.call('PATCH', url, { token, body: { password: 'a new password', currentPassword } });
      const wrong = await Promise.all(Array.from({ length: 7 }, (_, i) => attempt(`guess ${i}`)));
      expect(wrong.map((response) => response.status).sort()).toEqual([403, 403, 403, 403, 403, 429, 429]);

      const blocked = await attempt(PASSWORD);
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('RATE_LIMITED');
      const retryAfter = Number(blocked.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(14 * 60);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
      expect(await login('mallory', 'a new password')).toBe('INVALID_CREDENTIALS');

      // Another user's budget is their own.
      const other = await service.signup('niaj');
      const theirs = await service.call('PATCH', `/api/users/${other.id}`, {
        token: service.tokenFor(other),
        body: { password: 'a new password', currentPassword: PASSWORD },
      });
      expect(theirs.status).toBe(200);
    });

    it('lets an admin set another user’s password and role', async () => {
      const admin = await service.signupAdmin();
      const response = await service.call('PATCH', `/api/users/${user.id}`, {
        token: service.tokenFor(admin),
        body: { password: 'set by an admin', role: 'admin' },
      });
      expect(response.status).toBe(200);
      expect(response.body.role).toBe('admin');
      expect(await login('Mallory', 'set by an admin')).toBe(user.id);
    });
  });

  describe('DELETE /api/users/:id', () => {
    it('deletes yourself: 204, your token stops working, others get 404, the name is free again', async () => {
      const olivia = await service.signup('olivia', { email: 'olivia@example.com' });
      const peggy = await service.signup('peggy');
      const token = service.tokenFor(olivia);
      const deleted = await service.call('DELETE', `/api/users/${olivia.id}`, { token });
      expect(deleted.status).toBe(204);
      expect(deleted.body).toBeUndefined();

      for (const path of ['/api/users/me', '/api/users', `/api/users/${peggy.id}`]) {
        const refused = await service.call('GET', path, { token });
        expect(refused.status).toBe(401);
        expect(refused.body.error.code).toBe('UNAUTHENTICATED');
      }
      const byOther = await service.call('GET', `/api/users/${olivia.id}`, {
        token: service.tokenFor(peggy),
      });
      expect(byOther.status).toBe(404);
      expect(await login('olivia', PASSWORD)).toBe('INVALID_CREDENTIALS');
      await expect(service.signup('Olivia', { email: 'olivia@example.com' })).resolves.toMatchObject({
        username: 'Olivia',
      });
    });

    it('refuses every token of the deleted user through the revocation list, even a new session', async () => {
      const quinn = await service.signup('quinn');
      await service.call('DELETE', `/api/users/${quinn.id}`, { token: service.tokenFor(quinn) });
      const response = await service.call('GET', '/api/users/me', {
        token: service.tokenFor(quinn, 'another-session'),
      });
      expect(response.status).toBe(401);
      expect(response.body.error.message).toBe('The session has ended.');
    });
  });

  it('answers /healthz and /readyz', async () => {
    expect((await service.call('GET', '/healthz')).status).toBe(200);
    const ready = await service.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ store: 'ok', bus: 'ok', revocations: 'ok' });
  });
});
