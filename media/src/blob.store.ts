import type { Readable } from 'node:stream';

/** A stored blob's size in bytes. */
export interface BlobInfo {
  size: number;
}

/**
 * Bytes under an id, written once and read as a stream: attachments, their thumbnails and avatars. Two
 * adapters: GridFS when MONGO_URL is set ({@link GridFsBlobStore}), files under DATA_DIR otherwise
 * ({@link FileBlobStore}). Neither holds a whole blob in memory. Ids are 1-128 of `[A-Za-z0-9_.-]`.
 */
export interface BlobStore {
  /**
   * Stores what `source` yields under `id` (a new id: writing an id twice is the caller's mistake). When
   * `source` fails, nothing is kept under `id` and the promise rejects with its error.
   */
  put(id: string, source: Readable): Promise<BlobInfo>;
  /** The blob's size, or undefined when there is none. */
  stat(id: string): Promise<BlobInfo | undefined>;
  /** The blob's bytes, or undefined when there is none. */
  open(id: string): Promise<Readable | undefined>;
  /** Removes the blob; false when there was none. */
  delete(id: string): Promise<boolean>;
  close(): Promise<void>;
}

const BLOB_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/** Refuses an id that is not one of ours (a file adapter must never see `..` or `/`). */
export function assertBlobId(id: string): void {
  if (!BLOB_ID.test(id)) throw new Error(`Not a blob id: ${JSON.stringify(id)}`);
}
