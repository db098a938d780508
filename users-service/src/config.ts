import { z } from 'zod';
import { baseConfigShape, ConfigError, loadConfig } from '@chat/shared';

const positiveInt = z.coerce.number().int().positive();

/** users-service settings: the common ones plus password hashing, signup limits and avatars. */
export const usersConfigShape = {
  ...baseConfigShape,
  PORT: baseConfigShape.PORT.default(3001),
  /** bcrypt work factor: each step doubles the time a hash (and a login) takes. */
  BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(12),
  /** Signups one client address (an IPv6 client by its /56) may make per hour; past it 429. */
  SIGNUPS_PER_ADDRESS_PER_HOUR: positiveInt.default(200),
  /**
   * New password hashes (signups, password changes) computed at once. bcrypt runs in libuv's threadpool
   * (4 threads by default), so the rest of it stays free for logins whatever a burst of signups does.
   */
  SIGNUP_HASH_CONCURRENCY: positiveInt.max(16).default(1),
  /** Hashes that may wait for a turn; past it a signup answers 503 with Retry-After at once. */
  SIGNUP_QUEUE_MAX: z.coerce.number().int().min(0).default(16),
  /**
   * How long a signup may wait for its turn before it answers 503 with Retry-After, having written nothing.
   * Keep it plus one hash well under the gateway's UPSTREAM_TIMEOUT_MS (10 s by default).
   */
  SIGNUP_QUEUE_TIMEOUT_MS: positiveInt.default(3_000),
  /** Largest avatar upload; the byte past it is refused 413 while the upload streams. The gateway reads it too. */
  AVATAR_MAX_BYTES: positiveInt.default(2_097_152),
  /** Avatar uploads one user may make per hour on one instance (each is decoded); past it 429. */
  AVATAR_UPLOADS_PER_HOUR: positiveInt.default(30),
  /** Pixels an avatar image may have, all frames together; more is refused before anything is decoded. */
  IMAGE_MAX_PIXELS: positiveInt.default(40_000_000),
  /** Gone (issue 9, finding 6): admins are made with `npm run admin -- promote <username>`. */
  ADMIN_USERNAMES: z.string().optional(),
};

export type UsersConfig = Readonly<Omit<z.infer<z.ZodObject<typeof usersConfigShape>>, 'ADMIN_USERNAMES'>>;

/** Parses users-service settings from `env`; throws a ConfigError naming every bad one. */
export function loadUsersConfig(env: Record<string, string | undefined>): UsersConfig {
  const { ADMIN_USERNAMES, ...config } = loadConfig(usersConfigShape, env);
  if (ADMIN_USERNAMES !== undefined) {
    // Refused rather than ignored: an operator who set it expects admins it would no longer make.
    throw new ConfigError(
      'Invalid configuration:\n  ADMIN_USERNAMES: is no longer read (a name in configuration let whoever signed that name up become admin); run `npm run admin -- promote <username>` on the server instead',
    );
  }
  return Object.freeze(config);
}
