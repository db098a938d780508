import { z } from 'zod';
import { announcementSchema, messageSchema, roomSchema, userPublicSchema } from './entities';
import { errorShape } from './errors';
import { refSchema } from './frames';

/**
 * What the server sends. A server frame holds one event or a JSON array of events in order (events bound
 * for one socket may be coalesced). Replies echo the `ref` of the frame they answer.
 */

/** An event with its `type`, its fields and when it is sent (docs/asyncapi.json says it too). */
const event = <K extends string, T extends z.ZodRawShape>(type: K, description: string, shape: T) =>
  z.object({ type: z.literal(type), ...shape }).describe(description);
const reply = <K extends string, T extends z.ZodRawShape>(type: K, description: string, shape: T) =>
  z.object({ type: z.literal(type), ref: refSchema.optional(), ...shape }).describe(description);

export const helloEvent = event(
  'hello',
  'First on every socket: who you are, your rooms, who of the users sharing a room with you is online, and the latest announcements (at most 20, newest first). Presence travels through rooms of at most `presenceMaxRoomMembers` members: `online` and `presence` events leave out users who share only larger rooms with you.',
  {
    user: userPublicSchema,
    sessionId: z.string(),
    rooms: z.array(roomSchema),
    online: z.array(userPublicSchema),
    presenceMaxRoomMembers: z.number().int().min(2),
    announcements: z.array(announcementSchema),
  },
);
export const joinedReply = reply(
  'joined',
  "Answers `join`: `missed` are the messages after `since`, oldest first; `hasMore` when there are more to page through over REST. `rev` is the room's revision now (send it back as `sinceRev`); `changed` the current state of the messages at or before `since` changed after `sinceRev` (empty without it), at most 500, `changedHasMore` when more changed (reload the history you hold).",
  {
    roomId: z.string(),
    missed: z.array(messageSchema),
    hasMore: z.boolean(),
    rev: z.number().int().min(0),
    changed: z.array(messageSchema),
    changedHasMore: z.boolean(),
  },
);
export const leftReply = reply('left', 'Answers `leave`.', { roomId: z.string() });
export const ackReply = reply(
  'ack',
  'Answers `send`, `edit`, `delete` and `react` once stored, with the message as it now is.',
  { message: messageSchema },
);
export const pongReply = reply('pong', 'Answers `ping`.', {});
export const refreshedReply = reply('refreshed', 'Answers `refresh`: when the socket now expires.', {
  expiresAt: z.string(),
});
export const errorEvent = reply(
  'error',
  'A frame was refused (with its `ref`), or a problem no frame caused. The socket stays open.',
  errorShape,
);

export const messageEvent = event('message', 'A message in a room you receive, exactly once per socket.', {
  message: messageSchema,
});
export const messageUpdatedEvent = event(
  'message.updated',
  'A message in a room you receive was edited, deleted or reacted to: its whole new state, exactly once per socket. Keep it if its `rev` is above the one you hold.',
  { message: messageSchema },
);
export const readEvent = reply(
  'read',
  "A read position moved: yours (answering your `read`, and on your other sockets) or, in a direct room, the other member's.",
  { roomId: z.string(), userId: z.string(), seq: z.number().int().min(0) },
);
export const typingEvent = event('typing', 'Another user types in one of your rooms.', {
  roomId: z.string(),
  user: userPublicSchema,
  active: z.boolean(),
});
export const memberJoinedEvent = event('member.joined', 'Someone became a member of one of your rooms.', {
  roomId: z.string(),
  user: userPublicSchema,
});
export const memberLeftEvent = event('member.left', 'Someone left one of your rooms.', {
  roomId: z.string(),
  user: userPublicSchema,
});
export const roomInvitedEvent = event(
  'room.invited',
  'You were invited to a room (or a direct room with you was opened); your sockets receive it from now on.',
  { room: roomSchema },
);
export const roomUpdatedEvent = event(
  'room.updated',
  'A room of yours was renamed or its topic changed, or your role in it changed: its new state.',
  { room: roomSchema },
);
export const roomDeletedEvent = event('room.deleted', 'A room of yours was deleted, with its messages.', {
  roomId: z.string(),
});
export const roomRemovedEvent = event(
  'room.removed',
  'You were removed (or banned) from a room: your sockets no longer receive it.',
  { roomId: z.string() },
);
export const announcementEvent = event('announcement', 'An admin announced something to everyone.', {
  announcement: announcementSchema,
});
export const presenceEvent = event(
  'presence',
  'A user sharing a room of at most `presenceMaxRoomMembers` members with you (see `hello`) came online (first socket anywhere) or went offline (last socket gone).',
  {
    user: userPublicSchema,
    status: z.enum(['online', 'offline']),
  },
);
export const sessionExpiringEvent = event(
  'session.expiring',
  "About a minute before the socket's token expires: answer with `refresh`.",
  { expiresAt: z.string() },
);

export const resyncEvent = event(
  'resync',
  'Events of your rooms may have been missed while this chat instance could not reach the others (NATS was away): join each room again with `since` (and fill any gap from history). Nothing stored is lost.',
  {},
);

/** Events that belong to one room: chat instances pass them to each other on the room's NATS subject. */
export const roomEventSchema = z.discriminatedUnion('type', [
  messageEvent,
  messageUpdatedEvent,
  readEvent,
  typingEvent,
  memberJoinedEvent,
  memberLeftEvent,
  roomUpdatedEvent,
  roomDeletedEvent,
]);
export type RoomEvent = z.infer<typeof roomEventSchema>;

/** Every event the server sends. */
export const serverEventSchema = z.discriminatedUnion('type', [
  helloEvent,
  joinedReply,
  leftReply,
  ackReply,
  pongReply,
  refreshedReply,
  errorEvent,
  messageEvent,
  messageUpdatedEvent,
  readEvent,
  typingEvent,
  memberJoinedEvent,
  memberLeftEvent,
  roomInvitedEvent,
  roomUpdatedEvent,
  roomDeletedEvent,
  roomRemovedEvent,
  announcementEvent,
  presenceEvent,
  sessionExpiringEvent,
  resyncEvent,
]);
export type ServerEvent = z.infer<typeof serverEventSchema>;
export type ServerEventType = ServerEvent['type'];
/** The event of one type. */
export type ServerEventOf<K extends ServerEventType> = Extract<ServerEvent, { type: K }>;
