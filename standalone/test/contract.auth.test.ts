import { createHmac, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import {
  base64urlJson,
  claimsOf,
  expectError,
  expectInvalidField,
  headerOf,
  PASSWORD,
  refusedUpgrade,
  SigningKey,
  startSystem,
  uniqueUsername,
  USER_KEYS,
  within,
  type Json,
  type Session,
  type TestSystem,
} from './support/system';

/** Where a token is presented: one REST call per service, and the socket upgrade. */
const GUARDED = [
  ['GET', '/api/users/me'],
  ['GET', '/api/rooms'],
  ['POST', '/api/auth/logout'],
] as const;

/** Auth (docs/openapi.json, tag auth): login, refresh, logout, JWKS, and access tokens no one but auth-service can make. */
describe('contract: auth', () => {
  const key = new SigningKey();
  let system: TestSystem;

  beforeAll(async () => {
    // A key given by the operator (JWT_PRIVATE_KEY), so tests can also sign what auth-service never would.
    system = await startSystem({ JWT_PRIVATE_KEY: key.pem });
  });

  afterAll(async () => {
    await system.stop();
  });

  const refusedEverywhere = async (token: string) => {
    for (const [method, pathname] of GUARDED) {
      expectError(await system.call(method, pathname, { token }), 401, 'UNAUTHENTICATED');
    }
    const upgrade = await refusedUpgrade(system.wsUrl, { token });
    expect(upgrade).toMatchObject({
      status: 401,
      opened: false,
      body: { error: { code: 'UNAUTHENTICATED' } },
    });
    expect(upgrade.headers['www-authenticate']).toBe('Bearer');
  };

  const acceptedEverywhere = async (token: string) => {
    expect((await system.call('GET', '/api/users/me', { token })).status).toBe(200);
    expect((await system.call('GET', '/api/rooms', { token })).status).toBe(200);
    const socket = await system.connect(token);
    socket.ws.close();
  };

  describe('POST /api/auth/login', () => {
    let account: { id: string; username: string; email: string };

    beforeAll(async () => {
      const username = uniqueUsername('Login');
      const signed = await system.signup('x', { username, email: `${username}@example.com` });
      account = { id: signed.id, username, email: `${username}@example.com` };
    });

    it('200 {accessToken, refreshToken, tokenType: "Bearer", expiresIn, user: User}', async () => {
      const reply = await system.call('POST', '/api/auth/login', {
        body: { username: account.username, password: PASSWORD },
      });
      expect(reply.status).toBe(200);
      expect(Object.keys(reply.body).sort()).toEqual([
        'accessToken',
        'expiresIn',
        'refreshToken',
        'tokenType',
        'user',
      ]);
      expect(reply.body.tokenType).toBe('Bearer');
      expect(reply.body.expiresIn).toBe(900);
      expect(typeof reply.body.refreshToken).toBe('string');
      expect(reply.body.refreshToken).not.toBe(reply.body.accessToken);
      expect(Object.keys(reply.body.user).sort()).toEqual(USER_KEYS);
      expect(reply.body.user).toMatchObject({ id: account.id, username: account.username, role: 'user' });
      expect(reply.text).not.toContain(PASSWORD);
    });

    it('the username may also be the email, in any case', async () => {
      for (const username of [account.email, account.email.toUpperCase()]) {
        const reply = await system.call('POST', '/api/auth/login', {
          body: { username, password: PASSWORD },
        });
        expect(reply.status).toBe(200);
        expect(reply.body.user.id).toBe(account.id);
      }
    });

    it('the access token: ES256 with a kid, claims sub, username, role, sid, iat, exp, iss, aud; 15 minutes', async () => {
      const session = await system.login(account.username);
      const header = headerOf(session.accessToken);
      expect(header.alg).toBe('ES256');
      expect(typeof header.kid).toBe('string');
      const claims = claimsOf(session.accessToken);
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
      expect(claims).toMatchObject({ sub: account.id, username: account.username, role: 'user' });
      expect(claims.exp - claims.iat).toBe(900);
      expect(Math.abs(claims.iat - Date.now() / 1000)).toBeLessThan(30);
      expect(typeof claims.sid).toBe('string');
      expect(claims.iss).toBeTruthy();
      expect(claims.aud).toBeTruthy();
    });

    it('each login is a session of its own', async () => {
      const first = await system.login(account.username);
      const second = await system.login(account.username);
      expect(first.sid).not.toBe(second.sid);
      expect(first.refreshToken).not.toBe(second.refreshToken);
    });

    it('an unknown user and a wrong password get the same answer: 401 INVALID_CREDENTIALS', async () => {
      const wrong = await system.call('POST', '/api/auth/login', {
        body: { username: account.username, password: 'not the password' },
      });
      const unknown = await system.call('POST', '/api/auth/login', {
        body: { username: uniqueUsername('ghost'), password: 'not the password' },
      });
      const unknownEmail = await system.call('POST', '/api/auth/login', {
        body: { username: 'ghost@example.com', password: PASSWORD },
      });
      for (const reply of [wrong, unknown, unknownEmail]) expectError(reply, 401, 'INVALID_CREDENTIALS');
      expect(unknown.body).toEqual(wrong.body);
      expect(unknownEmail.body).toEqual(wrong.body);
      expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
    });

    it.each([
      [{ password: PASSWORD }, 'username'],
      [{ username: 'someone' }, 'password'],
      [{ username: '', password: PASSWORD }, 'username'],
      [{ username: 'someone', password: '' }, 'password'],
      [{ username: ['a'], password: PASSWORD }, 'username'],
      [{ username: 'someone', password: 12345678 }, 'password'],
    ])('a missing or wrong-typed field is 400: %j', async (body, field) => {
      expectInvalidField(await system.call('POST', '/api/auth/login', { body }), field);
    });
  });

  describe('GET /api/auth/jwks', () => {
    it('public keys only, and they verify the access tokens auth-service issues', async () => {
      const reply = await system.call('GET', '/api/auth/jwks');
      expect(reply.status).toBe(200);
      expect(reply.body.keys.length).toBeGreaterThan(0);
      for (const jwk of reply.body.keys) {
        expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
        expect(jwk).not.toHaveProperty('d');
      }
      const session = await system.account('jwks');
      const { kid } = headerOf(session.accessToken);
      const jwk = reply.body.keys.find((candidate: Json) => candidate.kid === kid);
      expect(jwk).toBeDefined();
      const [header, payload, signature] = session.accessToken.split('.');
      const valid = verify(
        'sha256',
        Buffer.from(`${header}.${payload}`),
        { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
        Buffer.from(signature ?? '', 'base64url'),
      );
      expect(valid).toBe(true);
    });
  });

  describe('forged and expired access tokens are refused by every service and the socket', () => {
    let victim: Session;
    let jwk: Json;
    const now = () => Math.floor(Date.now() / 1000);
    const claims = (overrides: Record<string, unknown> = {}) => ({
      sub: victim.id,
      username: victim.username,
      role: 'admin',
      sid: `forged-${now()}`,
      iat: now(),
      exp: now() + 600,
      iss: claimsOf(victim.accessToken).iss,
      aud: claimsOf(victim.accessToken).aud,
      ...overrides,
    });
    const es256 = (payload: object) => key.sign({ alg: 'ES256', typ: 'JWT', kid: jwk.kid }, payload);

    beforeAll(async () => {
      victim = await system.account('victim');
      jwk = (await system.call('GET', '/api/auth/jwks')).body.keys[0];
    });

    it('control: a token signed with the real key and right claims is accepted (so refusals below are about the forgery)', async () => {
      await acceptedEverywhere(es256(claims({ role: 'user' })));
    });

    it('alg "none" with no signature', async () => {
      const input = `${base64urlJson({ alg: 'none', typ: 'JWT', kid: jwk.kid })}.${base64urlJson(claims())}`;
      await refusedEverywhere(`${input}.`);
      await refusedEverywhere(input);
    });

    it('HS256 signed with the public key material from the JWKS', async () => {
      const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
      const secrets = [
        publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        publicKey.export({ type: 'spki', format: 'der' }),
        JSON.stringify(jwk),
      ];
      for (const secret of secrets) {
        const input = `${base64urlJson({ alg: 'HS256', typ: 'JWT', kid: jwk.kid })}.${base64urlJson(claims())}`;
        await refusedEverywhere(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`);
      }
    });

    it('a real token with its payload changed (role admin, another user)', async () => {
      const [header, , signature] = victim.accessToken.split('.');
      const other = await system.account('other');
      for (const payload of [
        { ...claimsOf(victim.accessToken), role: 'admin' },
        { ...claimsOf(victim.accessToken), sub: other.id, username: other.username },
        { ...claimsOf(victim.accessToken), exp: now() + 86_400 },
      ]) {
        await refusedEverywhere(`${header}.${base64urlJson(payload)}.${signature}`);
      }
    });

    it('expired, even when signed with the real key', async () => {
      await refusedEverywhere(es256(claims({ role: 'user', iat: now() - 1_000, exp: now() - 60 })));
    });

    it('wrong audience or issuer, even when signed with the real key', async () => {
      await refusedEverywhere(es256(claims({ role: 'user', aud: 'another-api' })));
      await refusedEverywhere(es256(claims({ role: 'user', iss: 'https://evil.example' })));
      await refusedEverywhere(es256(claims({ role: 'user', aud: undefined })));
      await refusedEverywhere(es256(claims({ role: 'user', exp: undefined })));
    });

    it('signed by another ES256 key under the real kid, or with an unknown kid', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const input = `${base64urlJson({ alg: 'ES256', typ: 'JWT', kid: jwk.kid })}.${base64urlJson(claims())}`;
      const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      await refusedEverywhere(`${input}.${signature.toString('base64url')}`);
      await refusedEverywhere(
        key.sign({ alg: 'ES256', typ: 'JWT', kid: 'no-such-kid' }, claims({ role: 'user' })),
      );
    });

    it('RS256 or ES384 in the header', async () => {
      for (const alg of ['RS256', 'ES384', 'PS256']) {
        await refusedEverywhere(key.sign({ alg, typ: 'JWT', kid: jwk.kid }, claims({ role: 'user' })));
      }
    });
  });

  describe('POST /api/auth/refresh', () => {
    it('a new pair for the same session; the old refresh token stops working', async () => {
      const session = await system.account('refresher');
      const reply = await system.call('POST', '/api/auth/refresh', {
        body: { refreshToken: session.refreshToken },
      });
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
      expect(reply.body.refreshToken).not.toBe(session.refreshToken);
      expect(reply.body.accessToken).not.toBe(session.accessToken);
      expect(claimsOf(reply.body.accessToken)).toMatchObject({ sub: session.id, sid: session.sid });
      expect((await system.call('GET', '/api/users/me', { token: reply.body.accessToken })).status).toBe(200);

      const next = await system.call('POST', '/api/auth/refresh', {
        body: { refreshToken: reply.body.refreshToken },
      });
      expect(next.status).toBe(200);
      expectError(
        await system.call('POST', '/api/auth/refresh', { body: { refreshToken: session.refreshToken } }),
        401,
        'UNAUTHENTICATED',
      );
    });

    it('presenting a rotated refresh token ends the whole session: 401, and its tokens are refused within 2 s', async () => {
      const session = await system.account('reuser');
      const untouched = await system.login(session.username);
      const rotated = await system.call('POST', '/api/auth/refresh', {
        body: { refreshToken: session.refreshToken },
      });
      expect(rotated.status).toBe(200);

      const reuse = await system.call('POST', '/api/auth/refresh', {
        body: { refreshToken: session.refreshToken },
      });
      expectError(reuse, 401, 'UNAUTHENTICATED');
      // The thief's fresh pair dies with the session.
      expectError(
        await system.call('POST', '/api/auth/refresh', { body: { refreshToken: rotated.body.refreshToken } }),
        401,
        'UNAUTHENTICATED',
      );
      await within(2_000, async () => {
        for (const [method, pathname] of GUARDED) {
          for (const token of [session.accessToken, rotated.body.accessToken]) {
            expectError(await system.call(method, pathname, { token }), 401, 'UNAUTHENTICATED');
          }
        }
      });
      // The user's other session is not touched.
      expect((await system.call('GET', '/api/users/me', { token: untouched.accessToken })).status).toBe(200);
      expect(
        (await system.call('POST', '/api/auth/refresh', { body: { refreshToken: untouched.refreshToken } }))
          .status,
      ).toBe(200);
    });

    it.each([
      ['garbage', 'not-a-refresh-token'],
      ['the right shape, no such session', `no-such-session.${'A'.repeat(43)}`],
      ['an access token', 'use-the-access-token'],
    ])('an unknown refresh token (%s) is 401', async (_case, refreshToken) => {
      const token =
        refreshToken === 'use-the-access-token' ? (await system.account('mixup')).accessToken : refreshToken;
      expectError(
        await system.call('POST', '/api/auth/refresh', { body: { refreshToken: token } }),
        401,
        'UNAUTHENTICATED',
      );
    });

    it('a missing refresh token is 400', async () => {
      expectInvalidField(await system.call('POST', '/api/auth/refresh', { body: {} }), 'refreshToken');
    });
  });

  describe('POST /api/auth/logout', () => {
    it('204; the session ends everywhere within 2 s: REST on every service, its socket (4001), its refresh token', async () => {
      const session = await system.account('leaver');
      const other = await system.login(session.username);
      const socket = await system.connect(session.accessToken);
      const otherSocket = await system.connect(other.accessToken);

      const reply = await system.call('POST', '/api/auth/logout', { token: session.accessToken });
      expect(reply.status).toBe(204);
      expect(reply.text).toBe('');

      const closed = await socket.closedWithin(2_000);
      expect(closed.code).toBe(4001);
      await within(2_000, async () => {
        for (const [method, pathname] of GUARDED) {
          expectError(
            await system.call(method, pathname, { token: session.accessToken }),
            401,
            'UNAUTHENTICATED',
          );
        }
      });
      const upgrade = await refusedUpgrade(system.wsUrl, { token: session.accessToken });
      expect(upgrade).toMatchObject({ status: 401, opened: false });
      expectError(
        await system.call('POST', '/api/auth/refresh', { body: { refreshToken: session.refreshToken } }),
        401,
        'UNAUTHENTICATED',
      );

      // Only that session: the user's other one keeps its socket and its tokens.
      expect(otherSocket.isOpen).toBe(true);
      expect((await otherSocket.request({ type: 'ping' })).type).toBe('pong');
      expect((await system.call('GET', '/api/users/me', { token: other.accessToken })).status).toBe(200);
      expect((await system.call('GET', '/api/rooms', { token: other.accessToken })).status).toBe(200);
    });

    it('401 without a token', async () => {
      expectError(await system.call('POST', '/api/auth/logout'), 401, 'UNAUTHENTICATED');
    });
  });

  describe('changing a password', () => {
    it("ends the user's other sessions everywhere within 2 s (sockets 4001); the session that changed it stays", async () => {
      const session = await system.account('changer');
      const stolen = await system.login(session.username);
      const stolenSocket = await system.connect(stolen.accessToken);
      const socket = await system.connect(session.accessToken);

      const changed = await system.call('PATCH', `/api/users/${session.id}`, {
        token: session.accessToken,
        body: { password: 'a brand new password', currentPassword: PASSWORD },
      });
      expect(changed.status).toBe(200);

      expect((await stolenSocket.closedWithin(2_000)).code).toBe(4001);
      await within(2_000, () => refusedEverywhere(stolen.accessToken));
      expectError(
        await system.call('POST', '/api/auth/refresh', { body: { refreshToken: stolen.refreshToken } }),
        401,
        'UNAUTHENTICATED',
      );

      expect(socket.isOpen).toBe(true);
      await acceptedEverywhere(session.accessToken);
      expect(
        (await system.call('POST', '/api/auth/refresh', { body: { refreshToken: session.refreshToken } }))
          .status,
      ).toBe(200);
      socket.ws.close();
    });
  });
});

describe('contract: auth rate limits', () => {
  let system: TestSystem;

  beforeAll(async () => {
    // The login limits at their defaults (5 free failures per account and address, then waits that
    // double from 30 s; 20 failures per address); a small gateway limit.
    system = await startSystem({ RATE_LIMIT_PER_MINUTE: '80' });
  });

  afterAll(async () => {
    await system.stop();
  });

  const attempt = (username: string, password: string) =>
    system.call('POST', '/api/auth/login', { body: { username, password } });

  it('429 with Retry-After after repeated failures for one username from one address, even with the right password; others still log in', async () => {
    const target = await system.signup('target');
    const bystander = await system.signup('bystander');
    for (let i = 0; i < 5; i += 1)
      expectError(await attempt(target.username, `wrong guess ${i}`), 401, 'INVALID_CREDENTIALS');
    const blocked = await attempt(target.username, PASSWORD);
    expectError(blocked, 429, 'RATE_LIMITED');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(20);
    expect(Number(blocked.headers.get('retry-after'))).toBeLessThanOrEqual(30);
    // The same username in another case is the same username.
    expectError(await attempt(target.username.toUpperCase(), PASSWORD), 429, 'RATE_LIMITED');
    expect((await attempt(bystander.username, PASSWORD)).status).toBe(200);
  });

  it('429 after repeated failures from one client address, whatever the username', async () => {
    const fresh = await system.signup('fresh');
    // 5 failures so far from this address; 15 more, each for a different unknown user, reach 20.
    for (let i = 0; i < 15; i += 1) {
      expectError(await attempt(uniqueUsername('spray'), 'wrong guess'), 401, 'INVALID_CREDENTIALS');
    }
    expectError(await attempt(fresh.username, PASSWORD), 429, 'RATE_LIMITED');
  });

  it('the gateway limits every client: 429 RATE_LIMITED with Retry-After, for REST and socket upgrades', async () => {
    let reply = await system.call('GET', '/api/auth/jwks');
    for (let i = 0; i < 100 && reply.status !== 429; i += 1)
      reply = await system.call('GET', '/api/auth/jwks');
    expectError(reply, 429, 'RATE_LIMITED');
    const upgrade = await refusedUpgrade(system.wsUrl, { token: 'whatever' });
    expect(upgrade).toMatchObject({ status: 429, opened: false, body: { error: { code: 'RATE_LIMITED' } } });
    expect(Number(upgrade.headers['retry-after'])).toBeGreaterThan(0);
    expect(upgrade.headers['x-request-id']).toBeTruthy();
    // Probes are not counted against clients.
    expect((await system.call('GET', '/healthz')).status).toBe(200);
  });
});

describe('contract: login takes about the same time for an unknown user as for a wrong password', () => {
  let system: TestSystem;

  beforeAll(async () => {
    // A real work factor, so skipping the hash for an unknown user would show (cost 4 is too fast to see).
    system = await startSystem({ BCRYPT_COST: '10' });
  });

  afterAll(async () => {
    await system.stop();
  });

  it('the unknown user is not answered faster', async () => {
    const account = await system.signup('timed');
    const timed = async (username: string) => {
      const started = process.hrtime.bigint();
      const reply = await system.call('POST', '/api/auth/login', {
        body: { username, password: 'wrong password' },
      });
      expectError(reply, 401, 'INVALID_CREDENTIALS');
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const wrong: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      wrong.push(await timed(account.username));
      unknown.push(await timed(uniqueUsername('nobody')));
    }
    // Load only ever adds time, so the fastest of each is the fairest comparison.
    expect(Math.min(...unknown)).toBeGreaterThan(0.5 * Math.min(...wrong));
  });
});
