import {
  connectNatsBus,
  createLogger,
  subjects,
  type Bus,
  type BusMessage,
  type ServiceApp,
  type User,
} from '@chat/shared';
import {
  describeWithInfra,
  startTestTokenIssuer,
  testNatsUrl,
  uniqueMongoUrl,
  uniqueName,
  type TestTokenIssuer,
} from '@chat/testing';
import { createApp, loadUsersConfig, runAdminCommand } from '@chat/users-service';
import { PASSWORD } from './support';

/** Retries `check` until it stops throwing or `timeoutMs` passes: for what travels over NATS. */
async function eventually(check: () => Promise<void> | void, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describeWithInfra(['mongo', 'nats'], 'two users-service instances on MongoDB and NATS', () => {
  const logger = createLogger('users-infra-test', 'error');
  let peer: Bus;
  let issuer: TestTokenIssuer;
  let apps: ServiceApp[];
  let urls: string[];
  let mongoUrl: string;

  beforeAll(async () => {
    peer = await connectNatsBus({ servers: testNatsUrl()!, name: uniqueName('users-peer-'), logger });
    issuer = startTestTokenIssuer(peer);
    mongoUrl = uniqueMongoUrl();
    const config = loadUsersConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      MONGO_URL: mongoUrl,
      NATS_URL: testNatsUrl(),
      BCRYPT_COST: '4',
      LOG_LEVEL: 'error',
    });
    apps = [createApp(config, { logger }), createApp(config, { logger })];
    urls = [];
    for (const app of apps) urls.push((await app.start()).url);
  });

  afterAll(async () => {
    for (const app of apps ?? []) await app.stop();
    await issuer?.stop();
    await peer?.close();
  });

  const call = async (
    index: number,
    method: string,
    path: string,
    options: { token?: string; body?: unknown } = {},
  ) => {
    const response = await fetch(`${urls[index]}${path}`, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body ? { 'content-type': 'application/json' } : {}),
      },
      body: options.body ? JSON.stringify(options.body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  const signup = async (index: number, username: string) => {
    const response = await call(index, 'POST', '/api/users', { body: { username, password: PASSWORD } });
    expect(response.status).toBe(201);
    return response.body as User;
  };

  const tokenFor = (user: User) => issuer.mint({ sub: user.id, username: user.username, role: user.role });

  it('shares one store: a user made on one instance signs in through the bus and reads on the other', async () => {
    const user = await signup(0, uniqueName('ann'));
    expect((await call(1, 'GET', '/api/users/me', { token: tokenFor(user) })).body).toEqual(user);
    const reply = await peer.request(subjects.verifyCredentials.subject, {
      login: user.username.toUpperCase(),
      password: PASSWORD,
    });
    expect(reply).toEqual({ user });
  });

  it('lets one of two simultaneous signups of one username through, across instances', async () => {
    const username = uniqueName('race');
    const statuses = await Promise.all(
      [0, 1, 0, 1].map(
        async (index) =>
          (await call(index, 'POST', '/api/users', { body: { username, password: PASSWORD } })).status,
      ),
    );
    expect(statuses.sort()).toEqual([201, 409, 409, 409]);
  });

  it('publishes durable events and revokes a deleted user’s tokens on every instance', async () => {
    const user = await signup(0, uniqueName('del'));
    const token = tokenFor(user);
    const events: BusMessage[] = [];
    const subscription = await peer.consume(
      'events.users.>',
      (message) => {
        if (JSON.stringify(message.data).includes(user.id)) events.push(message);
      },
      { since: new Date(Date.now() - 60_000) },
    );
    try {
      expect((await call(0, 'DELETE', `/api/users/${user.id}`, { token })).status).toBe(204);
      await eventually(() => {
        expect(events.map((event) => event.subject)).toEqual([
          subjects.userCreated.subject,
          subjects.userDeleted.subject,
        ]);
      });
      expect(JSON.stringify(events)).not.toMatch(/\$2[aby]\$|passwordHash|correct horse/);
      await eventually(async () => {
        const response = await call(1, 'GET', '/api/users', { token });
        expect(response.status).toBe(401);
        expect(response.body.error.message).toBe('The session has ended.');
      });
    } finally {
      await subscription.unsubscribe();
    }
  });

  it('the admin command promotes on MongoDB while the instances run, and announces it on NATS at once', async () => {
    const user = await signup(0, uniqueName('chief'));
    const events: BusMessage[] = [];
    const subscription = await peer.consume(
      subjects.userUpdated.subject,
      (message) => {
        if ((message.data as { user: User }).user.id === user.id) events.push(message);
      },
      { since: new Date() },
    );
    try {
      const result = await runAdminCommand(['promote', user.username], {
        MONGO_URL: mongoUrl,
        NATS_URL: testNatsUrl(),
        LOG_LEVEL: 'error',
      });
      expect(result).toEqual({ code: 0, output: expect.stringMatching(/is now an admin.*Announced/s) });
      expect((await call(1, 'GET', '/api/users/me', { token: tokenFor(user) })).body.role).toBe('admin');
      await eventually(() => {
        expect(events.map((event) => (event.data as { user: User }).user.role)).toEqual(['admin']);
      });
    } finally {
      await subscription.unsubscribe();
    }
  });

  it('answers /readyz with the store, the bus and the revocation consumers up', async () => {
    const response = await call(1, 'GET', '/readyz');
    expect(response.body).toEqual({
      status: 'ready',
      checks: { store: 'ok', bus: 'ok', revocations: 'ok' },
    });
  });
});
