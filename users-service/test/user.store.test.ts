import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@chat/shared';
import { describeWithInfra, uniqueMongoUrl } from '@chat/testing';
import { userStoreContract } from './user.store.contract';
import { EmbeddedUserStore } from '../src/store/user.store.embedded';
import { MongoUserStore } from '../src/store/user.store.mongo';

describe('EmbeddedUserStore', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'users-store-'));
  let count = 0;
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  userStoreContract(() => EmbeddedUserStore.open(path.join(root, String(++count))));

  it('keeps users across a reopen of the same directory', async () => {
    const dataDir = path.join(root, 'reopen');
    const first = await EmbeddedUserStore.open(dataDir);
    const created = await first.create({
      id: 'kept',
      username: 'kept',
      passwordHash: 'hash',
      name: null,
      email: 'kept@example.com',
      phone: null,
      role: 'user',
      createdAt: new Date(),
    });
    await first.close();
    const second = await EmbeddedUserStore.open(dataDir);
    expect(await second.findById('kept')).toEqual(created);
    expect(
      await second
        .create({ ...created, id: 'again', email: null, passwordHash: 'h', createdAt: new Date() })
        .catch((error: { code: string }) => error.code),
    ).toBe('USERNAME_TAKEN');
    await second.close();
  });
});

// FerretDB 1.24 differs from MongoDB here: it accepts `sparse` on the email index but ignores it (a
// document without the field never collides there anyway, while two explicit nulls would), and its
// duplicate-key errors do not name the index. The adapter never stores a null email and resolves the
// unnamed index by looking the username up, so the same suite holds on both.
describeWithInfra(['mongo'], 'MongoUserStore', () => {
  const logger = createLogger('users-store-test', 'error');
  userStoreContract(() => MongoUserStore.open(uniqueMongoUrl(), logger));
});
