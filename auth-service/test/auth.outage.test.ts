import { LogCapture } from '@chat/testing';
import {
  MemoryBus,
  startTokenVerification,
  subjects,
  UpstreamUnavailableError,
  type PublishOptions,
  type TokenVerification,
  type User,
} from '@chat/shared';
import {
  call,
  eventually,
  FakeUsersService,
  PASSWORD,
  startAuth,
  tempDataDir,
  type Response,
} from './support';

/**
 * The in-process bus, except that the event store refuses the subjects in `refusing`, as JetStream does
 * while it is unreachable: publishDurable rejects with UpstreamUnavailableError and stores nothing.
 */
class OutageBus extends MemoryBus {
  readonly refusing = new Set<string>();

  override async publishDurable(subject: string, data: unknown, options?: PublishOptions): Promise<void> {
    if (this.refusing.has(subject)) throw new UpstreamUnavailableError('The event store is unreachable.');
    return super.publishDurable(subject, data, options);
  }
}

/**
 * Session endings cannot be half done (issue 15): every end is announced to the event store before it
 * happens in the database, so an end the store does not take ends nothing and can be tried again.
 */
describe('auth-service when the event store does not take session endings', () => {
  const logs = new LogCapture();
  const data = tempDataDir();
  let bus: OutageBus;
  let users: FakeUsersService;
  let auth: Awaited<ReturnType<typeof startAuth>>;
  /** Another service's view: revocations from the durable stream. */
  let otherService: TokenVerification;
  const ended: Array<{ sessionId: string; reason: string }> = [];
  let address = 0;

  beforeAll(async () => {
    bus = new OutageBus({ logger: logs.logger('bus') });
    users = new FakeUsersService(bus);
    auth = await startAuth({ DATA_DIR: data.dir }, { bus, logger: logs.logger('auth-service') });
    otherService = await startTokenVerification({
      bus,
      logger: logs.logger('other-service'),
      issuer: 'chat-auth',
      audience: 'chat',
      windowSeconds: 3600,
    });
    await bus.consume(
      subjects.sessionEnded.subject,
      (message) => void ended.push(subjects.sessionEnded.schema.parse(message.data)),
      { since: new Date(0) },
    );
  });

  afterAll(async () => {
    await otherService?.stop();
    await auth?.app.stop();
    await users?.stop();
    await bus?.close();
    data.remove();
  });

  afterEach(() => {
    bus.refusing.clear();
  });

  async function login(user: User): Promise<{ accessToken: string; refreshToken: string; sid: string }> {
    const response = await call(auth.url, 'POST', '/api/auth/login', {
      body: { username: user.username, password: PASSWORD },
      headers: { 'x-forwarded-for': `203.0.113.${++address}` },
    });
    expect(response.status).toBe(200);
    const { accessToken, refreshToken } = response.body as { accessToken: string; refreshToken: string };
    const { sid } = await otherService.verifier.verify(accessToken);
    return { accessToken, refreshToken, sid };
  }

  const refresh = (refreshToken: string) =>
    call(auth.url, 'POST', '/api/auth/refresh', { body: { refreshToken } });
  const logout = (accessToken: string) => call(auth.url, 'POST', '/api/auth/logout', { token: accessToken });
  const endsOf = (sid: string) => ended.filter((event) => event.sessionId === sid);

  function expectUnavailable(response: Response): void {
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('UPSTREAM_UNAVAILABLE');
  }

  it('answers 503 to a logout it cannot announce and ends nothing; a retry ends the session everywhere', async () => {
    const session = await login(users.add());
    bus.refusing.add(subjects.sessionEnded.subject);

    expectUnavailable(await logout(session.accessToken));
    // The session is as it was: its access token passes every verifier, auth's own included.
    await expect(otherService.verifier.verify(session.accessToken)).resolves.toMatchObject({
      sid: session.sid,
    });
    const refreshed = await refresh(session.refreshToken);
    expect(refreshed.status).toBe(200);
    expectUnavailable(await logout(session.accessToken));

    bus.refusing.clear();
    expect((await logout(session.accessToken)).status).toBe(204);

    await eventually(() =>
      expect(endsOf(session.sid)).toEqual([expect.objectContaining({ reason: 'logout' })]),
    );
    await expect(otherService.verifier.verify(session.accessToken)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect((await refresh(refreshed.body.refreshToken)).status).toBe(401);
  });

  it('ends nothing for a reused refresh token it cannot announce, and ends the session when it is presented again', async () => {
    const session = await login(users.add());
    const rotated = await refresh(session.refreshToken);
    expect(rotated.status).toBe(200);
    bus.refusing.add(subjects.sessionEnded.subject);

    expectUnavailable(await refresh(session.refreshToken));
    // The rightful holder's refresh token still works, and the stolen one is still known as reused.
    const next = await refresh(rotated.body.refreshToken);
    expect(next.status).toBe(200);
    expect(endsOf(session.sid)).toEqual([]);

    bus.refusing.clear();
    expect((await refresh(session.refreshToken)).status).toBe(401);

    await eventually(() =>
      expect(endsOf(session.sid)).toEqual([expect.objectContaining({ reason: 'refresh_reuse' })]),
    );
    expect((await refresh(next.body.refreshToken)).status).toBe(401);
  });

  it('keeps the sessions a password change ends until their ends are announced, then ends and announces each', async () => {
    const user = users.add();
    const kept = await login(user);
    const others = [await login(user), await login(user)];
    bus.refusing.add(subjects.sessionEnded.subject);

    await bus.publishDurable(subjects.userUpdated.subject, {
      user,
      passwordChanged: { keepSessionId: kept.sid },
    });
    await eventually(() =>
      expect(logs.entries()).toContainEqual(
        expect.objectContaining({
          message: 'durable handler failed; retrying',
          subject: subjects.userUpdated.subject,
        }),
      ),
    );
    // Not one of them ended unannounced.
    for (const other of others) {
      await expect(otherService.verifier.verify(other.accessToken)).resolves.toBeDefined();
      expect(endsOf(other.sid)).toEqual([]);
    }

    bus.refusing.clear();

    await eventually(() => {
      for (const other of others)
        expect(endsOf(other.sid)).toEqual([expect.objectContaining({ reason: 'password_changed' })]);
    }, 10_000);
    for (const other of others) expect((await refresh(other.refreshToken)).status).toBe(401);
    expect((await refresh(kept.refreshToken)).status).toBe(200);
  });
});
