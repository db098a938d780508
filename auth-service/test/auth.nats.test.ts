import { createBus, startTokenVerification, subjects, type Bus, type TokenVerification } from '@chat/shared';
import { describeWithInfra, LogCapture, testNatsUrl } from '@chat/testing';
import { tokenPairSchema } from '@chat/auth-service';
import { call, eventually, FakeUsersService, PASSWORD, startAuth, tempDataDir } from './support';

describeWithInfra(['nats'], 'two auth instances on NATS', () => {
  const logs = new LogCapture();
  const data = tempDataDir();
  let usersBus: Bus;
  let verifierBus: Bus;
  let users: FakeUsersService;
  let otherService: TokenVerification;
  let a: Awaited<ReturnType<typeof startAuth>>;
  let b: Awaited<ReturnType<typeof startAuth>>;

  beforeAll(async () => {
    const natsUrl = testNatsUrl()!;
    usersBus = await createBus({ natsUrl, name: 'fake-users', logger: logs.logger('users-service') });
    verifierBus = await createBus({ natsUrl, name: 'other-service', logger: logs.logger('other-service') });
    users = new FakeUsersService(usersBus);
    // Each instance owns a NATS connection of its own, as in production; they share the data directory.
    const env = { DATA_DIR: data.dir, NATS_URL: natsUrl };
    [a, b] = await Promise.all([
      startAuth(env, { logger: logs.logger('auth-service') }),
      startAuth(env, { logger: logs.logger('auth-service') }),
    ]);
    otherService = await startTokenVerification({
      bus: verifierBus,
      logger: logs.logger('other-service'),
      issuer: 'chat-auth',
      audience: 'chat',
      windowSeconds: 3600,
    });
  });

  afterAll(async () => {
    await otherService?.stop();
    await Promise.all([a?.app.stop(), b?.app.stop()]);
    await users?.stop();
    await Promise.all([usersBus?.close(), verifierBus?.close()]);
    data.remove();
  });

  async function login(url: string, username: string) {
    const response = await call(url, 'POST', '/api/auth/login', { body: { username, password: PASSWORD } });
    expect(response.status).toBe(200);
    return tokenPairSchema.parse(response.body);
  }

  it('logs in at one instance, logs out at the other, and every verifier refuses the token within 2 s', async () => {
    const user = users.add();
    const pair = await login(a.url, user.username);
    // The other service fetched the key over NATS from whichever instance answered.
    await expect(otherService.verifier.verify(pair.accessToken)).resolves.toMatchObject({ sub: user.id });

    expect((await call(b.url, 'POST', '/api/auth/logout', { token: pair.accessToken })).status).toBe(204);
    await eventually(() =>
      expect(otherService.verifier.verify(pair.accessToken)).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
      }),
    );
    await eventually(async () =>
      expect((await call(a.url, 'POST', '/api/auth/logout', { token: pair.accessToken })).status).toBe(401),
    );
    expect(
      (await call(a.url, 'POST', '/api/auth/refresh', { body: { refreshToken: pair.refreshToken } })).status,
    ).toBe(401);
  });

  it("ends a deleted user's sessions from the durable stream, whichever instance takes the event", async () => {
    const ended: string[] = [];
    const subscription = await verifierBus.consume(
      subjects.sessionEnded.subject,
      (message) => {
        const event = subjects.sessionEnded.schema.parse(message.data);
        if (event.reason === 'user_deleted') ended.push(event.sessionId);
      },
      { since: new Date() },
    );
    try {
      const user = users.add();
      const sessions = [await login(a.url, user.username), await login(b.url, user.username)];
      const sids = await Promise.all(
        sessions.map(async (session) => (await otherService.verifier.verify(session.accessToken)).sid),
      );
      await usersBus.publishDurable(subjects.userDeleted.subject, {
        userId: user.id,
        deletedAt: new Date().toISOString(),
      });

      await eventually(() => expect(ended.sort()).toEqual(sids.sort()), 5_000);
      for (const session of sessions) {
        const response = await call(b.url, 'POST', '/api/auth/refresh', {
          body: { refreshToken: session.refreshToken },
        });
        expect(response.status).toBe(401);
      }
    } finally {
      await subscription.unsubscribe();
    }
  });
});
