import { z } from 'zod';
import { idSchema } from '@chat/shared';

export const roomKindSchema = z.enum(['public', 'private', 'direct']);
export type RoomKind = z.infer<typeof roomKindSchema>;

/** A room as clients see it (api-contract.md, "Rooms and history"). */
export const roomSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: roomKindSchema,
  memberCount: z.number().int().min(0),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type Room = z.infer<typeof roomSchema>;

/** A stored message; `seq` counts up by exactly 1 per room. */
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

export type MemberRole = 'owner' | 'member';

export interface Membership {
  roomId: string;
  userId: string;
  role: MemberRole;
  joinedAt: Date;
}

/** Who acts: the verified claims of a token, nothing a client can choose. */
export interface Actor {
  id: string;
  username: string;
}

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

export const roomIdSchema = idSchema;
export const messageIdSchema = idSchema;
