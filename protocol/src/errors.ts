import { z } from 'zod';

/**
 * Every error code a client can see, over REST, in a socket `error` frame or in an upgrade refusal.
 * Services map each to an HTTP status in one table (`@chat/shared` `httpStatusByCode`); nothing else is sent.
 */
export const errorCodes = [
  'BAD_REQUEST',
  'VALIDATION_FAILED',
  'INVALID_JSON',
  'UNAUTHENTICATED',
  'INVALID_CREDENTIALS',
  'FORBIDDEN',
  'LIMIT_REACHED',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'USERNAME_TAKEN',
  'EMAIL_TAKEN',
  'ROOM_NAME_TAKEN',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'RATE_LIMITED',
  'UPSTREAM_UNAVAILABLE',
  'INTERNAL',
] as const;
export const errorCodeSchema = z.enum(errorCodes);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

/** One field that failed validation, as clients see it in `error.details` of VALIDATION_FAILED. */
export const fieldIssueSchema = z.object({ path: z.string(), message: z.string() });
export type FieldIssue = z.infer<typeof fieldIssueSchema>;

/** The cap that was reached, in `error.details` of LIMIT_REACHED: its name and its setting. */
export const limitDetailSchema = z.object({ limit: z.string(), value: z.number() });
export type LimitDetail = z.infer<typeof limitDetailSchema>;

export const errorDetailSchema = z.union([fieldIssueSchema, limitDetailSchema]);
export type ErrorDetail = z.infer<typeof errorDetailSchema>;

/** What an error says, over REST (inside `{error}`) and on a socket (inside the `error` event). */
export const errorShape = {
  code: errorCodeSchema,
  message: z.string(),
  details: z.array(errorDetailSchema).optional(),
  /** Only on INTERNAL: the id under which the server logged what went wrong. */
  errorId: z.string().optional(),
};

/** The body of every REST error answer and of every refused socket upgrade. */
export const errorBodySchema = z.object({ error: z.object(errorShape) });
export type ErrorBody = z.infer<typeof errorBodySchema>;
