import { readFile } from 'node:fs/promises';
import { Router } from 'express';
import { NotFoundError } from '@chat/shared';

/** The path the OpenAPI document is served at. */
export const OPENAPI_PATH = '/api/docs/openapi.json';

/**
 * Serves the OpenAPI document from `file`, read on each request so a regenerated document is served
 * without a restart; 404 in the contract's shape while the file does not exist.
 */
export function docsRouter(file: string): Router {
  const router = Router();
  router.get(OPENAPI_PATH, async (_req, res) => {
    let document: Buffer;
    try {
      document = await readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError('The OpenAPI document');
      throw error;
    }
    res.type('application/json').set('cache-control', 'no-cache').send(document);
  });
  return router;
}
