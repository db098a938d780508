import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { BadRequestError, UnsupportedMediaTypeError, ValidationError } from '@chat/shared';

/** An upload received whole into a temporary file, which {@link ReceivedUpload.discard} removes. */
export interface ReceivedUpload {
  file: string;
  size: number;
  /** The file's name as the client gave it (`?name=` or the multipart part's filename), made safe to show. */
  name: string;
  discard(): Promise<void>;
}

export interface UploadOptions {
  /** Bytes of the file at most; the byte past it fails the upload with `overLimit()`, nothing kept. */
  maxBytes: number;
  overLimit: () => Error;
  /** The name of a raw body (the `name` query parameter). */
  name?: string | undefined;
  /** Where the temporary file goes; the system's temporary directory by default. */
  tmpDir?: string;
}

// eslint-disable-next-line no-control-regex -- removing control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** How a body that stopped arriving fails: the client (or the gateway, at its cap) went away. */
const CUT_SHORT = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'ECONNABORTED']);

/** The body of an upload as the OpenAPI document describes it: what {@link receiveUpload} takes. */
export const uploadBodies = {
  'application/octet-stream': { type: 'string', format: 'binary', description: 'The file itself.' },
  'multipart/form-data': {
    type: 'object',
    properties: { file: { type: 'string', format: 'binary' } },
    required: ['file'],
  },
} as const;

/** Longest file name kept, in characters. */
export const FILE_NAME_MAX_LENGTH = 255;

/**
 * A client's file name as it may be shown and sent back in Content-Disposition: no directory part, no
 * control characters, at most {@link FILE_NAME_MAX_LENGTH} characters; `file` when nothing is left.
 */
export function safeFileName(name: string | undefined): string {
  const base = (name ?? '').split(/[/\\]/).pop()!.replace(CONTROL_CHARACTERS, '').trim();
  return [...base].slice(0, FILE_NAME_MAX_LENGTH).join('') || 'file';
}

/** Passes bytes on until `maxBytes` have passed; the next byte fails the stream with `overLimit()`. */
function capped(maxBytes: number, overLimit: () => Error): Transform & { seen: number } {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      counter.seen += chunk.length;
      if (counter.seen > maxBytes) callback(overLimit());
      else callback(null, chunk);
    },
  }) as Transform & { seen: number };
  counter.seen = 0;
  return counter;
}

/**
 * For an upload refused before its body was read to the end: the connection cannot carry another request,
 * so it closes after the answer and the rest of the body is never read.
 */
export function closeAfterAnswer(res: ServerResponse): void {
  if (!res.req.complete) res.setHeader('connection', 'close');
}

function isMultipart(req: IncomingMessage): boolean {
  return /^multipart\/form-data\s*(;|$)/i.test(req.headers['content-type'] ?? '');
}

/**
 * Receives the file of an upload request into a temporary file, streamed: a raw body (the file itself) or
 * `multipart/form-data` with one `file` part (other fields ignored). The size cap is checked as bytes arrive,
 * so a body over it is refused at the byte past the cap (what was written is removed) and the rest is never
 * read. An empty file is VALIDATION_FAILED; a body that does not arrive whole is BAD_REQUEST; a
 * Content-Encoding other than identity is UNSUPPORTED_MEDIA_TYPE (nothing is inflated).
 */
export async function receiveUpload(req: IncomingMessage, options: UploadOptions): Promise<ReceivedUpload> {
  const encoding = req.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    throw new UnsupportedMediaTypeError('Files are accepted without a Content-Encoding only.');
  }
  const file = path.join(options.tmpDir ?? os.tmpdir(), `chat-upload-${randomUUID()}`);
  const discard = () => rm(file, { force: true });
  const counter = capped(options.maxBytes, options.overLimit);
  const store = (source: Readable) => pipeline(source, counter, createWriteStream(file, { mode: 0o600 }));
  try {
    const name = isMultipart(req) ? await receivePart(req, store) : (await store(req), options.name);
    if (counter.seen === 0) {
      throw new ValidationError([{ path: 'file', message: 'must not be empty' }], 'The file is empty.');
    }
    return { file, size: counter.seen, name: safeFileName(name), discard };
  } catch (error) {
    await discard();
    if (CUT_SHORT.has((error as NodeJS.ErrnoException | undefined)?.code ?? '')) {
      throw new BadRequestError('The body did not arrive whole.', error);
    }
    throw error;
  }
}

/** The `file` part of a multipart body, stored with `store`; resolves with its filename. */
function receivePart(req: IncomingMessage, store: (source: Readable) => Promise<void>): Promise<string> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: { files: 1, fields: 20, fieldSize: 1024, parts: 21, headerPairs: 20 },
      });
    } catch (error) {
      reject(new BadRequestError('The multipart body has no boundary.', error));
      return;
    }
    let stored: Promise<string> | undefined;
    const fail = (error: unknown) => {
      req.unpipe(parser);
      parser.destroy();
      reject(error);
    };
    parser.on('file', (field, stream, info) => {
      if (field !== 'file' || stored) {
        stream.resume();
        return;
      }
      stored = store(stream).then(() => info.filename ?? '');
      stored.catch(fail);
    });
    parser.on('error', (error) => fail(new BadRequestError('The multipart body is malformed.', error)));
    parser.on('close', () => {
      if (stored) stored.then(resolve, fail);
      else fail(new ValidationError([{ path: 'file', message: 'is required: one part named "file"' }]));
    });
    req.on('aborted', () => fail(new BadRequestError('The body did not arrive whole.')));
    req.pipe(parser);
  });
}
