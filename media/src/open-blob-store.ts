import path from 'node:path';
import { connectMongo, type Logger } from '@chat/shared';
import type { BlobStore } from './blob.store';
import { FileBlobStore } from './blob.store.files';
import { GridFsBlobStore } from './blob.store.gridfs';

/**
 * The blob store a service's configuration asks for: GridFS bucket `name` on a connection of its own when
 * `mongoUrl` is set, else the directory `<dataDir>/<name>`.
 */
export async function openBlobStore(options: {
  mongoUrl?: string | undefined;
  dataDir: string;
  name: string;
  appName: string;
  logger: Logger;
}): Promise<BlobStore> {
  if (!options.mongoUrl) return FileBlobStore.open(path.resolve(options.dataDir, options.name));
  const connection = await connectMongo(options.mongoUrl, {
    appName: options.appName,
    logger: options.logger,
  });
  return new GridFsBlobStore(connection, options.name, true);
}
