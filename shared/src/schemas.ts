import { z } from 'zod';

export {
  errorBodySchema,
  idSchema,
  roleSchema,
  trimmedText,
  userPublicSchema,
  userSchema,
  type Role,
  type User,
  type UserPublic,
} from '@chat/protocol';
import { roleSchema, type User, type UserPublic } from '@chat/protocol';

export const usernameSchema = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, "_", "." and "-"');

export const passwordSchema = z.string().min(8).max(128);

export function toUserPublic(user: User): UserPublic {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    avatarUrl: user.avatarUrl,
    createdAt: user.createdAt,
  };
}

/** The claims of an access token, as every verifier returns them. */
export const accessClaimsSchema = z.object({
  sub: z.string(),
  username: z.string(),
  role: roleSchema,
  sid: z.string(),
  iat: z.number(),
  exp: z.number(),
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
});
export type AccessClaims = z.infer<typeof accessClaimsSchema>;
