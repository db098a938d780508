import { z } from 'zod';

/** Ids are opaque strings to clients; ours are UUIDs, but nothing may rely on that. */
export const idSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be an id');

export const roleSchema = z.enum(['user', 'admin']);
export type Role = z.infer<typeof roleSchema>;

export const usernameSchema = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, "_", "." and "-"');

export const passwordSchema = z.string().min(8).max(128);

/** The full view of a user: for the user themselves and for admins. */
export const userSchema = z.object({
  id: z.string(),
  username: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  role: roleSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type User = z.infer<typeof userSchema>;

/** What anyone signed in may see of another user. */
export const userPublicSchema = z.object({
  id: z.string(),
  username: z.string(),
  name: z.string().nullable(),
  createdAt: z.string(),
});
export type UserPublic = z.infer<typeof userPublicSchema>;

export function toUserPublic(user: User): UserPublic {
  return { id: user.id, username: user.username, name: user.name, createdAt: user.createdAt };
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

/** The error body every edge answers with (api-contract.md, Conventions). */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    errorId: z.string().optional(),
  }),
});
