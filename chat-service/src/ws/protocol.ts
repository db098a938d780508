import { z } from 'zod';
import { idSchema, userPublicSchema } from '@chat/shared';
import { clientMsgIdSchema, messageSchema, messageTextSchema, roomSchema } from '../domain/entities';

/**
 * The WebSocket protocol (api-contract.md, "WebSocket"): what clients send, validated strictly (an unknown
 * type or an extra field is VALIDATION_FAILED), and what the server sends.
 */

/** Echoed on the reply to the frame that carried it. */
export const refSchema = z.string().max(64);

const frame = <K extends string, T extends z.ZodRawShape>(type: K, shape: T) =>
  z.strictObject({ type: z.literal(type), ref: refSchema.optional(), ...shape });

export const joinFrame = frame('join', { roomId: idSchema, since: idSchema.optional() });
export const leaveFrame = frame('leave', { roomId: idSchema });
export const sendFrame = frame('send', {
  roomId: idSchema,
  text: messageTextSchema,
  clientMsgId: clientMsgIdSchema.optional(),
});
export const typingFrame = frame('typing', { roomId: idSchema, active: z.boolean() });
export const pingFrame = frame('ping', {});
export const refreshFrame = frame('refresh', { token: z.string().min(1).max(8192) });

export const clientFrameSchema = z.discriminatedUnion('type', [
  joinFrame,
  leaveFrame,
  sendFrame,
  typingFrame,
  pingFrame,
  refreshFrame,
]);
export type ClientFrame = z.infer<typeof clientFrameSchema>;

const event = <K extends string, T extends z.ZodRawShape>(type: K, shape: T) =>
  z.object({ type: z.literal(type), ...shape });
const reply = <K extends string, T extends z.ZodRawShape>(type: K, shape: T) =>
  z.object({ type: z.literal(type), ref: refSchema.optional(), ...shape });

export const helloEvent = event('hello', {
  user: userPublicSchema,
  sessionId: z.string(),
  rooms: z.array(roomSchema),
  online: z.array(userPublicSchema),
});
export const joinedReply = reply('joined', {
  roomId: z.string(),
  missed: z.array(messageSchema),
  hasMore: z.boolean(),
});
export const leftReply = reply('left', { roomId: z.string() });
export const ackReply = reply('ack', { message: messageSchema });
export const pongReply = reply('pong', {});
/** Not in the contract's list (services may add): confirms a `refresh` and says when the socket now expires. */
export const refreshedReply = reply('refreshed', { expiresAt: z.string() });
export const errorEvent = reply('error', { code: z.string(), message: z.string() });

export const messageEvent = event('message', { message: messageSchema });
export const typingEvent = event('typing', {
  roomId: z.string(),
  user: userPublicSchema,
  active: z.boolean(),
});
export const memberJoinedEvent = event('member.joined', { roomId: z.string(), user: userPublicSchema });
export const memberLeftEvent = event('member.left', { roomId: z.string(), user: userPublicSchema });
export const roomInvitedEvent = event('room.invited', { room: roomSchema });
export const presenceEvent = event('presence', {
  user: userPublicSchema,
  status: z.enum(['online', 'offline']),
});
export const sessionExpiringEvent = event('session.expiring', { expiresAt: z.string() });

/** Events that belong to one room and travel on its subject. */
export const roomEventSchema = z.discriminatedUnion('type', [
  messageEvent,
  typingEvent,
  memberJoinedEvent,
  memberLeftEvent,
]);
export type RoomEvent = z.infer<typeof roomEventSchema>;

/** Every frame the server sends is one of these, or a JSON array of them in order. */
export const serverEventSchema = z.discriminatedUnion('type', [
  helloEvent,
  joinedReply,
  leftReply,
  ackReply,
  pongReply,
  refreshedReply,
  errorEvent,
  messageEvent,
  typingEvent,
  memberJoinedEvent,
  memberLeftEvent,
  roomInvitedEvent,
  presenceEvent,
  sessionExpiringEvent,
]);
export type ServerEvent = z.infer<typeof serverEventSchema>;

/** Close codes (api-contract.md): why the server ended a socket. */
export const CloseCode = Object.freeze({
  /** Going away: the server ends the socket for good (also: the handshake could not complete). */
  GOING_AWAY: 1001,
  /** Abuse: past the rate limit. */
  POLICY: 1008,
  /** A frame larger than WS_MAX_PAYLOAD_BYTES (sent by `ws` itself). */
  TOO_BIG: 1009,
  /** Something broke on our side while opening the socket. */
  INTERNAL: 1011,
  /** This instance is restarting or draining: reconnect (through the gateway) and `join` with `since`. */
  RESTARTING: 1012,
  /**
   * Too far behind on reading (outbound buffer full): not abuse, so a client reconnects (with `since`)
   * after a backoff instead of giving up as it does after 1008. RFC 6455 §7.4.2 registers 1013 "Try Again Later".
   */
  TRY_AGAIN_LATER: 1013,
  /** The session expired, was revoked, or logged out. */
  SESSION_ENDED: 4001,
  /** The user was deleted (or is otherwise forbidden). */
  FORBIDDEN: 4003,
});
