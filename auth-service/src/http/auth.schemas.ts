import { z } from 'zod';
import { userSchema } from '@chat/shared';

/**
 * `username` may also be an email, so it is not held to the signup rules; the caps match what
 * users-service accepts on `users.v1.verify-credentials`. Unknown fields are refused (README, "API").
 */
export const loginBodySchema = z.strictObject({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(1024),
});

export const refreshBodySchema = z.strictObject({
  refreshToken: z.string().min(1).max(512),
});

export const tokenPairSchema = z.object({
  accessToken: z.string(),
  /** Opaque; works once: each refresh answers a new one. */
  refreshToken: z.string(),
  tokenType: z.literal('Bearer'),
  /** Seconds until the access token expires. */
  expiresIn: z.number().int(),
});

export const loginResponseSchema = tokenPairSchema.extend({ user: userSchema });

/** A public signing key (RFC 7517, 7518 §6.2). */
export const publicJwkSchema = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string(),
  y: z.string(),
  /** RFC 7638 thumbprint of the key; the `kid` in access-token headers. */
  kid: z.string(),
  alg: z.literal('ES256'),
  use: z.literal('sig'),
});

export const jwksSchema = z.object({ keys: z.array(publicJwkSchema) });
