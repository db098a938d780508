import { LogCapture } from '@chat/testing';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  type JsonWebKey,
} from 'node:crypto';
import jwt from 'jsonwebtoken';
import {
  accessClaimsSchema,
  startTokenVerification,
  subjects,
  type AccessClaims,
  type MemoryBus,
  type TokenVerification,
  type User,
} from '@chat/shared';
import { jwksSchema, loginResponseSchema, tokenPairSchema } from '@chat/auth-service';
import {
  call,
  eventually,
  FakeUsersService,
  memoryBus,
  PASSWORD,
  startAuth,
  tempDataDir,
  type Response,
} from './support';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Failures of one account from one address before waits begin; then 1 s, 2 s, 4 s, … up to 60 s. */
const FREE_FAILURES = 3;
const BACKOFF_MAX_SECONDS = 60;
const MAX_PER_ADDRESS = 6;
const WINDOW_SECONDS = 600;

describe('auth-service over HTTP', () => {
  const logs = new LogCapture();
  /** Every password and token a test handled: none may reach a log line. */
  const secrets = new Set<string>([PASSWORD]);
  const data = tempDataDir();
  let bus: MemoryBus;
  let users: FakeUsersService;
  let auth: Awaited<ReturnType<typeof startAuth>>;
  /** Another service's view: keys over the bus, revocations from the durable stream. */
  let otherService: TokenVerification;
  let addressCounter = 0;

  /** A client address of its own for each call unless a test says otherwise, so limits do not leak between tests. */
  const freshAddress = () => `198.51.100.${++addressCounter}`;

  async function login(username: string, password = PASSWORD, address = freshAddress()): Promise<Response> {
    secrets.add(password);
    const response = await call(auth.url, 'POST', '/api/auth/login', {
      body: { username, password },
      headers: { 'x-forwarded-for': address },
    });
    remember(response);
    return response;
  }

  async function loggedIn(
    user: User,
  ): Promise<{ accessToken: string; refreshToken: string; claims: AccessClaims }> {
    const response = await login(user.username);
    expect(response.status).toBe(200);
    const { accessToken, refreshToken } = response.body as { accessToken: string; refreshToken: string };
    return { accessToken, refreshToken, claims: await otherService.verifier.verify(accessToken) };
  }

  async function refresh(refreshToken: string): Promise<Response> {
    const response = await call(auth.url, 'POST', '/api/auth/refresh', { body: { refreshToken } });
    remember(response);
    return response;
  }

  const logout = (accessToken: string) => call(auth.url, 'POST', '/api/auth/logout', { token: accessToken });

  function remember(response: Response): void {
    for (const key of ['accessToken', 'refreshToken'] as const) {
      const value = response.body?.[key];
      if (typeof value === 'string') {
        secrets.add(value);
        // The secret half of a refresh token alone must not leak either.
        if (key === 'refreshToken') secrets.add(value.split('.')[1]!);
      }
    }
  }

  function expectUnauthenticated(response: Response): void {
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('UNAUTHENTICATED');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  }

  beforeAll(async () => {
    bus = memoryBus(logs);
    users = new FakeUsersService(bus);
    auth = await startAuth(
      {
        DATA_DIR: data.dir,
        // As behind the gateway: the client address comes from X-Forwarded-For set on loopback.
        TRUST_PROXY: 'loopback',
        LOGIN_FAILURES_BEFORE_BACKOFF: String(FREE_FAILURES),
        LOGIN_BACKOFF_BASE_SECONDS: '1',
        LOGIN_BACKOFF_MAX_SECONDS: String(BACKOFF_MAX_SECONDS),
        LOGIN_MAX_FAILURES_PER_ADDRESS: String(MAX_PER_ADDRESS),
        LOGIN_FAILURE_WINDOW_SECONDS: String(WINDOW_SECONDS),
      },
      { bus, logger: logs.logger('auth-service') },
    );
    otherService = await startTokenVerification({
      bus,
      logger: logs.logger('other-service'),
      issuer: 'chat-auth',
      audience: 'chat',
      windowSeconds: 3600,
    });
  });

  afterAll(async () => {
    await otherService.stop();
    await auth.app.stop();
    await users.stop();
    await bus.close();
    data.remove();
  });

  describe('login', () => {
    it('answers a token pair and the user; the access token verifies with the published JWKS', async () => {
      const user = users.add('alice');
      const response = await login(user.username);

      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(Object.keys(response.body).sort()).toEqual([
        'accessToken',
        'expiresIn',
        'refreshToken',
        'tokenType',
        'user',
      ]);
      const body = loginResponseSchema.parse(response.body);
      expect(body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, user });

      const jwksResponse = await call(auth.url, 'GET', '/api/auth/jwks');
      expect(jwksResponse.status).toBe(200);
      expect(jwksResponse.headers.get('cache-control')).toMatch(/max-age=\d+/);
      const { keys } = jwksSchema.parse(jwksResponse.body);
      expect(keys).toHaveLength(1);
      const jwk = keys[0]!;
      expect(jwk).not.toHaveProperty('d');

      const header = jwt.decode(body.accessToken, { complete: true })?.header;
      expect(header).toMatchObject({ alg: 'ES256', kid: jwk.kid });
      const publicKey = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
      const claims = jwt.verify(body.accessToken, publicKey, {
        algorithms: ['ES256'],
        issuer: 'chat-auth',
        audience: 'chat',
      }) as Record<string, unknown>;
      expect(Object.keys(claims).sort()).toEqual([
        'aud',
        'exp',
        'iat',
        'iss',
        'role',
        'sid',
        'sub',
        'username',
      ]);
      expect(accessClaimsSchema.parse(claims)).toMatchObject({
        sub: user.id,
        username: user.username,
        role: 'user',
        iss: 'chat-auth',
        aud: 'chat',
      });
      const { iat, exp, sid } = claims as { iat: number; exp: number; sid: string };
      expect(exp - iat).toBe(900);
      expect(Math.abs(iat - Date.now() / 1000)).toBeLessThan(10);
      expect(body.refreshToken).toMatch(new RegExp(`^${sid}\\.[A-Za-z0-9_-]{43}$`));
    });

    it('accepts the email in the username field and carries the role into the token', async () => {
      const admin = users.add('root', 'admin');
      const response = await login(admin.email!.toUpperCase());
      expect(response.status).toBe(200);
      await expect(otherService.verifier.verify(response.body.accessToken)).resolves.toMatchObject({
        sub: admin.id,
        role: 'admin',
      });
    });

    it('answers a wrong password and an unknown user with the same 401', async () => {
      const user = users.add();
      const wrongPassword = await login(user.username, 'not the password');
      const unknownUser = await login(`nobody${randomUUID().slice(0, 8)}`);

      expect(wrongPassword.status).toBe(401);
      expect(unknownUser.status).toBe(401);
      expect(wrongPassword.body).toEqual({
        error: { code: 'INVALID_CREDENTIALS', message: expect.any(String) },
      });
      expect(unknownUser.body).toEqual(wrongPassword.body);
    });

    it('slows guessing one account from one address: past the free failures each try waits longer (429 with Retry-After), whatever the case or the login form', async () => {
      const user = users.add();
      const other = users.add();
      const address = freshAddress();
      const forms = [user.username.toUpperCase(), user.email!, user.username];
      for (const [i, form] of forms.entries()) {
        expect((await login(form, `wrong-${i}`, address)).status).toBe(401);
      }

      // Even the right password waits now: a refused guesser learns nothing.
      const blocked = await login(user.email!.toUpperCase(), PASSWORD, address);
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('RATE_LIMITED');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

      // The address itself is not blocked: another user logs in from it.
      expect((await login(other.username, PASSWORD, address)).status).toBe(200);
    });

    it('lets no more concurrent wrong guesses through than the free failures allow', async () => {
      const user = users.add();
      const address = freshAddress();
      const guesses = await Promise.all(
        Array.from({ length: 4 * FREE_FAILURES }, (_, i) => login(user.username, `guess-${i}`, address)),
      );
      const statuses = guesses.map((response) => response.status);
      expect(statuses.filter((status) => status === 401)).toHaveLength(FREE_FAILURES);
      expect(statuses.filter((status) => status === 429)).toHaveLength(3 * FREE_FAILURES);
      expect((await login(user.username, PASSWORD, address)).status).toBe(429);
    });

    it("a stranger's failures from other addresses never lock the owner out", async () => {
      const owner = users.add();
      for (let i = 0; i < 4 * FREE_FAILURES; i++) {
        const form = i % 2 === 0 ? owner.username : owner.email!;
        expect([401, 429]).toContain((await login(form, `stranger-${i}`, '203.0.113.66')).status);
      }
      for (let i = 0; i < MAX_PER_ADDRESS; i++) await login(owner.username, `sprayed-${i}`, freshAddress());
      expect((await login(owner.username, PASSWORD, freshAddress())).status).toBe(200);
      expect((await login(owner.email!, PASSWORD, '198.51.100.250')).status).toBe(200);
    });

    it('counts IPv6 clients by their /56, so moving within it does not reset the address limit', async () => {
      const user = users.add();
      const subnet = `2001:db8:${(++addressCounter).toString(16)}`;
      for (let i = 0; i < MAX_PER_ADDRESS; i++) {
        // Another /64 of the same /56 each time.
        const address = `${subnet}:${i.toString(16)}::${i + 1}`;
        expect((await login(`guess${i}${randomUUID().slice(0, 6)}`, 'wrong', address)).status).toBe(401);
      }
      expect((await login(user.username, PASSWORD, `${subnet}:ff::1`)).status).toBe(429);
      expect((await login(user.username, PASSWORD, `${subnet}:100::1`)).status).toBe(200);
    });

    it("clears the account's counter from that address on a successful login", async () => {
      const user = users.add();
      const address = freshAddress();
      for (let i = 0; i < FREE_FAILURES; i++)
        expect((await login(user.username, 'wrong', address)).status).toBe(401);
      // A success elsewhere forgets nothing here: the next try from this address waits its second.
      expect((await login(user.username, PASSWORD, freshAddress())).status).toBe(200);
      expect((await login(user.username, PASSWORD, address)).status).toBe(429);
      await pause(1_100);
      expect((await login(user.username, PASSWORD, address)).status).toBe(200);
      // Forgotten: the free failures are free again (else these would wait 2 s, then 4 s).
      for (let i = 0; i < FREE_FAILURES - 1; i++)
        expect((await login(user.username, 'wrong', address)).status).toBe(401);
      expect((await login(user.username, PASSWORD, address)).status).toBe(200);
    });

    it('answers 429 with Retry-After after repeated failures from one address, whatever the username', async () => {
      const user = users.add();
      const address = freshAddress();
      for (let i = 0; i < MAX_PER_ADDRESS; i++) {
        expect((await login(`guess${i}${randomUUID().slice(0, 6)}`, 'wrong', address)).status).toBe(401);
      }
      const blocked = await login(user.username, PASSWORD, address);
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('RATE_LIMITED');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);

      expect((await login(user.username, PASSWORD, freshAddress())).status).toBe(200);
    });
  });

  describe('refresh', () => {
    it('rotates: a new pair for the same session, and the old refresh token then answers 401', async () => {
      const user = users.add();
      const first = await loggedIn(user);

      const rotated = await refresh(first.refreshToken);
      expect(rotated.status).toBe(200);
      expect(rotated.headers.get('cache-control')).toBe('no-store');
      expect(Object.keys(rotated.body).sort()).toEqual([
        'accessToken',
        'expiresIn',
        'refreshToken',
        'tokenType',
      ]);
      const pair = tokenPairSchema.parse(rotated.body);
      expect(pair).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
      expect(pair.refreshToken).not.toBe(first.refreshToken);
      await expect(otherService.verifier.verify(pair.accessToken)).resolves.toMatchObject({
        sub: user.id,
        username: user.username,
        sid: first.claims.sid,
      });

      expectUnauthenticated(await refresh(first.refreshToken));
    });

    it('ends the whole session when a rotated refresh token is presented again', async () => {
      const user = users.add();
      const first = await loggedIn(user);
      const second = tokenPairSchema.parse((await refresh(first.refreshToken)).body);
      await expect(otherService.verifier.verify(second.accessToken)).resolves.toMatchObject({
        sid: first.claims.sid,
      });
      const unrelated = await loggedIn(user);

      expectUnauthenticated(await refresh(first.refreshToken));

      expectUnauthenticated(await refresh(second.refreshToken));
      expectUnauthenticated(await logout(second.accessToken));
      await eventually(() =>
        expect(otherService.verifier.verify(second.accessToken)).rejects.toMatchObject({
          code: 'UNAUTHENTICATED',
        }),
      );
      // The user's other session is none of this.
      expect((await refresh(unrelated.refreshToken)).status).toBe(200);
    });

    it('ends the session for any of its recently rotated-away tokens, not only the last one', async () => {
      const user = users.add();
      const first = await loggedIn(user);
      const second = tokenPairSchema.parse((await refresh(first.refreshToken)).body);
      const third = tokenPairSchema.parse((await refresh(second.refreshToken)).body);

      expectUnauthenticated(await refresh(first.refreshToken));
      expectUnauthenticated(await refresh(third.refreshToken));
    });

    it('refuses a secret that was never issued without ending the session', async () => {
      const since = new Date();
      const ended: unknown[] = [];
      const subscription = await bus.consume(
        subjects.sessionEnded.subject,
        (message) => void ended.push(message.data),
        { since },
      );
      try {
        const user = users.add();
        const session = await loggedIn(user);
        // Anyone who saw an access token knows its `sid`.
        const guessed = `${session.claims.sid}.${randomBytes(32).toString('base64url')}`;
        expectUnauthenticated(await refresh(guessed));
        expectUnauthenticated(await refresh(guessed));

        const rotated = await refresh(session.refreshToken);
        expect(rotated.status).toBe(200);
        await expect(otherService.verifier.verify(session.accessToken)).resolves.toMatchObject({
          sid: session.claims.sid,
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(ended).toEqual([]);
      } finally {
        await subscription.unsubscribe();
      }
    });

    it('refuses tokens that are not refresh tokens of a live session', async () => {
      const user = users.add();
      const { refreshToken } = await loggedIn(user);
      const [sessionId, secret] = refreshToken.split('.') as [string, string];
      expectUnauthenticated(await refresh('not-a-refresh-token'));
      expectUnauthenticated(await refresh(`${randomUUID()}.${secret}`));
      expectUnauthenticated(await refresh(`${sessionId}.${secret.slice(1)}`));
    });
  });

  describe('logout', () => {
    it('ends the session: 204, then its access and refresh tokens are refused here and by other services', async () => {
      const user = users.add();
      const session = await loggedIn(user);
      const other = await loggedIn(user);

      const response = await logout(session.accessToken);
      expect(response.status).toBe(204);
      expect(response.body).toBeUndefined();

      expectUnauthenticated(await logout(session.accessToken));
      expectUnauthenticated(await refresh(session.refreshToken));
      await eventually(() =>
        expect(otherService.verifier.verify(session.accessToken)).rejects.toMatchObject({
          code: 'UNAUTHENTICATED',
        }),
      );
      // Only that session ended.
      await expect(otherService.verifier.verify(other.accessToken)).resolves.toMatchObject({
        sid: other.claims.sid,
      });
      expect((await refresh(other.refreshToken)).status).toBe(200);
    });

    it('announces the ended session on the durable stream', async () => {
      const since = new Date();
      const events: unknown[] = [];
      const subscription = await bus.consume(
        subjects.sessionEnded.subject,
        (message) => void events.push(message.data),
        {
          since,
        },
      );
      try {
        const user = users.add();
        const session = await loggedIn(user);
        expect((await logout(session.accessToken)).status).toBe(204);
        await eventually(() =>
          expect(events).toContainEqual({
            sessionId: session.claims.sid,
            userId: user.id,
            reason: 'logout',
            endedAt: expect.any(String),
          }),
        );
      } finally {
        await subscription.unsubscribe();
      }
    });

    it('refuses a missing token, a token signed by another key, and an unsigned token', async () => {
      const user = users.add();
      const { claims } = await loggedIn(user);
      expectUnauthenticated(await call(auth.url, 'POST', '/api/auth/logout'));

      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const kid = (jwt.decode((await loggedIn(user)).accessToken, { complete: true })?.header.kid ??
        '') as string;
      const payload = { username: claims.username, role: 'admin', sid: claims.sid };
      const options = {
        subject: claims.sub,
        issuer: 'chat-auth',
        audience: 'chat',
        expiresIn: 60,
        keyid: kid,
      } as const;
      const forged = jwt.sign(
        payload,
        createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' })),
        {
          ...options,
          algorithm: 'ES256',
        },
      );
      expectUnauthenticated(await logout(forged));
      const unsigned = jwt.sign(payload, '', { ...options, algorithm: 'none' });
      expectUnauthenticated(await logout(unsigned));

      // Neither attempt ended the session.
      await expect(otherService.verifier.verify((await loggedIn(user)).accessToken)).resolves.toBeDefined();
    });
  });

  describe('user events', () => {
    it("puts a user's new username and role into the next access token of their sessions", async () => {
      const user = users.add();
      let { refreshToken } = await loggedIn(user);
      const renamed = `${user.username}x`;
      await bus.publishDurable(subjects.userUpdated.subject, {
        user: { ...user, username: renamed, role: 'admin' },
      });

      await eventually(async () => {
        const pair = tokenPairSchema.parse((await refresh(refreshToken)).body);
        refreshToken = pair.refreshToken;
        await expect(otherService.verifier.verify(pair.accessToken)).resolves.toMatchObject({
          username: renamed,
          role: 'admin',
        });
      });
    });

    it('ends the other sessions of a user who changed their password, and announces each one', async () => {
      const since = new Date();
      const ended: { sessionId: string; reason: string }[] = [];
      const subscription = await bus.consume(
        subjects.sessionEnded.subject,
        (message) => void ended.push(subjects.sessionEnded.schema.parse(message.data)),
        { since },
      );
      try {
        const user = users.add();
        const kept = await loggedIn(user);
        const others = [await loggedIn(user), await loggedIn(user)];
        const bystander = await loggedIn(users.add());
        await bus.publishDurable(subjects.userUpdated.subject, {
          user,
          passwordChanged: { keepSessionId: kept.claims.sid },
        });

        await eventually(() =>
          expect(ended).toEqual(
            others.map(({ claims }) =>
              expect.objectContaining({ sessionId: claims.sid, reason: 'password_changed' }),
            ),
          ),
        );
        for (const other of others) {
          expectUnauthenticated(await refresh(other.refreshToken));
          await expect(otherService.verifier.verify(other.accessToken)).rejects.toMatchObject({
            code: 'UNAUTHENTICATED',
          });
        }
        expect((await refresh(kept.refreshToken)).status).toBe(200);
        expect((await refresh(bystander.refreshToken)).status).toBe(200);
      } finally {
        await subscription.unsubscribe();
      }
    });

    it('ends every session of a user whose password an admin set', async () => {
      const user = users.add();
      const sessions = [await loggedIn(user), await loggedIn(user)];
      await bus.publishDurable(subjects.userUpdated.subject, { user, passwordChanged: {} });

      await eventually(async () => {
        for (const session of sessions) {
          await expect(otherService.verifier.verify(session.accessToken)).rejects.toMatchObject({
            code: 'UNAUTHENTICATED',
          });
        }
      });
      for (const session of sessions) expectUnauthenticated(await refresh(session.refreshToken));
    });

    it('ends every session of a deleted user and announces each one', async () => {
      const since = new Date();
      const ended: { sessionId: string; reason: string }[] = [];
      const subscription = await bus.consume(
        subjects.sessionEnded.subject,
        (message) => void ended.push(subjects.sessionEnded.schema.parse(message.data)),
        { since },
      );
      try {
        const user = users.add();
        const sessions = [await loggedIn(user), await loggedIn(user)];
        await bus.publishDurable(subjects.userDeleted.subject, {
          userId: user.id,
          deletedAt: new Date().toISOString(),
        });

        await eventually(() =>
          expect(ended).toEqual(
            expect.arrayContaining(
              sessions.map(({ claims }) =>
                expect.objectContaining({ sessionId: claims.sid, reason: 'user_deleted' }),
              ),
            ),
          ),
        );
        for (const session of sessions) expectUnauthenticated(await refresh(session.refreshToken));
      } finally {
        await subscription.unsubscribe();
      }
    });
  });

  describe('bodies', () => {
    it('refuses unknown fields, operators in place of strings, and malformed JSON with 400', async () => {
      const user = users.add();
      const cases: [string, unknown][] = [
        ['/api/auth/login', { username: user.username, password: PASSWORD, role: 'admin' }],
        ['/api/auth/login', { username: { $ne: null }, password: PASSWORD }],
        ['/api/auth/login', { username: user.username, password: { $gt: '' } }],
        ['/api/auth/login', { username: user.username }],
        ['/api/auth/login', [user.username, PASSWORD]],
        ['/api/auth/refresh', { refreshToken: { $ne: null } }],
        ['/api/auth/refresh', { refreshToken: 'x', sessionId: 'y' }],
      ];
      for (const [path, body] of cases) {
        const response = await call(auth.url, 'POST', path, {
          body,
          headers: { 'x-forwarded-for': freshAddress() },
        });
        expect({ path, body, status: response.status, code: response.body.error.code }).toEqual({
          path,
          body,
          status: 400,
          code: 'VALIDATION_FAILED',
        });
        expect(response.body.error.details.length).toBeGreaterThan(0);
      }
      const unknownField = await call(auth.url, 'POST', '/api/auth/login', {
        body: { username: user.username, password: PASSWORD, role: 'admin' },
      });
      expect(JSON.stringify(unknownField.body.error.details)).toContain('role');

      for (const path of ['/api/auth/login', '/api/auth/refresh']) {
        const malformed = await call(auth.url, 'POST', path, { raw: '{"username": "a", ' });
        expect([malformed.status, malformed.body.error.code]).toEqual([400, 'INVALID_JSON']);
        const missing = await call(auth.url, 'POST', path);
        expect([missing.status, missing.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
      }
      const huge = await call(auth.url, 'POST', '/api/auth/login', {
        body: { username: user.username, password: 'x'.repeat(100_000) },
      });
      expect([huge.status, huge.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    });
  });

  it('writes no password or token to any log line', async () => {
    const user = users.add();
    expect((await login(user.username, 'a wrong password')).status).toBe(401);
    const session = await loggedIn(user);
    const pair = tokenPairSchema.parse((await refresh(session.refreshToken)).body);
    expect((await logout(pair.accessToken)).status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(logs.lines.some((line) => line.includes('session started'))).toBe(true);
    const leaks = logs.lines.filter((line) => [...secrets].some((secret) => line.includes(secret)));
    expect(leaks).toEqual([]);
  });
});

describe('auth-service reached directly, with TRUST_PROXY at its default (issue 9, finding 9)', () => {
  it('believes no X-Forwarded-For: rotating it does not get a client past the per-address limit', async () => {
    const logs = new LogCapture();
    const bus = memoryBus(logs);
    const users = new FakeUsersService(bus);
    const data = tempDataDir();
    const auth = await startAuth(
      { DATA_DIR: data.dir, LOGIN_MAX_FAILURES_PER_ADDRESS: '3' },
      { bus, logger: logs.logger('auth-service') },
    );
    try {
      const attempt = (username: string, password: string, i: number) =>
        call(auth.url, 'POST', '/api/auth/login', {
          body: { username, password },
          headers: { 'x-forwarded-for': `203.0.113.${i}`, 'x-real-ip': `198.51.100.${i}` },
        });
      for (let i = 1; i <= 3; i++) expect((await attempt(`nobody${i}`, 'wrong', i)).status).toBe(401);
      const user = users.add();
      const refused = await attempt(user.username, PASSWORD, 4);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await auth.app.stop();
      await users.stop();
      await bus.close();
      data.remove();
    }
  });
});

describe('auth-service when users-service does not answer', () => {
  it('answers 503 UPSTREAM_UNAVAILABLE', async () => {
    const logs = new LogCapture();
    const bus = memoryBus(logs);
    const data = tempDataDir();
    const auth = await startAuth({ DATA_DIR: data.dir }, { bus, logger: logs.logger('auth-service') });
    try {
      const response = await call(auth.url, 'POST', '/api/auth/login', {
        body: { username: 'alice', password: PASSWORD },
      });
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('UPSTREAM_UNAVAILABLE');
    } finally {
      await auth.app.stop();
      await bus.close();
      data.remove();
    }
  });
});
