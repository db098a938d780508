import { z } from 'zod';
import { defineSubject } from './bus';
import { userPublicSchema, userSchema } from '../schemas';

/**
 * Users as the bus carries them. Events and replies from a users-service older than avatars (contract v1.1)
 * have no `avatarUrl`: JetStream keeps events for days and instances are upgraded one at a time, so an
 * absent one reads as none rather than making the whole event malformed (a password change whose sessions
 * auth-service would then not end).
 */
export const userOnBusSchema = userSchema
  .extend({ avatarUrl: userSchema.shape.avatarUrl.default(null) })
  .describe('`User` as the bus carries it; one from before avatars (contract v1.1) may lack `avatarUrl`.');
export const userPublicOnBusSchema = userPublicSchema
  .extend({ avatarUrl: userPublicSchema.shape.avatarUrl.default(null) })
  .describe('`UserPublic` as the bus carries it; one from before avatars may lack `avatarUrl`.');

/**
 * Subjects more than one service uses. Durable events (JetStream stream EVENTS) start with `events.`;
 * a service's private subjects live in its own `src/bus/`.
 */
export const subjects = {
  /** users-service publishes after a signup; never carries a password or hash. */
  userCreated: defineSubject('events.users.user.created', z.object({ user: userOnBusSchema })),
  /**
   * `passwordChanged` when the update set a new password: auth-service ends the user's sessions but
   * `keepSessionId` (the session that changed its own password; absent when an admin set it).
   */
  userUpdated: defineSubject(
    'events.users.user.updated',
    z.object({
      user: userOnBusSchema,
      passwordChanged: z.object({ keepSessionId: z.string().optional() }).optional(),
    }),
  ),
  /** Every verifier refuses the user's tokens from here on; auth-service ends their sessions. */
  userDeleted: defineSubject(
    'events.users.user.deleted',
    z.object({ userId: z.string(), deletedAt: z.string() }),
  ),
  /**
   * A session is over (logout, refresh-token reuse, user deleted, password changed): its tokens are
   * refused everywhere.
   */
  sessionEnded: defineSubject(
    'events.auth.session.ended',
    z.object({
      sessionId: z.string(),
      userId: z.string(),
      reason: z.enum(['logout', 'refresh_reuse', 'user_deleted', 'password_changed']),
      endedAt: z.string(),
    }),
  ),
  /**
   * Request/reply, answered by users-service: checks a login (username or email) and password with the
   * same work and the same INVALID_CREDENTIALS answer for an unknown user as for a wrong password.
   * The password crosses the bus here, which is why production NATS runs with TLS.
   */
  verifyCredentials: defineSubject(
    'users.v1.verify-credentials',
    z.object({ login: z.string().max(256), password: z.string().max(1024) }),
  ),
  verifyCredentialsReply: defineSubject(
    'users.v1.verify-credentials.reply',
    z.object({ user: userOnBusSchema }),
  ),
  /**
   * Request/reply, answered by users-service: the id of the account a login (username or email, any case)
   * names, or null. auth-service counts failed logins per account and client address under it, so the
   * username and email forms of one account share one counter; it never reaches a client.
   */
  resolveLogin: defineSubject('users.v1.resolve-login', z.object({ login: z.string().max(256) })),
  resolveLoginReply: defineSubject(
    'users.v1.resolve-login.reply',
    z.object({ userId: z.string().nullable() }),
  ),
  /** Request/reply, answered by users-service: public profiles of up to 200 users; unknown ids are left out. */
  getPublicUsers: defineSubject('users.v1.get-public', z.object({ ids: z.array(z.string()).max(200) })),
  getPublicUsersReply: defineSubject(
    'users.v1.get-public.reply',
    z.object({ users: z.array(userPublicOnBusSchema) }),
  ),
  /**
   * Core, every few seconds and at once when draining starts: where a chat instance is and how loaded,
   * for the gateway's socket balancing. An announcement older than `ttlMs` means the instance is gone.
   */
  chatInstances: defineSubject(
    'chat.instances',
    z.object({
      id: z.string(),
      url: z.string(),
      sockets: z.number().int().min(0),
      draining: z.boolean(),
      ttlMs: z.number().int().positive(),
    }),
  ),
  /** Request/reply: auth-service answers with the public keys that verify access tokens. */
  jwks: defineSubject(
    'auth.v1.jwks',
    z.object({ keys: z.array(z.object({ kid: z.string() }).passthrough()) }),
  ),
} as const;
