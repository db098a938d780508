import { z } from 'zod';

/** Ids are opaque strings to clients; ours are UUIDs, but nothing may rely on that. */
export const idSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be an id');
