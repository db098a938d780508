import { z } from 'zod';
import { blankAsAbsent, idSchema } from '@chat/shared';
import {
  announcementSchema,
  emojiSchema,
  memberSchema,
  messageSchema,
  messageTextSchema,
  roomNameSchema,
  roomSchema,
  TOPIC_MAX_LENGTH,
  trimmedText,
  userPublicSchema,
} from '@chat/protocol';

/** `POST /api/rooms`. */
export const createRoomBody = z.strictObject({
  name: roomNameSchema,
  kind: z.enum(['public', 'private']),
});

/** `POST /api/rooms/:id/invitations`. */
export const inviteBody = z.strictObject({ userId: idSchema });

export const roomIdParams = z.strictObject({ id: idSchema });
export const userIdParams = z.strictObject({ userId: idSchema });

/**
 * `GET /api/rooms/:id/messages`. `before` and `after` are ids of messages in this room (another room's
 * id, or an unknown one, is VALIDATION_FAILED); with both, the page is the range between them.
 */
export const historyQuery = z.strictObject({
  before: blankAsAbsent(idSchema.optional()),
  after: blankAsAbsent(idSchema.optional()),
  limit: blankAsAbsent(z.coerce.number().int().min(1).max(200).default(50)),
});

/** `GET /api/rooms/public`: the directory, by name; `q` is a name prefix in any case. */
export const publicRoomsQuery = z.strictObject({
  q: blankAsAbsent(z.string().max(64).optional()),
  limit: blankAsAbsent(z.coerce.number().int().min(1).max(100).default(50)),
  cursor: blankAsAbsent(z.string().max(512).optional()),
});

export const roomListSchema = z.object({ items: z.array(roomSchema) });

export const publicRoomPageSchema = z.object({
  items: z.array(roomSchema),
  nextCursor: z.string().nullable(),
});

/** `hasMore`: more messages exist in the paging direction (newer after `after`, else older). */
export const messagePageSchema = z.object({ items: z.array(messageSchema), hasMore: z.boolean() });

/** `/api/rooms/:id/messages/:messageId`. */
export const messageParams = z.strictObject({ id: idSchema, messageId: idSchema });

/** `/api/rooms/:id/messages/:messageId/reactions/:emoji`. */
export const reactionParams = z.strictObject({ id: idSchema, messageId: idSchema, emoji: emojiSchema });

/** `PATCH /api/rooms/:id/messages/:messageId`. */
export const editBody = z.strictObject({ text: messageTextSchema });

/** `/api/rooms/:id/members/:userId` and `/api/rooms/:id/bans/:userId`. */
export const memberParams = z.strictObject({ id: idSchema, userId: idSchema });

/** `PATCH /api/rooms/:id`: a new name, a topic (null clears it), or both. */
export const updateRoomBody = z
  .strictObject({
    name: roomNameSchema.optional(),
    topic: trimmedText(TOPIC_MAX_LENGTH, { controlCharacters: false }).nullable().optional(),
  })
  .refine((body) => body.name !== undefined || body.topic !== undefined, {
    message: 'must change name or topic',
  })
  .meta({ minProperties: 1 });

/** `PUT /api/rooms/:id/members/:userId/role`. */
export const roleBody = z.strictObject({ role: z.enum(['moderator', 'member']) });

/** `POST /api/rooms/:id/bans`. */
export const banBody = z.strictObject({ userId: idSchema });

/** `GET /api/rooms/:id/members` and `GET /api/announcements`. */
export const pageQuery = z.strictObject({
  limit: blankAsAbsent(z.coerce.number().int().min(1).max(100).default(50)),
  cursor: blankAsAbsent(z.string().max(512).optional()),
});

export const memberPageSchema = z.object({ items: z.array(memberSchema), nextCursor: z.string().nullable() });

/** `GET /api/users/me/blocks`. */
export const blockListSchema = z.object({
  items: z.array(z.object({ user: userPublicSchema, createdAt: z.string() })),
});

/** `POST /api/announcements`. */
export const announcementBody = z.strictObject({ text: messageTextSchema });

export const announcementPageSchema = z.object({
  items: z.array(announcementSchema),
  nextCursor: z.string().nullable(),
});
