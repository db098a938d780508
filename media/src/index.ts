/**
 * @chat/media: what chat-service (attachments) and users-service (avatars) share for files. Blob storage
 * behind one interface (GridFS, or files under DATA_DIR), uploads streamed to a temporary file with the
 * size cap checked as bytes arrive, the type sniffed from the content, and images decoded with sharp:
 * a pixel cap, metadata stripped, thumbnails and avatars.
 */
export * from './blob.store';
export { FileBlobStore } from './blob.store.files';
export { GridFsBlobStore } from './blob.store.gridfs';
export { openBlobStore } from './open-blob-store';
export * from './sniff';
export * from './images';
export * from './upload';
export { ConcurrencyGate } from './gate';
export * from './serve';
