import { createHash } from 'node:crypto';
import { stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import express, { type RequestHandler, type Response } from 'express';

/** Text files worth compressing, by extension; everything else goes as it is. */
const COMPRESSIBLE: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

type Encoding = 'br' | 'gzip';
const compress: Record<Encoding, (data: Buffer) => Promise<Buffer>> = {
  br: (data) =>
    promisify(brotliCompress)(data, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
    }),
  gzip: (data) => promisify(gzip)(data, { level: 9 }),
};

/** brotli when the browser takes it, else gzip, else nothing (`q=0` refuses one). */
function negotiate(header: string | undefined): Encoding | undefined {
  const accepted = new Set(
    (header ?? '')
      .split(',')
      .map((part) => part.trim().toLowerCase().split(';'))
      .filter(([, q]) => !/^\s*q=0(\.0*)?\s*$/.test(q ?? ''))
      .map(([name]) => name),
  );
  return accepted.has('br') ? 'br' : accepted.has('gzip') ? 'gzip' : undefined;
}

function cacheControl(res: Response, file: string, assets: string): void {
  res.setHeader('Cache-Control', file.includes(assets) ? 'public, max-age=31536000, immutable' : 'no-cache');
}

interface Compressed {
  body: Buffer;
  etag: string;
}

/**
 * The built browser client. Vite names every file under `assets/` by its content hash, so those may be
 * cached for good; everything else (index.html) is revalidated so a deploy reaches browsers at once. Text
 * files go brotli- or gzip-compressed to browsers that accept it, each compressed once per version of the
 * file (the bundle is a handful of files) and kept in memory.
 */
export function webClient(dir: string): RequestHandler {
  const root = path.resolve(dir);
  const assets = `${path.sep}assets${path.sep}`;
  const plain = express.static(root, {
    index: 'index.html',
    setHeaders: (res, file) => {
      cacheControl(res, file, assets);
      if (COMPRESSIBLE[path.extname(file)]) res.setHeader('Vary', 'Accept-Encoding');
    },
  });
  const compressed = new Map<string, { mtimeMs: number; variants: Map<Encoding, Promise<Compressed>> }>();

  function variant(file: string, mtimeMs: number, encoding: Encoding): Promise<Compressed> {
    let entry = compressed.get(file);
    if (entry?.mtimeMs !== mtimeMs) {
      entry = { mtimeMs, variants: new Map() };
      compressed.set(file, entry);
    }
    let found = entry.variants.get(encoding);
    if (!found) {
      found = readFile(file)
        .then((data) => compress[encoding](data))
        .then((body) => ({
          body,
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}-${encoding}"`,
        }));
      found.catch(() => entry.variants.delete(encoding));
      entry.variants.set(encoding, found);
    }
    return found;
  }

  return (req, res, next) => {
    const encoding =
      req.method === 'GET' || req.method === 'HEAD' ? negotiate(req.headers['accept-encoding']) : undefined;
    const relative = req.path.endsWith('/') ? `${req.path}index.html` : req.path;
    const file = path.join(root, path.normalize(decodeURIComponent(relative)));
    const type = COMPRESSIBLE[path.extname(file)];
    if (!encoding || !type || !file.startsWith(root + path.sep)) return plain(req, res, next);
    stat(file)
      .then(async (info) => {
        if (!info.isFile()) return plain(req, res, next);
        const { body, etag } = await variant(file, info.mtimeMs, encoding);
        cacheControl(res, file, assets);
        res.setHeader('Vary', 'Accept-Encoding');
        res.setHeader('ETag', etag);
        if (req.headers['if-none-match'] === etag) return void res.status(304).end();
        res.setHeader('Content-Type', type);
        res.setHeader('Content-Encoding', encoding);
        res.setHeader('Content-Length', body.length);
        res.end(req.method === 'HEAD' ? undefined : body);
      })
      .catch(() => plain(req, res, next));
  };
}
