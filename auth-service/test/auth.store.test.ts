import mongoose from 'mongoose';
import { createLogger } from '@chat/shared';
import { describeWithInfra, testMongoUrl, uniqueMongoUrl } from '@chat/testing';
import type { AuthStores } from '../src/store/auth.store';
import { authStoreContractSuite } from './auth.store.contract';
import { openEmbeddedAuthStores } from '../src/store/auth.store.embedded';
import { openMongoAuthStores } from '../src/store/auth.store.mongo';
import { tempDataDir } from './support';

describe('embedded auth stores (NeDB)', () => {
  authStoreContractSuite(
    async (): Promise<AuthStores> => {
      const data = tempDataDir();
      const stores = await openEmbeddedAuthStores(data.dir);
      return {
        ...stores,
        close: async () => {
          await stores.close();
          data.remove();
        },
      };
    },
    { isolatedUpdates: async () => true },
  );
});

/** FerretDB answers `buildInfo` with its own version next to the MongoDB one it emulates. */
async function isFerretDb(url: string): Promise<boolean> {
  const connection = await mongoose.createConnection(url, { serverSelectionTimeoutMS: 5_000 }).asPromise();
  try {
    const info = await connection.db!.admin().command({ buildInfo: 1 });
    return 'ferretdbVersion' in info;
  } finally {
    await connection.close();
  }
}

describeWithInfra(['mongo'], 'mongo auth stores', () => {
  const logger = createLogger('auth-service', 'error');
  // Each test gets a database of its own, so "the first key stored" starts from nothing every time.
  let ferret: Promise<boolean> | undefined;
  authStoreContractSuite(() => openMongoAuthStores(uniqueMongoUrl(), logger), {
    // MongoDB isolates every single-document update; FerretDB 1.x on SQLite does not (see the option).
    isolatedUpdates: async () => !(await (ferret ??= isFerretDb(testMongoUrl()!))),
  });
});
