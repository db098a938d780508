import { z } from 'zod';
import { ATTACHMENTS_PER_MESSAGE, clientMsgIdSchema, emojiSchema, messageTextSchema } from './entities';
import { idSchema } from './ids';

/**
 * What clients send on the socket, validated strictly by the server: an unknown type or an extra field is
 * VALIDATION_FAILED, answered with an `error` frame carrying the frame's `ref`.
 */

/** Echoed on the reply to the frame that carried it. */
export const refSchema = z.string().max(64);

/** A client frame: its `type`, an optional `ref`, its fields, and what it does (docs/asyncapi.json says it too). */
const frame = <K extends string, T extends z.ZodRawShape>(type: K, description: string, shape: T) =>
  z.strictObject({ type: z.literal(type), ref: refSchema.optional(), ...shape }).describe(description);

export const joinFrame = frame(
  'join',
  'Join a public room, or confirm membership of any room, and catch up: `joined` carries up to 200 messages after `since` (a message id) and, with `sinceRev` (the room revision you last saw), the current state of every message at or before `since` changed since then. A private room you do not belong to: `error` FORBIDDEN.',
  { roomId: idSchema, since: idSchema.optional(), sinceRev: z.number().int().min(0).optional() },
);
export const leaveFrame = frame(
  'leave',
  'Leave the room (as `DELETE /api/rooms/:id/members/me`); answered by `left`.',
  {
    roomId: idSchema,
  },
);
export const sendFrame = frame(
  'send',
  'Store a message: `ack` once stored, then every socket receiving the room, on every instance, gets `message` once. The same `clientMsgId` from the same user again answers the first message and broadcasts nothing. `attachmentIds` (at most 10, each an upload of yours from `POST /api/attachments`) become the message’s `attachments`; with at least one, `text` may be empty or left out.',
  {
    roomId: idSchema,
    text: z.union([z.literal(''), messageTextSchema]).default(''),
    clientMsgId: clientMsgIdSchema.optional(),
    replyTo: idSchema.optional(),
    attachmentIds: z.array(idSchema).min(1).max(ATTACHMENTS_PER_MESSAGE).optional(),
  },
).refine((send) => send.text !== '' || send.attachmentIds !== undefined, {
  path: ['text'],
  message: 'must be 1 to 4000 characters long once trimmed, unless the message has attachments',
});
export const editFrame = frame(
  'edit',
  "Change your message's text, within MESSAGE_EDIT_WINDOW_SECONDS of sending it: `ack` with the message's new state, and `message.updated` to every socket receiving the room.",
  { roomId: idSchema, messageId: idSchema, text: messageTextSchema },
);
export const deleteFrame = frame(
  'delete',
  'Delete a message (yours, or any in a room you own or moderate, or as an admin): it stays as a tombstone with empty text and no reactions. `ack` with its new state, and `message.updated` to the room.',
  { roomId: idSchema, messageId: idSchema },
);
export const reactFrame = frame(
  'react',
  'Add (`on: true`) or remove your reaction with `emoji`; doing what is already done changes nothing. `ack` with the message, and `message.updated` to the room when something changed.',
  { roomId: idSchema, messageId: idSchema, emoji: emojiSchema, on: z.boolean() },
);
export const readFrame = frame(
  'read',
  'You have read the room up to `seq`: stored (it never moves back) and answered by `read`, which your other sockets (and, in a direct room, the other member) get too.',
  { roomId: idSchema, seq: z.number().int().min(0) },
);
export const typingFrame = frame('typing', "No reply: the room's other users' sockets get `typing`.", {
  roomId: idSchema,
  active: z.boolean(),
});
export const pingFrame = frame('ping', 'Answered by `pong`.', {});
export const refreshFrame = frame(
  'refresh',
  "A fresh access token of the same user extends the socket's life; answered by `refreshed`.",
  { token: z.string().min(1).max(8192) },
);

export const clientFrameSchema = z.discriminatedUnion('type', [
  joinFrame,
  leaveFrame,
  sendFrame,
  editFrame,
  deleteFrame,
  reactFrame,
  readFrame,
  typingFrame,
  pingFrame,
  refreshFrame,
]);
/** A frame as the server sees it after validation (trimmed text, defaults applied). */
export type ClientFrame = z.output<typeof clientFrameSchema>;
/** A frame as a client writes it. */
export type ClientFrameInput = z.input<typeof clientFrameSchema>;
