import path from 'node:path';
import express, { type RequestHandler } from 'express';

/**
 * The built browser client. Vite names every file under `assets/` by its content hash, so those may be
 * cached for good; everything else (index.html) is revalidated so a deploy reaches browsers at once.
 */
export function webClient(dir: string): RequestHandler {
  const assets = `${path.sep}assets${path.sep}`;
  return express.static(dir, {
    index: 'index.html',
    setHeaders: (res, file) => {
      res.setHeader(
        'Cache-Control',
        file.includes(assets) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
}
