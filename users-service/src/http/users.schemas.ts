import { z } from 'zod';
import {
  blankAsAbsent,
  idSchema,
  passwordSchema,
  roleSchema,
  trimmedText,
  userPublicSchema,
  usernameSchema,
} from '@chat/shared';

/** 1-100 characters after trimming (the trimmed name is what is stored). */
const nameSchema = trimmedText(100, { controlCharacters: true });
const emailSchema = z.email().max(254);
const phoneSchema = z
  .string()
  .regex(/^\+?[0-9][0-9 ().-]{2,31}$/, 'must be a phone number: digits, spaces, "+", "-", ".", "(" and ")"');

/** `POST /api/users`: signup. A `role` (or any other unknown field) is refused. */
export const signupBody = z.strictObject({
  username: usernameSchema,
  password: passwordSchema,
  name: nameSchema.nullish(),
  email: emailSchema.nullish(),
  phone: phoneSchema.nullish(),
});

/** What a `PATCH /api/users/:id` must change at least one of (`currentPassword` alone changes nothing). */
const changeable = ['name', 'email', 'phone', 'password', 'role'] as const;

/**
 * `PATCH /api/users/:id`: `null` clears name, email or phone. The refinements, in the document's words:
 * at least one change, and `currentPassword` only beside `password`.
 */
export const updateUserBody = z
  .strictObject({
    name: nameSchema.nullable().optional(),
    email: emailSchema.nullable().optional(),
    phone: phoneSchema.nullable().optional(),
    password: passwordSchema.optional(),
    currentPassword: z.string().max(128).optional(),
    role: roleSchema.optional(),
  })
  .refine((body) => changeable.some((key) => key in body), {
    message: `must change at least one of ${changeable.join(', ')}`,
  })
  .refine((body) => body.currentPassword === undefined || body.password !== undefined, {
    path: ['currentPassword'],
    message: 'is only accepted with a new password',
  })
  .meta({
    minProperties: 1,
    anyOf: changeable.map((key) => ({ required: [key] })),
    dependentRequired: { currentPassword: ['password'] },
  });

/** `GET /api/users`. */
export const listUsersQuery = z.strictObject({
  limit: blankAsAbsent(z.coerce.number().int().min(1).max(100).default(20)),
  cursor: blankAsAbsent(z.string().max(256).optional()),
  /** A username prefix, any case; compared as a range on the lower-cased username, never as a pattern. */
  q: blankAsAbsent(z.string().max(32).optional()),
});

export const userIdParams = z.strictObject({ id: idSchema });

/** An avatar's version, the `v` of its `avatarUrl`. */
export const avatarQuery = z.object({
  v: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an avatar version'),
});

/** An avatar as it is served. */
export const avatarBody = z.string().describe('The avatar: a square WebP image.');

export const userPageSchema = z.object({
  items: z.array(userPublicSchema),
  nextCursor: z.string().nullable(),
});
