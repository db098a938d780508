import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import mongoose, { type Connection } from 'mongoose';
import { assertBlobId, type BlobInfo, type BlobStore } from './blob.store';

/**
 * Blobs in GridFS (the driver's `GridFSBucket` over a service's mongoose connection): `<bucket>.files` and
 * `<bucket>.chunks` (255 KiB chunks), so a blob is streamed in and out a chunk at a time. The blob id is
 * the file's `_id`. The files document is written last, so a blob whose upload failed has no files
 * document; its chunks are removed at once.
 */
export class GridFsBlobStore implements BlobStore {
  private readonly bucket: mongoose.mongo.GridFSBucket;
  private readonly chunks: mongoose.mongo.Collection;

  /** `owned`: the store closes the connection when it closes. */
  constructor(
    private readonly connection: Connection,
    bucketName: string,
    private readonly owned = false,
  ) {
    const db = connection.db;
    if (!db) throw new Error('The mongoose connection is not open.');
    this.bucket = new mongoose.mongo.GridFSBucket(db, { bucketName });
    this.chunks = db.collection(`${bucketName}.chunks`);
  }

  async put(id: string, source: Readable): Promise<BlobInfo> {
    assertBlobId(id);
    const upload = this.bucket.openUploadStreamWithId(id as never, id);
    try {
      await pipeline(source, upload);
    } catch (error) {
      await this.chunks.deleteMany({ files_id: id });
      throw error;
    }
    return { size: upload.length };
  }

  async stat(id: string): Promise<BlobInfo | undefined> {
    assertBlobId(id);
    const [file] = await this.bucket.find({ _id: id as never }, { limit: 1 }).toArray();
    return file ? { size: file.length } : undefined;
  }

  async open(id: string): Promise<Readable | undefined> {
    if (!(await this.stat(id))) return undefined;
    return this.bucket.openDownloadStream(id as never);
  }

  async delete(id: string): Promise<boolean> {
    assertBlobId(id);
    const existed = (await this.stat(id)) !== undefined;
    if (existed) {
      await this.bucket.delete(id as never).catch((error: unknown) => {
        // Deleted by another instance in between: the chunks went with it.
        if (!(error instanceof mongoose.mongo.MongoRuntimeError)) throw error;
      });
    }
    await this.chunks.deleteMany({ files_id: id });
    return existed;
  }

  async close(): Promise<void> {
    if (this.owned) await this.connection.close();
  }
}
