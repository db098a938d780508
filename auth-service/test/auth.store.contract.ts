import { randomUUID } from 'node:crypto';
import type { AuthStores } from '../src/store/auth.store';
import { RETIRED_HASHES_KEPT, type NewSession } from '../src/store/session.store';

const HOUR = 3_600_000;

function newSession(overrides: Partial<NewSession> = {}): NewSession {
  const now = new Date();
  return {
    id: randomUUID(),
    userId: randomUUID(),
    username: 'alice',
    role: 'user',
    secretHash: `hash-${randomUUID()}`,
    createdAt: now,
    refreshedAt: now,
    expiresAt: new Date(now.getTime() + HOUR),
    ...overrides,
  };
}

export interface AuthStoreContractOptions {
  /**
   * Whether the backend isolates each single-document conditional update from concurrent ones, as MongoDB
   * and NeDB do. FerretDB 1.x on SQLite does not (it reads, then writes: FerretDB/FerretDB#3040), so there
   * concurrent compare-and-sets can all win and concurrent increments can be lost; the adapters are written
   * for MongoDB, and on such a backend the suite checks only what still holds.
   */
  isolatedUpdates: () => Promise<boolean>;
}

/**
 * The behaviour every AuthStores adapter must have (keyv's storageTestSuite pattern): run it against each
 * adapter with a function that opens a fresh, empty store.
 */
export function authStoreContractSuite(
  open: () => Promise<AuthStores>,
  options: AuthStoreContractOptions,
): void {
  let stores: AuthStores;

  beforeEach(async () => {
    stores = await open();
  });

  afterEach(async () => {
    await stores.close();
  });

  it('answers the readiness ping', async () => {
    await expect(stores.ping()).resolves.toBe(true);
  });

  describe('sessions', () => {
    it('creates a live session and finds it by id', async () => {
      const input = newSession();
      const created = await stores.sessions.create(input);
      expect(created).toEqual({ ...input, retiredHashes: [], endedAt: null, endReason: null });
      await expect(stores.sessions.findById(input.id)).resolves.toEqual(created);
      await expect(stores.sessions.findById('absent')).resolves.toBeNull();
    });

    it('rotates only with the current hash, and only once per hash', async () => {
      const session = await stores.sessions.create(newSession({ secretHash: 'h1' }));
      const refreshedAt = new Date();
      const next = { secretHash: 'h2', refreshedAt, expiresAt: new Date(refreshedAt.getTime() + 2 * HOUR) };

      await expect(stores.sessions.rotate(session.id, 'wrong', next)).resolves.toBeNull();
      const rotated = await stores.sessions.rotate(session.id, 'h1', next);
      expect(rotated).toMatchObject({
        id: session.id,
        secretHash: 'h2',
        retiredHashes: ['h1'],
        refreshedAt,
        expiresAt: next.expiresAt,
      });
      await expect(
        stores.sessions.rotate(session.id, 'h1', { ...next, secretHash: 'h3' }),
      ).resolves.toBeNull();
      await expect(stores.sessions.findById(session.id)).resolves.toMatchObject({ secretHash: 'h2' });
    });

    it('remembers the newest rotated-away hashes, a bounded number of them', async () => {
      const session = await stores.sessions.create(newSession({ secretHash: 'h0' }));
      const rotations = RETIRED_HASHES_KEPT + 2;
      for (let i = 0; i < rotations; i++) {
        const refreshedAt = new Date();
        await stores.sessions.rotate(session.id, `h${i}`, {
          secretHash: `h${i + 1}`,
          refreshedAt,
          expiresAt: new Date(refreshedAt.getTime() + HOUR),
        });
      }
      const stored = await stores.sessions.findById(session.id);
      expect(stored?.secretHash).toBe(`h${rotations}`);
      expect(stored?.retiredHashes).toEqual(
        Array.from({ length: RETIRED_HASHES_KEPT }, (_, i) => `h${rotations - RETIRED_HASHES_KEPT + i}`),
      );
    });

    it('lets exactly one of many concurrent rotations with the same hash win', async () => {
      const session = await stores.sessions.create(newSession({ secretHash: 'h1' }));
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          stores.sessions.rotate(session.id, 'h1', {
            secretHash: `next-${i}`,
            refreshedAt: new Date(),
            expiresAt: new Date(Date.now() + HOUR),
          }),
        ),
      );
      const winners = results.filter((result) => result !== null);
      if (await options.isolatedUpdates()) expect(winners).toHaveLength(1);
      else expect(winners.length).toBeGreaterThanOrEqual(1);
      const stored = await stores.sessions.findById(session.id);
      expect(winners.map((winner) => winner.secretHash)).toContain(stored?.secretHash);
    });

    it('does not rotate an ended or expired session', async () => {
      const ended = await stores.sessions.create(newSession({ secretHash: 'h1' }));
      await stores.sessions.end(ended.id, 'logout', new Date());
      const next = { secretHash: 'h2', refreshedAt: new Date(), expiresAt: new Date(Date.now() + HOUR) };
      await expect(stores.sessions.rotate(ended.id, 'h1', next)).resolves.toBeNull();

      const expiring = await stores.sessions.create(newSession({ secretHash: 'h1' }));
      const afterExpiry = { ...next, refreshedAt: new Date(expiring.expiresAt.getTime() + 1) };
      await expect(stores.sessions.rotate(expiring.id, 'h1', afterExpiry)).resolves.toBeNull();
    });

    it('ends a session once, recording when and why', async () => {
      const session = await stores.sessions.create(newSession());
      const at = new Date();
      await expect(stores.sessions.end(session.id, 'logout', at)).resolves.toMatchObject({
        id: session.id,
        endedAt: at,
        endReason: 'logout',
      });
      await expect(stores.sessions.end(session.id, 'refresh_reuse', new Date())).resolves.toBeNull();
      await expect(stores.sessions.findById(session.id)).resolves.toMatchObject({
        endedAt: at,
        endReason: 'logout',
      });
      await expect(stores.sessions.end('absent', 'logout', at)).resolves.toBeNull();
    });

    it("ends all of a user's live sessions and reports only those it ended", async () => {
      const userId = randomUUID();
      const a = await stores.sessions.create(newSession({ userId }));
      const b = await stores.sessions.create(newSession({ userId }));
      const already = await stores.sessions.create(newSession({ userId }));
      const other = await stores.sessions.create(newSession());
      await stores.sessions.end(already.id, 'logout', new Date());

      const at = new Date();
      const ended = await stores.sessions.endAllForUser(userId, 'user_deleted', at);
      expect(ended.map((session) => session.id).sort()).toEqual([a.id, b.id].sort());
      expect(
        ended.every(
          (session) => session.endReason === 'user_deleted' && session.endedAt?.getTime() === at.getTime(),
        ),
      ).toBe(true);
      await expect(stores.sessions.findById(already.id)).resolves.toMatchObject({ endReason: 'logout' });
      await expect(stores.sessions.findById(other.id)).resolves.toMatchObject({ endedAt: null });
      await expect(stores.sessions.endAllForUser(userId, 'user_deleted', at)).resolves.toEqual([]);
      await expect(stores.sessions.removeAllForUser(userId)).resolves.toBe(3);
      await expect(stores.sessions.findById(already.id)).resolves.toBeNull();
      await expect(stores.sessions.findById(other.id)).resolves.toMatchObject({ endedAt: null });
    });

    it("finds a user's live sessions, but the one excepted", async () => {
      const userId = randomUUID();
      const a = await stores.sessions.create(newSession({ userId }));
      const b = await stores.sessions.create(newSession({ userId }));
      const ended = await stores.sessions.create(newSession({ userId }));
      await stores.sessions.create(newSession());
      await stores.sessions.end(ended.id, 'logout', new Date());

      const ids = async (exceptId?: string) =>
        (await stores.sessions.findLiveForUser(userId, exceptId)).map((session) => session.id).sort();
      await expect(ids()).resolves.toEqual([a.id, b.id].sort());
      await expect(ids(a.id)).resolves.toEqual([b.id]);
      await expect(stores.sessions.findLiveForUser(userId)).resolves.toContainEqual(a);
      await expect(stores.sessions.findLiveForUser(randomUUID())).resolves.toEqual([]);
    });

    it("ends all of a user's live sessions but the one excepted", async () => {
      const userId = randomUUID();
      const kept = await stores.sessions.create(newSession({ userId }));
      const others = [
        await stores.sessions.create(newSession({ userId })),
        await stores.sessions.create(newSession({ userId })),
      ];
      const ended = await stores.sessions.endAllForUser(userId, 'password_changed', new Date(), kept.id);
      expect(ended.map((session) => session.id).sort()).toEqual(others.map((session) => session.id).sort());
      expect(ended.every((session) => session.endReason === 'password_changed')).toBe(true);
      await expect(stores.sessions.findById(kept.id)).resolves.toMatchObject({ endedAt: null });
    });

    it("copies a new username and role onto the user's live sessions only", async () => {
      const userId = randomUUID();
      const live = await stores.sessions.create(newSession({ userId }));
      const ended = await stores.sessions.create(newSession({ userId }));
      await stores.sessions.end(ended.id, 'logout', new Date());

      await expect(stores.sessions.updateUser(userId, { username: 'alice2', role: 'admin' })).resolves.toBe(
        1,
      );
      await expect(stores.sessions.findById(live.id)).resolves.toMatchObject({
        username: 'alice2',
        role: 'admin',
      });
      await expect(stores.sessions.findById(ended.id)).resolves.toMatchObject({
        username: 'alice',
        role: 'user',
      });
    });
  });

  describe('signing keys', () => {
    it('keeps the first key stored and hands it to every later caller', async () => {
      const first = { privateKeyPem: 'first', createdAt: new Date() };
      await expect(stores.signingKeys.getOrCreate(first)).resolves.toEqual(first);
      await expect(
        stores.signingKeys.getOrCreate({ privateKeyPem: 'second', createdAt: new Date() }),
      ).resolves.toEqual(first);
    });

    it('gives concurrent first callers one and the same key', async () => {
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          stores.signingKeys.getOrCreate({ privateKeyPem: `key-${i}`, createdAt: new Date() }),
        ),
      );
      expect(new Set(results.map((key) => key.privateKeyPem)).size).toBe(1);
    });
  });

  describe('login failures', () => {
    it('counts failures per key within one window', async () => {
      const now = new Date();
      const first = await stores.loginFailures.record('k1', now, 60);
      expect(first).toEqual({ count: 1, resetAt: new Date(now.getTime() + 60_000) });
      const later = new Date(now.getTime() + 1_000);
      await expect(stores.loginFailures.record('k1', later, 60)).resolves.toEqual({ ...first, count: 2 });
      await stores.loginFailures.record('k2', later, 60);

      const counts = await stores.loginFailures.get(['k1', 'k2', 'k3'], later);
      expect(Object.fromEntries([...counts].map(([key, value]) => [key, value.count]))).toEqual({
        k1: 2,
        k2: 1,
      });
    });

    it('counts every one of many concurrent attempts, each seeing a count of its own', async () => {
      const now = new Date();
      const seen = await Promise.all(
        Array.from({ length: 10 }, () => stores.loginFailures.record('burst', now, 60)),
      );
      const count = (await stores.loginFailures.get(['burst'], now)).get('burst')?.count;
      if (await options.isolatedUpdates()) {
        expect(count).toBe(10);
        // The limiter decides on these: equal counts would let concurrent attempts past the limit together.
        expect(seen.map((result) => result.count).sort((a, b) => a - b)).toEqual(
          Array.from({ length: 10 }, (_, i) => i + 1),
        );
      } else {
        expect(count).toBeGreaterThanOrEqual(1);
      }
    });

    it('takes back one attempt of the same window only', async () => {
      const now = new Date();
      const { resetAt } = await stores.loginFailures.record('k', now, 60);
      await stores.loginFailures.record('k', now, 60);
      await stores.loginFailures.release('k', resetAt);
      await expect(stores.loginFailures.get(['k'], now)).resolves.toEqual(
        new Map([['k', { count: 1, resetAt }]]),
      );
      await stores.loginFailures.release('k', new Date(resetAt.getTime() - 60_000));
      await stores.loginFailures.release('absent', resetAt);
      await expect(stores.loginFailures.get(['k', 'absent'], now)).resolves.toEqual(
        new Map([['k', { count: 1, resetAt }]]),
      );
    });

    it('starts a new window once the last one has closed', async () => {
      const now = new Date();
      await stores.loginFailures.record('k', now, 60);
      await stores.loginFailures.record('k', now, 60);
      const afterWindow = new Date(now.getTime() + 61_000);
      await expect(stores.loginFailures.get(['k'], afterWindow)).resolves.toEqual(new Map());
      await expect(stores.loginFailures.record('k', afterWindow, 60)).resolves.toEqual({
        count: 1,
        resetAt: new Date(afterWindow.getTime() + 60_000),
      });
    });

    it('forgets a key when cleared', async () => {
      const now = new Date();
      await stores.loginFailures.record('k', now, 60);
      await stores.loginFailures.clear('k');
      await expect(stores.loginFailures.get(['k'], now)).resolves.toEqual(new Map());
      await expect(stores.loginFailures.record('k', now, 60)).resolves.toMatchObject({ count: 1 });
    });
  });
}
