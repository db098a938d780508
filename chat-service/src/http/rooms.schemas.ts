import { z } from 'zod';
import { blankAsAbsent, idSchema } from '@chat/shared';
import { emojiSchema, messageSchema, messageTextSchema, roomNameSchema, roomSchema } from '@chat/protocol';

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
