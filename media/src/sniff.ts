import { open } from 'node:fs/promises';

/** The image types decoded, thumbnailed and shown inline (contract v1.1, "Attachments and avatars"). */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

/** Bytes of the head that sniffing looks at. */
export const SNIFF_BYTES = 1024;

const startsWith = (head: Buffer, bytes: readonly number[], at = 0) =>
  head.length >= at + bytes.length && bytes.every((byte, index) => head[at + index] === byte);
const ascii = (text: string) => [...text].map((char) => char.charCodeAt(0));

/** Signatures (WHATWG MIME Sniffing, "Matching an image type pattern" and friends) in the order tried. */
const SIGNATURES: ReadonlyArray<{ type: string; matches: (head: Buffer) => boolean }> = [
  {
    type: 'image/png',
    matches: (head) => startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  },
  { type: 'image/jpeg', matches: (head) => startsWith(head, [0xff, 0xd8, 0xff]) },
  {
    type: 'image/gif',
    matches: (head) => startsWith(head, ascii('GIF87a')) || startsWith(head, ascii('GIF89a')),
  },
  {
    type: 'image/webp',
    matches: (head) => startsWith(head, ascii('RIFF')) && startsWith(head, ascii('WEBPVP'), 8),
  },
  { type: 'application/pdf', matches: (head) => startsWith(head, ascii('%PDF-')) },
  { type: 'application/zip', matches: (head) => startsWith(head, [0x50, 0x4b, 0x03, 0x04]) },
  { type: 'application/gzip', matches: (head) => startsWith(head, [0x1f, 0x8b, 0x08]) },
];

/** Markup a browser would render (and run): what the text of the head starts with, after a BOM and spaces. */
const HTML_STARTS = ['<!doctype html', '<html', '<head', '<body', '<script', '<iframe', '<!--', '<title'];

/**
 * The type of a file from its first bytes, never from what the client said: one of {@link IMAGE_TYPES},
 * `image/svg+xml`, `text/html`, a few well-known archive and document types, else
 * `application/octet-stream`. Only the image types are ever served inline.
 */
export function sniffType(head: Buffer): string {
  const signature = SIGNATURES.find((candidate) => candidate.matches(head));
  if (signature) return signature.type;
  const text = head
    .toString('latin1')
    .replace(/^(\xef\xbb\xbf|\xfe\xff|\xff\xfe)/, '')
    .trimStart()
    .toLowerCase();
  if (text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'))) return 'image/svg+xml';
  if (HTML_STARTS.some((start) => text.startsWith(start))) return 'text/html';
  return 'application/octet-stream';
}

/** {@link sniffType} of the file at `file`. */
export async function sniffFile(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    return sniffType(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

export function isImageType(type: string): type is ImageType {
  return (IMAGE_TYPES as readonly string[]).includes(type);
}
