import { execFile } from 'node:child_process';
import path from 'node:path';
import { subjects, type User } from '@chat/shared';
import { PASSWORD, startTestService, type Response, type TestService } from './support';

/** `npm run admin` as an operator runs it: `node users-service/dist/admin.js` in a process of its own. */
function adminProcess(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const main = path.resolve(__dirname, '../dist/admin.js');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [main, ...args],
      { env: { PATH: process.env.PATH, ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * Issue 9, findings 5, 6 and 9, replayed against users-service on a real port: each attack must fail.
 */
describe('users-service under attack (issue 9)', () => {
  let service: TestService | undefined;

  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  const signupFrom = (target: TestService, username: string, headers: Record<string, string> = {}) =>
    target.call('POST', '/api/users', { body: { username, password: PASSWORD }, headers });

  const expectRetryAfter = (response: Response) =>
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);

  describe('finding 5: signups are metered and hashing is bounded', () => {
    it('a client signing up past SIGNUPS_PER_ADDRESS_PER_HOUR gets 429 with Retry-After, and X-Forwarded-For does not reset it (finding 9)', async () => {
      service = await startTestService({ SIGNUPS_PER_ADDRESS_PER_HOUR: '3' });
      for (let i = 0; i < 3; i++) {
        // Every request claims another client address: with TRUST_PROXY at its default (0) none is believed.
        const created = await signupFrom(service, `spam${i}`, { 'x-forwarded-for': `203.0.113.${i + 1}` });
        expect(created.status).toBe(201);
      }
      const refused = await signupFrom(service, 'spam3', { 'x-forwarded-for': '198.51.100.77' });
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('RATE_LIMITED');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(3_500);
      expect(retryAfter).toBeLessThanOrEqual(3_600);
      // Nothing was written for the refused one.
      expect(
        (await service.bus.request(subjects.resolveLogin.subject, { login: 'spam3' })) as unknown,
      ).toEqual({
        userId: null,
      });
    });

    it('counts addresses separately behind a trusted proxy (TRUST_PROXY names it), so one client does not use up another’s budget', async () => {
      service = await startTestService({ SIGNUPS_PER_ADDRESS_PER_HOUR: '1', TRUST_PROXY: 'loopback' });
      expect((await signupFrom(service, 'first', { 'x-forwarded-for': '203.0.113.1' })).status).toBe(201);
      expect((await signupFrom(service, 'second', { 'x-forwarded-for': '203.0.113.2' })).status).toBe(201);
      expect((await signupFrom(service, 'third', { 'x-forwarded-for': '203.0.113.1' })).status).toBe(429);
    });

    it('a burst of concurrent signups queues no hashing without end: past the bounds 503 with Retry-After, nothing kept, so every retry succeeds', async () => {
      service = await startTestService({
        BCRYPT_COST: '10',
        SIGNUP_HASH_CONCURRENCY: '1',
        SIGNUP_QUEUE_MAX: '2',
        SIGNUPS_PER_ADDRESS_PER_HOUR: '1000',
      });
      const target = service;
      const owner = await target.signup('owner');
      const names = Array.from({ length: 16 }, (_, i) => `burst${i}`);
      const burst = Promise.all(names.map((name) => signupFrom(target, name)));
      // A login during the burst is answered: signups hash on one thread, logins use the others.
      const login = await target.bus.request(subjects.verifyCredentials.subject, {
        login: owner.username,
        password: PASSWORD,
      });
      expect(login).toEqual({ user: owner });
      const answers = await burst;
      const statuses = answers.map((response) => response.status);
      expect(statuses.every((status) => status === 201 || status === 503)).toBe(true);
      expect(statuses.filter((status) => status === 503).length).toBeGreaterThan(0);
      for (const response of answers.filter((answer) => answer.status === 503)) {
        expect(response.body.error.code).toBe('UPSTREAM_UNAVAILABLE');
        expectRetryAfter(response);
      }
      // What was refused left nothing behind: each retry signs its name up.
      for (const [index, response] of answers.entries()) {
        if (response.status !== 503) continue;
        expect((await signupFrom(target, names[index]!)).status).toBe(201);
      }
    });

    it('a signup whose caller gives up before the hash is done (a gateway timeout) keeps no account: the retry gets 201, not USERNAME_TAKEN', async () => {
      service = await startTestService({ BCRYPT_COST: '13', SIGNUP_QUEUE_TIMEOUT_MS: '30000' });
      const target = service;
      const gaveUp = new AbortController();
      const first = fetch(`${target.url}/api/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'patient', password: PASSWORD }),
        signal: gaveUp.signal,
      });
      setTimeout(() => gaveUp.abort(), 100);
      await expect(first).rejects.toThrow();
      const retry = await signupFrom(target, 'patient');
      expect(retry.status).toBe(201);
      const page = await target.call('GET', '/api/users?q=patient', {
        token: target.tokenFor(retry.body as User),
      });
      expect(page.body.items).toHaveLength(1);
    });
  });

  describe('finding 6: no admin by configuration name', () => {
    it('refuses to start with ADMIN_USERNAMES set, so a configured name can never be claimed by whoever signs it up', async () => {
      await expect(startTestService({ ADMIN_USERNAMES: 'boss' })).rejects.toThrow(/ADMIN_USERNAMES/);
    });

    it('an admin’s name deleted and signed up again by someone else is a plain user, also after restarts', async () => {
      service = await startTestService();
      const boss = await service.signup('boss');
      expect((await service.admin('promote', 'boss')).code).toBe(0);
      const bossAsAdmin = { ...boss, role: 'admin' as const };
      expect(
        (await service.call('GET', '/api/users/me', { token: service.tokenFor(bossAsAdmin) })).body.role,
      ).toBe('admin');
      expect(
        (await service.call('DELETE', `/api/users/${boss.id}`, { token: service.tokenFor(bossAsAdmin) }))
          .status,
      ).toBe(204);

      const squatter = await service.signup('BOSS');
      expect(squatter.role).toBe('user');
      await service.restart();
      await service.restart();
      const seen = await service.call('GET', '/api/users/me', { token: service.tokenFor(squatter) });
      expect(seen.body).toMatchObject({ id: squatter.id, role: 'user' });
      // Nor can the squatter make itself admin.
      const selfPromotion = await service.call('PATCH', `/api/users/${squatter.id}`, {
        token: service.tokenFor({ ...squatter, role: 'admin' }),
        body: { role: 'admin' },
      });
      expect(selfPromotion.status).toBe(403);
    });

    it('demote takes the role back, and it stays taken after a restart', async () => {
      service = await startTestService();
      const ops = await service.signup('ops');
      expect((await service.admin('promote', 'ops')).code).toBe(0);
      expect((await service.admin('demote', 'OPS')).output).toMatch(/now a plain user/);
      await service.restart();
      const seen = await service.call('GET', '/api/users/me', { token: service.tokenFor(ops) });
      expect(seen.body.role).toBe('user');
      expect((await service.admin('promote', 'nobody')).code).toBe(1);
      expect((await service.admin('make-god', 'ops')).code).toBe(64);
    });

    it('the command, run as operators run it, will not change the embedded store under a running users-service (its change would be lost)', async () => {
      service = await startTestService();
      const eve = await service.signup('eve');
      const refused = await adminProcess(['promote', 'eve'], { DATA_DIR: service.dataDir });
      expect(refused).toMatchObject({ code: 75, stderr: expect.stringMatching(/is running on/) });
      expect((await service.call('GET', '/api/users/me', { token: service.tokenFor(eve) })).body.role).toBe(
        'user',
      );

      await service.app.stop();
      const done = await adminProcess(['promote', 'eve'], { DATA_DIR: service.dataDir });
      expect(done).toMatchObject({ code: 0, stdout: expect.stringMatching(/eve .* is now an admin/) });
      await service.restart();
      expect((await service.call('GET', '/api/users/me', { token: service.tokenFor(eve) })).body.role).toBe(
        'admin',
      );
    });
  });
});
