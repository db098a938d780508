import { z } from 'zod';
import { defineSubject, subjects } from '@chat/shared';
import { announcementSchema, roomEventSchema, roomSchema } from '@chat/protocol';

/**
 * Subjects chat-service owns: core NATS (at most once, no history), between chat instances and for the
 * gateway. Ids are `[A-Za-z0-9_-]` (validated where they enter), so they are always one subject token.
 */

/** One room's events, for every instance with a local socket of one of its members. */
export const roomSubject = defineSubject(
  'chat.room.*',
  z.object({
    origin: z.string(),
    event: roomEventSchema,
    /** Users whose sockets must not get the event (typing between users in a block). */
    hiddenFrom: z.array(z.string()).optional(),
  }),
);
export const roomSubjectOf = (roomId: string) => `chat.room.${roomId}`;

/** Membership changes and read positions of one user, for every instance holding a socket of theirs. */
export const userSubject = defineSubject(
  'chat.user.*',
  z.object({
    origin: z.string(),
    event: z.discriminatedUnion('type', [
      z.object({ type: z.literal('room.added'), room: roomSchema, invited: z.boolean() }),
      z.object({ type: z.literal('room.removed'), roomId: z.string() }),
      z.object({ type: z.literal('read'), roomId: z.string(), seq: z.number().int().min(0) }),
      z.object({ type: z.literal('room.updated'), room: roomSchema }),
    ]),
  }),
);
export const userSubjectOf = (userId: string) => `chat.user.${userId}`;
export type UserNotice = z.infer<typeof userSubject.schema>['event'];

/** An admin's announcement, for every socket on every instance. */
export const announcementSubject = defineSubject(
  'chat.announcements',
  z.object({ origin: z.string(), announcement: announcementSchema }),
);

/** An instance gained its first socket of a user (online) or lost its last one for good (offline). */
export const presenceSubject = defineSubject(
  'chat.presence',
  z.object({ instanceId: z.string(), userId: z.string(), status: z.enum(['online', 'offline']) }),
);

/**
 * Every instance, every PRESENCE_TTL_MS / 3: the users it holds sockets of. An instance not heard from for
 * `ttlMs` is gone with its users; the list also repairs any online/offline notice that was lost.
 */
export const presenceHeartbeatSubject = defineSubject(
  'chat.presence.heartbeat',
  z.object({ instanceId: z.string(), userIds: z.array(z.string()), ttlMs: z.number().int().positive() }),
);

/** A starting instance asks every other to send its heartbeat now, so it learns who is online at once. */
export const presenceSyncSubject = defineSubject('chat.presence.sync', z.object({ instanceId: z.string() }));

/** Where this instance is and how loaded, for the gateway's balancing (shared: the gateway reads it). */
export const instancesSubject = subjects.chatInstances;
export type InstanceAnnouncement = z.infer<typeof instancesSubject.schema>;
