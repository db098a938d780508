import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { connectMongo, createLogger } from '@chat/shared';
import { describeWithInfra, uniqueMongoUrl } from '@chat/testing';
import { FileBlobStore } from '../src/blob.store.files';
import { GridFsBlobStore } from '../src/blob.store.gridfs';
import { blobStoreContract } from './blob.store.contract';

describe('FileBlobStore', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'blob-store-'));
  let count = 0;
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  blobStoreContract(async () => {
    const dir = path.join(root, String(++count));
    return { store: await FileBlobStore.open(dir), reopen: () => FileBlobStore.open(dir) };
  });

  it('writes files readable by its own user only and leaves no partial file behind', async () => {
    const dir = path.join(root, 'modes');
    const store = await FileBlobStore.open(dir);
    await store.put('one', Readable.from([Buffer.from('x')]));
    await expect(
      store.put(
        'two',
        new Readable({
          read() {
            this.destroy(new Error('cut'));
          },
        }),
      ),
    ).rejects.toThrow('cut');
    expect(readdirSync(dir)).toEqual(['one']);
    expect(statSync(path.join(dir, 'one')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});

// FerretDB 1.24 holds everything GridFS needs: the driver's unique index on (files_id, n), binary chunks,
// chunk reads sorted by n, and deletes by files_id.
describeWithInfra(['mongo'], 'GridFsBlobStore', () => {
  const logger = createLogger('blob-store-test', 'error');
  blobStoreContract(async () => {
    const url = uniqueMongoUrl();
    const connect = async () =>
      new GridFsBlobStore(await connectMongo(url, { appName: 'blob-test', logger }), 'blobs', true);
    return { store: await connect(), reopen: connect };
  });
});
