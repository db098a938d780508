import { z } from 'zod';
import { baseConfigShape, csv, loadConfig } from '@chat/shared';

/** users-service settings: the common ones plus password hashing and who is an admin. */
export const usersConfigShape = {
  ...baseConfigShape,
  PORT: baseConfigShape.PORT.default(3001),
  /** bcrypt work factor: each step doubles the time a hash (and a login) takes. */
  BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(12),
  /** Usernames (any case) that are admins: at signup, and promoted at every start-up if they already exist. */
  ADMIN_USERNAMES: csv.default([]),
};

export type UsersConfig = Readonly<z.infer<z.ZodObject<typeof usersConfigShape>>>;

/** Parses users-service settings from `env`; throws a ConfigError naming every bad one. */
export function loadUsersConfig(env: Record<string, string | undefined>): UsersConfig {
  return loadConfig(usersConfigShape, env);
}
