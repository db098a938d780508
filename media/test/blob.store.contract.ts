import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobStore } from '../src/blob.store';

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A source that yields `head`, then fails as a cut-off upload does. */
function failingSource(head: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(head);
      } else {
        this.destroy(new Error('the client went away'));
      }
    },
  });
}

/**
 * The behaviour every BlobStore adapter must have (keyv's storageTestSuite). `open` gives a store on a
 * fresh place per test; `reopen` a second store on the same place, as another process would see it.
 */
export function blobStoreContract(
  open: () => Promise<{ store: BlobStore; reopen: () => Promise<BlobStore> }>,
) {
  let store: BlobStore;
  let reopen: () => Promise<BlobStore>;
  const others: BlobStore[] = [];

  beforeEach(async () => {
    ({ store, reopen } = await open());
  });

  afterEach(async () => {
    await Promise.all([store, ...others.splice(0)].map((each) => each.close()));
  });

  it('gives back exactly the bytes it was given, over several chunks, with their size', async () => {
    const data = randomBytes(700_000);
    const id = randomUUID();
    expect(await store.put(id, Readable.from([data.subarray(0, 1000), data.subarray(1000)]))).toEqual({
      size: data.length,
    });
    expect(await store.stat(id)).toEqual({ size: data.length });
    expect((await bytesOf((await store.open(id))!)).equals(data)).toBe(true);
    const other = await reopen();
    others.push(other);
    expect((await bytesOf((await other.open(id))!)).equals(data)).toBe(true);
  });

  it('keeps an empty blob as one', async () => {
    const id = randomUUID();
    expect(await store.put(id, Readable.from([]))).toEqual({ size: 0 });
    expect(await bytesOf((await store.open(id))!)).toHaveLength(0);
  });

  it('answers undefined and false for an id it does not hold', async () => {
    const id = randomUUID();
    expect(await store.stat(id)).toBeUndefined();
    expect(await store.open(id)).toBeUndefined();
    expect(await store.delete(id)).toBe(false);
  });

  it('removes a blob, which is then gone for every reader', async () => {
    const id = randomUUID();
    await store.put(id, Readable.from([Buffer.from('gone soon')]));
    expect(await store.delete(id)).toBe(true);
    expect(await store.stat(id)).toBeUndefined();
    const other = await reopen();
    others.push(other);
    expect(await other.open(id)).toBeUndefined();
    expect(await store.delete(id)).toBe(false);
  });

  it('keeps nothing of a write whose source failed, and rejects with its error', async () => {
    const id = randomUUID();
    await expect(store.put(id, failingSource(randomBytes(600_000)))).rejects.toThrow('the client went away');
    expect(await store.stat(id)).toBeUndefined();
    expect(await store.open(id)).toBeUndefined();
    // The id is free again: a retry stores the whole file.
    expect(await store.put(id, Readable.from([Buffer.from('second try')]))).toEqual({ size: 10 });
  });

  it('refuses ids that are not its own, such as a path', async () => {
    await expect(store.stat('../etc/passwd')).rejects.toThrow('Not a blob id');
    await expect(store.put('a/b', Readable.from([]))).rejects.toThrow('Not a blob id');
  });
}
