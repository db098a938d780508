import { z } from 'zod';

/**
 * The entities clients see (README, "API"; docs/openapi.json and docs/asyncapi.json describe them).
 * A new one (e.g. `Attachment`) is added here and referenced from the entities that carry it.
 */

export const roleSchema = z.enum(['user', 'admin']);
export type Role = z.infer<typeof roleSchema>;

/** The full view of a user: for the user themselves and for admins. */
export const userSchema = z.object({
  id: z.string(),
  username: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  role: roleSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type User = z.infer<typeof userSchema>;

/** What anyone signed in may see of another user. */
export const userPublicSchema = z.object({
  id: z.string(),
  username: z.string(),
  name: z.string().nullable(),
  createdAt: z.string(),
});
export type UserPublic = z.infer<typeof userPublicSchema>;

export const roomKindSchema = z.enum(['public', 'private', 'direct']);
export type RoomKind = z.infer<typeof roomKindSchema>;

export const roomSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: roomKindSchema,
  memberCount: z.number().int().min(0),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type Room = z.infer<typeof roomSchema>;

/** A stored message; `seq` counts up by exactly 1 per room, so a jump tells a client it missed some. */
export const messageSchema = z.object({
  id: z.string(),
  roomId: z.string(),
  seq: z.number().int().positive(),
  sender: z.object({ id: z.string(), username: z.string() }),
  text: z.string(),
  clientMsgId: z.string().optional(),
  createdAt: z.string(),
});
export type Message = z.infer<typeof messageSchema>;

export const TEXT_MAX_LENGTH = 4000;
export const ROOM_NAME_MAX_LENGTH = 64;

/**
 * C0 control characters other than tab, line feed and carriage return. JSON escapes each as six bytes, so
 * refusing them keeps a 4000-character message inside one 16 KiB frame; no chat client types them.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/** Message text: 1-4000 characters after trimming (the trimmed text is what is stored). */
export const messageTextSchema = z
  .string()
  .trim()
  .min(1)
  .max(TEXT_MAX_LENGTH)
  .refine((text) => !CONTROL_CHARACTERS.test(text), 'may not contain control characters');

/** A room name: 1-64 characters after trimming, unique among public and private rooms in any case. */
export const roomNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(ROOM_NAME_MAX_LENGTH)
  .refine((name) => !CONTROL_CHARACTERS.test(name), 'may not contain control characters');

/** A client's id for a message it sends, so a retried send is stored once. */
export const clientMsgIdSchema = z.string().min(1).max(64);
