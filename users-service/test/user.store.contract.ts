import type { AppError } from '@chat/shared';
import type { NewUser, UserStore } from '../src/store/user.store';

let sequence = 0;

function newUser(username: string, overrides: Partial<NewUser> = {}): NewUser {
  sequence += 1;
  return {
    id: `user-${sequence}-${username.toLowerCase()}`,
    username,
    passwordHash: `$2b$04$hash-of-${username}`,
    name: null,
    email: null,
    phone: null,
    role: 'user',
    createdAt: new Date(Date.UTC(2030, 0, 1, 0, 0, sequence)),
    ...overrides,
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as AppError).code ?? String(error);
  }
}

const userKeys = ['avatarUrl', 'createdAt', 'email', 'id', 'name', 'phone', 'role', 'updatedAt', 'username'];

/**
 * The behaviour every UserStore adapter must have, run by each adapter's test against a fresh store
 * from `open` for every test (keyv's storageTestSuite).
 */
export function userStoreContract(open: () => Promise<UserStore>): void {
  let store: UserStore;

  beforeEach(async () => {
    store = await open();
  });

  afterEach(async () => {
    await store.close();
  });

  describe('create and find', () => {
    it('returns a plain User without the hash, and finds it by id', async () => {
      const input = newUser('Alice', { name: 'Alice A.', email: 'Alice@Example.com', phone: '+1 555 0100' });
      const created = await store.create(input);
      expect(created).toEqual({
        id: input.id,
        username: 'Alice',
        name: 'Alice A.',
        email: 'Alice@Example.com',
        phone: '+1 555 0100',
        avatarUrl: null,
        role: 'user',
        createdAt: input.createdAt.toISOString(),
        updatedAt: input.createdAt.toISOString(),
      });
      const found = await store.findById(input.id);
      expect(found).toEqual(created);
      expect(Object.getPrototypeOf(found)).toBe(Object.prototype);
      expect(Object.keys(found!).sort()).toEqual(userKeys);
    });

    it('answers undefined for an unknown id', async () => {
      expect(await store.findById('nobody')).toBeUndefined();
    });

    it('refuses a username taken in another case with USERNAME_TAKEN', async () => {
      await store.create(newUser('Bob'));
      expect(await codeOf(store.create(newUser('bOB')))).toBe('USERNAME_TAKEN');
    });

    it('refuses an email taken in another case with EMAIL_TAKEN', async () => {
      await store.create(newUser('carol', { email: 'carol@example.com' }));
      expect(await codeOf(store.create(newUser('carol2', { email: 'CAROL@example.COM' })))).toBe(
        'EMAIL_TAKEN',
      );
    });

    it('names the username when both username and email are taken', async () => {
      await store.create(newUser('dave', { email: 'dave@example.com' }));
      expect(await codeOf(store.create(newUser('Dave', { email: 'dave@example.com' })))).toBe(
        'USERNAME_TAKEN',
      );
    });

    it('lets any number of users have no email', async () => {
      await store.create(newUser('erin'));
      await store.create(newUser('frank'));
      await store.create(newUser('grace'));
      expect(await store.findByIds([])).toEqual([]);
      expect((await store.list({ limit: 10 })).map((user) => user.username)).toEqual([
        'erin',
        'frank',
        'grace',
      ]);
    });

    it('lets exactly one of many concurrent signups with one username through', async () => {
      const attempts = await Promise.allSettled(
        ['heidi', 'Heidi', 'HEIDI', 'hEiDi'].map((username) => store.create(newUser(username))),
      );
      expect(attempts.filter((attempt) => attempt.status === 'fulfilled')).toHaveLength(1);
      const refused = attempts.filter((attempt) => attempt.status === 'rejected');
      expect(refused.map((attempt) => (attempt.reason as AppError).code)).toEqual([
        'USERNAME_TAKEN',
        'USERNAME_TAKEN',
        'USERNAME_TAKEN',
      ]);
    });

    it('finds users by a list of ids, leaving out unknown ones', async () => {
      const a = await store.create(newUser('ivan'));
      const b = await store.create(newUser('judy'));
      const found = await store.findByIds([b.id, 'missing', a.id]);
      expect(found.map((user) => user.username).sort()).toEqual(['ivan', 'judy']);
    });
  });

  describe('credentials', () => {
    it('finds the hash by lower-cased username, lower-cased email, or id', async () => {
      const user = await store.create(newUser('Mallory', { email: 'Mallory@Example.com' }));
      const expected = { user, passwordHash: '$2b$04$hash-of-Mallory' };
      expect(await store.findCredentials({ login: 'mallory' })).toEqual(expected);
      expect(await store.findCredentials({ login: 'mallory@example.com' })).toEqual(expected);
      expect(await store.findCredentials({ id: user.id })).toEqual(expected);
    });

    it('answers undefined for an unknown login or id', async () => {
      await store.create(newUser('niaj'));
      expect(await store.findCredentials({ login: 'nobody' })).toBeUndefined();
      expect(await store.findCredentials({ login: 'niaj@example.com' })).toBeUndefined();
      expect(await store.findCredentials({ id: 'nobody' })).toBeUndefined();
    });
  });

  describe('update', () => {
    it('sets and clears fields and moves updatedAt, keeping createdAt', async () => {
      const user = await store.create(newUser('olivia', { name: 'Olivia', phone: '123' }));
      const at = new Date(Date.UTC(2031, 5, 1));
      const updated = await store.update(user.id, {
        name: null,
        email: 'Olivia@Example.com',
        phone: '456',
        updatedAt: at,
      });
      expect(updated).toEqual({
        ...user,
        name: null,
        email: 'Olivia@Example.com',
        phone: '456',
        updatedAt: at.toISOString(),
      });
      expect(await store.findById(user.id)).toEqual(updated);
      const cleared = await store.update(user.id, { email: null, phone: null, updatedAt: at });
      expect(cleared).toMatchObject({ email: null, phone: null });
      expect(await store.findCredentials({ login: 'olivia@example.com' })).toBeUndefined();
    });

    it('changes the hash only through findCredentials and the role when asked', async () => {
      const user = await store.create(newUser('peggy'));
      const updated = await store.update(user.id, {
        passwordHash: 'new-hash',
        role: 'admin',
        updatedAt: new Date(),
      });
      expect(Object.keys(updated!).sort()).toEqual(userKeys);
      expect(updated!.role).toBe('admin');
      expect((await store.findCredentials({ id: user.id }))!.passwordHash).toBe('new-hash');
    });

    it('refuses an email another user has, in any case, with EMAIL_TAKEN', async () => {
      await store.create(newUser('quinn', { email: 'quinn@example.com' }));
      const other = await store.create(newUser('rupert'));
      expect(
        await codeOf(store.update(other.id, { email: 'QUINN@example.com', updatedAt: new Date() })),
      ).toBe('EMAIL_TAKEN');
      expect((await store.findById(other.id))!.email).toBeNull();
    });

    it('lets a user keep their own email, and frees a cleared email for others', async () => {
      const sybil = await store.create(newUser('sybil', { email: 'sybil@example.com' }));
      const trent = await store.create(newUser('trent', { email: 'trent@example.com' }));
      expect(
        await store.update(sybil.id, { email: 'Sybil@example.com', updatedAt: new Date() }),
      ).toMatchObject({
        email: 'Sybil@example.com',
      });
      await store.update(sybil.id, { email: null, updatedAt: new Date() });
      await store.update(trent.id, { email: null, updatedAt: new Date() });
      expect(
        await store.update(trent.id, { email: 'sybil@example.com', updatedAt: new Date() }),
      ).toMatchObject({
        email: 'sybil@example.com',
      });
    });

    it('answers undefined for an unknown id', async () => {
      expect(await store.update('nobody', { name: 'x', updatedAt: new Date() })).toBeUndefined();
    });
  });

  describe('remove', () => {
    it('deletes once and frees the username and email', async () => {
      const user = await store.create(newUser('victor', { email: 'victor@example.com' }));
      expect(await store.remove(user.id)).toBe(true);
      expect(await store.remove(user.id)).toBe(false);
      expect(await store.findById(user.id)).toBeUndefined();
      await expect(store.create(newUser('Victor', { email: 'victor@example.com' }))).resolves.toMatchObject({
        username: 'Victor',
      });
    });
  });

  describe('avatars', () => {
    it('swaps an avatar only from the one named, and links it by its blob id', async () => {
      const user = await store.create(newUser('wendy'));
      const at = new Date(Date.UTC(2031, 0, 1));
      expect(await store.findAvatar(user.id)).toEqual({ avatar: null });
      expect(await store.findAvatar('nobody')).toBeUndefined();
      const first = { id: 'blob-1', size: 100 };
      const withFirst = await store.swapAvatar(user.id, null, first, at);
      expect(withFirst).toEqual({
        ...user,
        avatarUrl: `/api/users/${user.id}/avatar?v=blob-1`,
        updatedAt: at.toISOString(),
      });
      expect(await store.findById(user.id)).toEqual(withFirst);
      expect(await store.findAvatar(user.id)).toEqual({ avatar: first });
      // A change that read no avatar, or another one, lost the race: nothing changes.
      expect(await store.swapAvatar(user.id, null, { id: 'blob-2', size: 1 }, at)).toBeUndefined();
      expect(await store.swapAvatar(user.id, 'blob-0', null, at)).toBeUndefined();
      expect(await store.swapAvatar('nobody', null, first, at)).toBeUndefined();
      expect(await store.findAvatar(user.id)).toEqual({ avatar: first });
      const cleared = await store.swapAvatar(user.id, 'blob-1', null, at);
      expect(cleared).toEqual({ ...user, updatedAt: at.toISOString() });
      expect(await store.findAvatar(user.id)).toEqual({ avatar: null });
    });

    it('removes a user only while their avatar is the one named', async () => {
      const user = await store.create(newUser('xavier'));
      await store.swapAvatar(user.id, null, { id: 'blob-x', size: 10 }, new Date());
      expect(await store.remove(user.id, null)).toBe(false);
      expect(await store.remove(user.id, 'blob-y')).toBe(false);
      expect(await store.remove(user.id, 'blob-x')).toBe(true);
      expect(await store.findAvatar(user.id)).toBeUndefined();
      const plain = await store.create(newUser('yolanda'));
      expect(await store.remove(plain.id, null)).toBe(true);
    });
  });

  describe('list', () => {
    beforeEach(async () => {
      for (const username of ['bo.b', 'Alice', 'bob', 'carl', 'Bobby', 'b_x', 'alex'])
        await store.create(newUser(username));
    });

    it('orders by lower-cased username and pages with after', async () => {
      const first = await store.list({ limit: 3 });
      expect(first.map((user) => user.username)).toEqual(['alex', 'Alice', 'b_x']);
      const second = await store.list({ limit: 3, after: 'b_x' });
      expect(second.map((user) => user.username)).toEqual(['bo.b', 'bob', 'Bobby']);
      expect((await store.list({ limit: 3, after: 'bobby' })).map((user) => user.username)).toEqual(['carl']);
    });

    it('filters by a prefix taken literally, not as a pattern', async () => {
      expect((await store.list({ limit: 10, prefix: 'bo' })).map((user) => user.username)).toEqual([
        'bo.b',
        'bob',
        'Bobby',
      ]);
      expect((await store.list({ limit: 10, prefix: 'bo.' })).map((user) => user.username)).toEqual(['bo.b']);
      expect(await store.list({ limit: 10, prefix: '.*' })).toEqual([]);
      expect(
        (await store.list({ limit: 1, prefix: 'bo', after: 'bob' })).map((user) => user.username),
      ).toEqual(['Bobby']);
    });
  });

  describe('setRole (the admin command)', () => {
    it('sets the role of the named user once, marked as not announced until said so', async () => {
      const root = await store.create(newUser('Root'));
      await store.create(newUser('plain'));
      const at = new Date(Date.UTC(2032, 0, 1));
      const promoted = { ...root, role: 'admin' as const, updatedAt: at.toISOString() };
      expect(await store.setRole('root', 'admin', at)).toEqual({ user: promoted, changed: true });
      expect(await store.setRole('root', 'admin', new Date())).toEqual({ user: promoted, changed: false });
      expect(await store.setRole('absent', 'admin', at)).toBeUndefined();
      expect((await store.findCredentials({ login: 'plain' }))!.user.role).toBe('user');
      expect(await store.pendingRoleChanges()).toEqual([promoted]);
      await store.roleChangeAnnounced(root.id);
      expect(await store.pendingRoleChanges()).toEqual([]);
      expect(await store.findById(root.id)).toEqual(promoted);
    });
  });

  it('answers ping', async () => {
    expect(await store.ping()).toBe(true);
  });
}
