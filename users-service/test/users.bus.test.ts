import { subjects, UpstreamUnavailableError, type BusMessage, type User } from '@chat/shared';
import { PASSWORD, startTestService, type TestService } from './support';

describe('users-service on the bus', () => {
  let service: TestService;

  beforeEach(async () => {
    service = await startTestService();
  });

  afterEach(async () => {
    await service.stop();
  });

  const verify = (data: unknown) =>
    service.bus.request(subjects.verifyCredentials.subject, data).then(
      (reply) => reply as { user: User },
      (error: { code: string }) => error.code,
    );

  describe('durable user events', () => {
    it('publishes created, updated and deleted events without a password or hash', async () => {
      const events: BusMessage[] = [];
      await service.bus.consume('events.users.>', (message) => void events.push(message), {
        durable: 'test-users',
      });

      const user = await service.signup('alice', { email: 'alice@example.com' });
      const token = service.tokenFor(user, 'session-of-alice');
      await service.call('PATCH', `/api/users/${user.id}`, {
        token,
        body: { name: 'Alice', password: 'a brand new password', currentPassword: PASSWORD },
      });
      await service.call('DELETE', `/api/users/${user.id}`, { token });
      await service.bus.flush();

      expect(events.map((event) => event.subject)).toEqual([
        subjects.userCreated.subject,
        subjects.userUpdated.subject,
        subjects.userUpdated.subject,
        subjects.userDeleted.subject,
      ]);
      const [created, passwordChanged, updated, deleted] = events.map(
        (event) => event.data as Record<string, unknown>,
      );
      expect(created).toEqual({ user });
      // Before the write, so a password never changes unannounced: her other sessions end, the one that
      // changed the password stays. Then the update as stored.
      expect(passwordChanged).toEqual({ user, passwordChanged: { keepSessionId: 'session-of-alice' } });
      expect(updated).toEqual({ user: { ...user, name: 'Alice', updatedAt: expect.any(String) } });
      expect(deleted).toEqual({ userId: user.id, deletedAt: expect.any(String) });
      for (const event of events) {
        const text = JSON.stringify(event);
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain('a brand new password');
        expect(text).not.toMatch(/\$2[aby]\$|passwordHash/);
      }
    });

    it('says a password changed only when it did, keeping no session when an admin set it', async () => {
      const user = await service.signup('carol');
      const admin = await service.signupAdmin();
      const events: BusMessage[] = [];
      await service.bus.consume(subjects.userUpdated.subject, (message) => void events.push(message), {
        durable: 'test-password-changes',
      });
      const path = `/api/users/${user.id}`;
      const byUser = await service.call('PATCH', path, {
        token: service.tokenFor(user),
        body: { name: 'Carol' },
      });
      const byAdmin = await service.call('PATCH', path, {
        token: service.tokenFor(admin, 'session-of-root'),
        body: { password: 'set by an admin' },
      });
      expect([byUser.status, byAdmin.status]).toEqual([200, 200]);
      await service.bus.flush();

      const carols = events
        .map((event) => event.data as { user: User })
        .filter((data) => data.user.id === user.id);
      expect(carols).toEqual([
        { user: expect.objectContaining({ name: 'Carol' }) },
        { user: expect.objectContaining({ name: 'Carol' }), passwordChanged: {} },
        { user: expect.objectContaining({ name: 'Carol' }) },
      ]);
      expect(Object.keys(carols[0]!)).toEqual(['user']);
    });

    it('changes no password it cannot announce: 503, the old password still works, and a retry changes it', async () => {
      const user = await service.signup('dave');
      const change = () =>
        service.call('PATCH', `/api/users/${user.id}`, {
          token: service.tokenFor(user, 'session-of-dave'),
          body: { password: 'a brand new password', currentPassword: PASSWORD },
        });
      const publish = jest
        .spyOn(service.bus, 'publishDurable')
        .mockRejectedValueOnce(new UpstreamUnavailableError('The event store is unreachable.'));
      try {
        const refused = await change();
        expect(refused.status).toBe(503);
        expect(refused.body.error.code).toBe('UPSTREAM_UNAVAILABLE');
        expect(publish).toHaveBeenCalledWith(subjects.userUpdated.subject, {
          user,
          passwordChanged: { keepSessionId: 'session-of-dave' },
        });
        expect(await verify({ login: 'dave', password: PASSWORD })).toEqual({ user });
      } finally {
        publish.mockRestore();
      }

      expect((await change()).status).toBe(200);
      expect(await verify({ login: 'dave', password: 'a brand new password' })).toEqual({
        user: expect.objectContaining({ id: user.id }),
      });
    });

    it('publishes nothing for a refused write', async () => {
      const events: BusMessage[] = [];
      await service.bus.consume('events.users.>', (message) => void events.push(message), {
        durable: 'test-refused',
      });
      const user = await service.signup('bob');
      await service.call('POST', '/api/users', { body: { username: 'BOB', password: PASSWORD } });
      await service.call('PATCH', `/api/users/${user.id}`, {
        token: service.tokenFor(user),
        body: { role: 'admin' },
      });
      await service.bus.flush();
      expect(events.map((event) => event.subject)).toEqual([subjects.userCreated.subject]);
    });

    it('announces a role change of the admin command (embedded store, no bus) when it next starts, once', async () => {
      const boss = await service.signup('Boss');
      const events: BusMessage[] = [];
      await service.bus.consume(subjects.userUpdated.subject, (message) => void events.push(message), {
        durable: 'test-promote',
      });
      expect((await service.admin('promote', 'BOSS')).code).toBe(0);
      expect((await service.call('GET', '/api/users/me', { token: service.tokenFor(boss) })).body.role).toBe(
        'admin',
      );
      await service.bus.flush();
      expect(events.map((event) => (event.data as { user: User }).user)).toEqual([
        { ...boss, role: 'admin', updatedAt: expect.any(String) },
      ]);
      await service.restart();
      await service.bus.flush();
      expect(events).toHaveLength(1);
    });
  });

  describe(subjects.verifyCredentials.subject, () => {
    let user: User;

    beforeEach(async () => {
      user = await service.signup('Carol', { email: 'Carol@Example.com' });
    });

    it.each(['Carol', 'carol', 'CAROL', 'carol@example.com', 'CAROL@EXAMPLE.COM'])(
      'answers the user for the login %s',
      async (login) => {
        expect(await verify({ login, password: PASSWORD })).toEqual({ user });
      },
    );

    it('answers INVALID_CREDENTIALS for a wrong password or an unknown login alike', async () => {
      expect(await verify({ login: 'carol', password: 'wrong password' })).toBe('INVALID_CREDENTIALS');
      expect(await verify({ login: 'nobody', password: PASSWORD })).toBe('INVALID_CREDENTIALS');
      expect(await verify({ login: 'nobody@example.com', password: PASSWORD })).toBe('INVALID_CREDENTIALS');
      expect(await verify({ login: '', password: '' })).toBe('INVALID_CREDENTIALS');
    });

    it.each([
      { login: { $ne: null }, password: PASSWORD },
      { login: 'carol', password: { $ne: null } },
      { login: 'carol' },
      null,
    ])('answers VALIDATION_FAILED to %j', async (data) => {
      expect(await verify(data)).toBe('VALIDATION_FAILED');
    });
  });

  describe(subjects.getPublicUsers.subject, () => {
    it('answers the public profiles of the users that exist', async () => {
      const dave = await service.signup('dave', { email: 'dave@example.com', name: 'Dave' });
      const erin = await service.signup('erin');
      const reply = (await service.bus.request(subjects.getPublicUsers.subject, {
        ids: [dave.id, 'missing', erin.id],
      })) as { users: unknown[] };
      expect(subjects.getPublicUsersReply.schema.parse(reply)).toEqual(reply);
      expect(reply.users).toHaveLength(2);
      expect(reply.users).toEqual(
        expect.arrayContaining([
          { id: dave.id, username: 'dave', name: 'Dave', avatarUrl: null, createdAt: dave.createdAt },
          { id: erin.id, username: 'erin', name: null, avatarUrl: null, createdAt: erin.createdAt },
        ]),
      );
    });

    it('answers VALIDATION_FAILED to more than 200 ids', async () => {
      const ids = Array.from({ length: 201 }, (_, index) => `id-${index}`);
      await expect(service.bus.request(subjects.getPublicUsers.subject, { ids })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    });
  });
});
