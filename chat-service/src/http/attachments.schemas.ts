import { z } from 'zod';
import { attachmentSchema, idSchema } from '@chat/protocol';
import { blankAsAbsent } from '@chat/shared';

export const attachmentIdParams = z.strictObject({ id: idSchema });

/** A raw upload's file name (a multipart part carries its own). */
export const uploadQuery = z.object({
  name: blankAsAbsent(z.string().max(1024).optional()),
});

/** A signed link's query: its expiry (seconds since the epoch) and signature. */
export const signedLinkQuery = z.object({
  exp: z.string().regex(/^[0-9]{1,12}$/, 'must be a time in seconds'),
  sig: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a link signature'),
});

export { attachmentSchema };

/** A file answered as it is stored. */
export const fileBody = z.string().describe('The file’s bytes.');
