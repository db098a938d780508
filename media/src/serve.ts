import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * `Content-Disposition` with the name in both forms (RFC 6266): an ASCII fallback, and the exact name in
 * `filename*` (RFC 8187) for browsers that read it.
 */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `${kind}; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** How a stored file is sent: its type, size, name, whether a browser may show it, how long it may keep it. */
export interface ServedFile {
  stream: Readable;
  contentType: string;
  size: number;
  name: string;
  /** Shown in the page (images we re-encoded); otherwise `Content-Disposition: attachment`, a download only. */
  inline: boolean;
  cacheControl: string;
}

/**
 * Sends a stored file. Whatever it is, the browser may not guess another type (`nosniff`), and a document
 * opened from it anyway runs nothing and loads nothing (`Content-Security-Policy: default-src 'none';
 * sandbox`), so an SVG or HTML upload can never run in the site's origin.
 */
export async function sendFile(res: ServerResponse, file: ServedFile): Promise<void> {
  res.writeHead(200, {
    'content-type': file.contentType,
    'content-length': String(file.size),
    'content-disposition': contentDisposition(file.inline ? 'inline' : 'attachment', file.name),
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    'cache-control': file.cacheControl,
  });
  await pipeline(file.stream, res);
}
