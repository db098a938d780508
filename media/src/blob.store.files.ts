import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertBlobId, type BlobInfo, type BlobStore } from './blob.store';

/** Readable by the service's own user only, as the embedded store's other files (README, "Security"). */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/**
 * Blobs as files under one directory (`DATA_DIR/<name>`), for the one-process run. A blob is written to a
 * temporary name and renamed into place once complete, so a reader never sees half of one and a failed
 * write leaves nothing under its id.
 */
export class FileBlobStore implements BlobStore {
  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<FileBlobStore> {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    return new FileBlobStore(dir);
  }

  async put(id: string, source: Readable): Promise<BlobInfo> {
    const target = this.file(id);
    const partial = `${target}.${randomUUID()}.part`;
    try {
      await pipeline(source, createWriteStream(partial, { mode: FILE_MODE, flags: 'wx' }));
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return { size: (await stat(target)).size };
  }

  async stat(id: string): Promise<BlobInfo | undefined> {
    try {
      return { size: (await stat(this.file(id))).size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async open(id: string): Promise<Readable | undefined> {
    const file = this.file(id);
    const stream = createReadStream(file);
    // Opening is asynchronous: wait for it, so a missing file is "none" rather than a failed stream.
    return new Promise((resolve, reject) => {
      stream.once('ready', () => resolve(stream));
      stream.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') resolve(undefined);
        else reject(error);
      });
    });
  }

  async delete(id: string): Promise<boolean> {
    const file = this.file(id);
    const existed = (await this.stat(id)) !== undefined;
    await rm(file, { force: true });
    return existed;
  }

  async close(): Promise<void> {}

  private file(id: string): string {
    assertBlobId(id);
    return path.join(this.dir, id);
  }
}
