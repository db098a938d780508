import { z } from 'zod';
import { idSchema, passwordSchema, roleSchema, userPublicSchema, usernameSchema } from '@chat/shared';

const nameSchema = z.string().trim().min(1).max(100);
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

/** `PATCH /api/users/:id`: `null` clears name, email or phone. */
export const updateUserBody = z
  .strictObject({
    name: nameSchema.nullable().optional(),
    email: emailSchema.nullable().optional(),
    phone: phoneSchema.nullable().optional(),
    password: passwordSchema.optional(),
    currentPassword: z.string().max(128).optional(),
    role: roleSchema.optional(),
  })
  .refine((body) => ['name', 'email', 'phone', 'password', 'role'].some((key) => key in body), {
    message: 'must change at least one of name, email, phone, password, role',
  })
  .refine((body) => body.currentPassword === undefined || body.password !== undefined, {
    path: ['currentPassword'],
    message: 'is only accepted with a new password',
  });

/** Query strings arrive as `key=` for an empty value; that means "not given". */
const blankAsAbsent = (value: unknown) => (value === '' ? undefined : value);

/** `GET /api/users`. */
export const listUsersQuery = z.strictObject({
  limit: z.preprocess(blankAsAbsent, z.coerce.number().int().min(1).max(100).default(20)),
  cursor: z.preprocess(blankAsAbsent, z.string().max(256).optional()),
  /** A username prefix, any case; compared as a range on the lower-cased username, never as a pattern. */
  q: z.preprocess(blankAsAbsent, z.string().max(32).optional()),
});

export const userIdParams = z.strictObject({ id: idSchema });

export const userPageSchema = z.object({
  items: z.array(userPublicSchema),
  nextCursor: z.string().nullable(),
});
