import { z } from 'zod';

/**
 * The entities clients see (README, "API"; docs/openapi.json and docs/asyncapi.json describe them).
 * A new one (e.g. `Attachment`) is added here and referenced from the entities that carry it.
 */

export const roleSchema = z.enum(['user', 'admin']);
export type Role = z.infer<typeof roleSchema>;

/**
 * A user's picture (contract v1.1, "Attachments and avatars"): a path that works in `<img src>` without the
 * access token, `/api/users/{id}/avatar?v=<version>`, a new one with each new picture, so a browser may keep
 * it for good. Null when the user has none (clients show initials).
 */
export const avatarUrlSchema = z.string().nullable();

/** The full view of a user: for the user themselves and for admins. */
export const userSchema = z.object({
  id: z.string(),
  username: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  avatarUrl: avatarUrlSchema,
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
  avatarUrl: avatarUrlSchema,
  createdAt: z.string(),
});
export type UserPublic = z.infer<typeof userPublicSchema>;

export const roomKindSchema = z.enum(['public', 'private', 'direct']);

/** A member's role in a room: its creator owns it; owners make moderators, who may remove members. */
export const memberRoleSchema = z.enum(['owner', 'moderator', 'member']);
export type MemberRole = z.infer<typeof memberRoleSchema>;
export type RoomKind = z.infer<typeof roomKindSchema>;

const count = z.number().int().min(0);

export const roomSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: roomKindSchema,
  memberCount: count,
  createdBy: z.string(),
  createdAt: z.string(),
  /** What the room is about, set by its owner; null when unset. */
  topic: z.string().nullable(),
  /** Your role in the room, on rooms you belong to. */
  myRole: memberRoleSchema.optional(),
  /** The room's newest seq (0 before its first message). With the read state below, on rooms you belong to. */
  lastSeq: count.optional(),
  /** Your read position: the highest seq you have read (it never moves back). */
  lastReadSeq: count.optional(),
  /** Messages after `lastReadSeq` that others sent and that are not deleted. */
  unread: count.optional(),
  /** Those of them that mention you. */
  mentions: count.optional(),
});
export type Room = z.infer<typeof roomSchema>;

const senderSchema = z.object({ id: z.string(), username: z.string() });

/** What a reply shows of the message it answers, as it was when the reply was sent (text cut to 200). */
export const replyPreviewSchema = z.object({
  id: z.string(),
  seq: z.number().int().positive(),
  sender: senderSchema,
  text: z.string(),
});

/** One emoji's reactions to a message: how many, and who (the first 100 of them). */
export const reactionSchema = z.object({
  emoji: z.string(),
  count: z.number().int().positive(),
  userIds: z.array(z.string()),
});
export type Reaction = z.infer<typeof reactionSchema>;

/**
 * A file attached to messages (contract v1.1, "Attachments and avatars"). `type` is decided from the
 * content, never from what the uploader said. `url` and `thumbnailUrl` are signed links that expire (they
 * work in `<img src>` without the access token); fetch the message or `GET /api/attachments/{id}` again for
 * fresh ones. Images (PNG, JPEG, GIF, WebP) have `width`, `height` and a WebP `thumbnailUrl`; every other
 * type is served as a download only.
 */
export const attachmentSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  size: z.number().int().min(0),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  url: z.string(),
  thumbnailUrl: z.string().optional(),
});
export type Attachment = z.infer<typeof attachmentSchema>;

/** Attachments one message may carry. */
export const ATTACHMENTS_PER_MESSAGE = 10;

/**
 * A stored message; `seq` counts up by exactly 1 per room, so a jump tells a client it missed some. `rev` is
 * the room's revision at the message's last change (its creation, an edit, its deletion or a reaction): a
 * client keeps the version with the highest `rev`. A deleted message stays as a tombstone (`deletedAt` set,
 * `text` empty, no reactions, no attachments), so `seq` has no gap.
 */
export const messageSchema = z.object({
  id: z.string(),
  roomId: z.string(),
  seq: z.number().int().positive(),
  /** 0 for a message stored before revisions existed and not changed since. */
  rev: z.number().int().min(0),
  sender: senderSchema,
  text: z.string(),
  clientMsgId: z.string().optional(),
  createdAt: z.string(),
  editedAt: z.string().optional(),
  deletedAt: z.string().optional(),
  replyTo: replyPreviewSchema.optional(),
  reactions: z.array(reactionSchema),
  /** The ids of the room's members named as `@username` in the text when it was sent or edited. */
  mentions: z.array(z.string()),
  /** The files sent with it, in the order given (none on a deleted message). */
  attachments: z.array(attachmentSchema),
});
export type Message = z.infer<typeof messageSchema>;

export const TEXT_MAX_LENGTH = 4000;
export const ROOM_NAME_MAX_LENGTH = 64;

/**
 * No C0 control characters other than tab, line feed and carriage return. JSON escapes each as six bytes,
 * so refusing them keeps a 4000-character message inside one 16 KiB frame; no chat client types them.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NO_CONTROL_CHARACTERS = /^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$/;

/**
 * What trimming removes (JavaScript's whitespace), spelled out rather than written `\s`, so that every regex
 * engine reading these patterns from the OpenAPI document means the same by them.
 */
const WHITESPACE = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';

/**
 * 1 to `max` characters once trimmed: a kept character, then at most `max - 1` more ending in one. Never
 * empty in the middle, so the whitespace on each side is matched once and the pattern runs in linear time
 * on any input. With `u`, JavaScript counts code points, as JSON Schema and the OpenAPI document's readers
 * do (`.max()` would count UTF-16 units).
 */
function trimmedLength(max: number): RegExp {
  const kept = `[^${WHITESPACE}]`;
  return new RegExp(`^[${WHITESPACE}]*${kept}(?:[\\s\\S]{0,${max - 2}}${kept})?[${WHITESPACE}]*$`, 'u');
}

/**
 * Text of 1 to `max` characters once trimmed, stored trimmed, with or without control characters. Each rule
 * is a pattern on the text as sent, not a refinement, so the OpenAPI document states it (issue 14).
 */
export function trimmedText(max: number, options: { controlCharacters: boolean }) {
  const text = z.string().regex(trimmedLength(max), `must be 1 to ${max} characters long once trimmed`);
  return (
    options.controlCharacters ? text : text.regex(NO_CONTROL_CHARACTERS, 'may not contain control characters')
  ).trim();
}

/** Message text: 1-4000 characters after trimming (the trimmed text is what is stored). */
export const messageTextSchema = trimmedText(TEXT_MAX_LENGTH, { controlCharacters: false });

/** A room name: 1-64 characters after trimming; unique among public rooms in any case. */
export const roomNameSchema = trimmedText(ROOM_NAME_MAX_LENGTH, { controlCharacters: false });

/** A client's id for a message it sends, so a retried send is stored once. */
export const clientMsgIdSchema = z.string().min(1).max(64);

/** How much of the answered message's text a reply carries. */
export const REPLY_PREVIEW_LENGTH = 200;

/**
 * A reaction: an emoji (or any short symbol), 1-32 characters with no spaces, control characters, `/` or
 * `%`, so it is also one path segment of the REST mirror.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const EMOJI = /^[^ \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u0000-\u001F\u007F/%]+$/;

export const emojiSchema = z
  .string()
  .min(1)
  .max(32)
  .regex(EMOJI, 'must be one emoji or short symbol without spaces');

/** The longest room topic. */
export const TOPIC_MAX_LENGTH = 250;

/** A room's member, as the members list shows them. */
export const memberSchema = z.object({
  user: userPublicSchema,
  role: memberRoleSchema,
  joinedAt: z.string(),
});
export type Member = z.infer<typeof memberSchema>;

/** A server-wide announcement from an admin; `hello` carries the latest. */
export const announcementSchema = z.object({
  id: z.string(),
  text: z.string(),
  createdAt: z.string(),
  sender: senderSchema,
});
export type Announcement = z.infer<typeof announcementSchema>;

/** What a deleted user's messages show as their sender. */
export const DELETED_USER = 'deleted-user';
