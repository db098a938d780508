import { errorCodeSchema, type ErrorCode, type ErrorDetail, type FieldIssue } from '@chat/protocol';

/**
 * The error catalogue: every error a service raises on purpose has a stable `code` from the protocol's
 * {@link ErrorCode} union. No transport types here: HTTP statuses (`http/error-handler.ts`), socket `error`
 * frames and close codes (chat-service `ws/socket-errors.ts`) and NATS replies (`bus/bus.ts`) are mapped at
 * each edge.
 */
export type { ErrorCode, ErrorDetail, FieldIssue };

/** Base of every deliberate error. `code` is part of the public contract. */
export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly details?: ErrorDetail[];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: ErrorDetail[] } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

export class ValidationError extends AppError {
  override name = 'ValidationError';
  constructor(details: FieldIssue[], message = 'The request is not valid.') {
    super('VALIDATION_FAILED', message, { details });
  }
}

export class InvalidJsonError extends AppError {
  override name = 'InvalidJsonError';
  constructor(message = 'The body is not valid JSON.', cause?: unknown) {
    super('INVALID_JSON', message, { cause });
  }
}

export class PayloadTooLargeError extends AppError {
  override name = 'PayloadTooLargeError';
  constructor(limit: string | number) {
    super('PAYLOAD_TOO_LARGE', `The body is larger than ${limit}.`);
  }
}

export class UnauthenticatedError extends AppError {
  override name = 'UnauthenticatedError';
  constructor(message = 'A valid access token is required.', cause?: unknown) {
    super('UNAUTHENTICATED', message, { cause });
  }
}

export class InvalidCredentialsError extends AppError {
  override name = 'InvalidCredentialsError';
  constructor() {
    super('INVALID_CREDENTIALS', 'Wrong username or password.');
  }
}

export class ForbiddenError extends AppError {
  override name = 'ForbiddenError';
  constructor(message = 'You may not do this.') {
    super('FORBIDDEN', message);
  }
}

/** A per-user cap is reached (the contract's "Limits"): `limit` names it, `value` is its setting. */
export class LimitReachedError extends AppError {
  override name = 'LimitReachedError';
  constructor(limit: string, value: number, message: string) {
    super('LIMIT_REACHED', message, { details: [{ limit, value }] });
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  constructor(what = 'The resource') {
    super('NOT_FOUND', `${what} was not found.`);
  }
}

/** The path exists but not with this method; `allow` lists the methods it has (the `Allow` header). */
export class MethodNotAllowedError extends AppError {
  override name = 'MethodNotAllowedError';
  readonly allow: readonly string[];
  constructor(method: string, path: string, allow: readonly string[]) {
    super('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; allowed: ${allow.join(', ')}.`);
    this.allow = allow;
  }
}

/** A uniqueness conflict: USERNAME_TAKEN, EMAIL_TAKEN, ROOM_NAME_TAKEN. */
export class ConflictError extends AppError {
  override name = 'ConflictError';
  constructor(code: 'USERNAME_TAKEN' | 'EMAIL_TAKEN' | 'ROOM_NAME_TAKEN', message: string) {
    super(code, message);
  }
}

export class RateLimitedError extends AppError {
  override name = 'RateLimitedError';
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, message = 'Too many requests; try again later.') {
    super('RATE_LIMITED', message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/** A dependency (another service, the bus, the database) did not answer in time. */
export class UpstreamUnavailableError extends AppError {
  override name = 'UpstreamUnavailableError';
  constructor(message = 'A service this request needs is unavailable.', cause?: unknown) {
    super('UPSTREAM_UNAVAILABLE', message, { cause });
  }
}

/** The request itself is broken (a body that did not arrive whole, a URL that does not decode). */
export class BadRequestError extends AppError {
  override name = 'BadRequestError';
  constructor(message: string, cause?: unknown) {
    super('BAD_REQUEST', message, { cause });
  }
}

/** A body encoding or charset the server does not decode. */
export class UnsupportedMediaTypeError extends AppError {
  override name = 'UnsupportedMediaTypeError';
  constructor(message = 'The body encoding or charset is not supported.') {
    super('UNSUPPORTED_MEDIA_TYPE', message);
  }
}

/** Something broke on our side; the edge answers INTERNAL with an errorId and logs the cause. */
export class InternalError extends AppError {
  override name = 'InternalError';
  constructor(message = 'Something went wrong on our side.', cause?: unknown) {
    super('INTERNAL', message, { cause });
  }
}

/** A code that came over the wire (a bus reply): known codes as they are, anything else INTERNAL. */
export function toErrorCode(code: unknown): ErrorCode {
  const parsed = errorCodeSchema.safeParse(code);
  return parsed.success ? parsed.data : 'INTERNAL';
}

/** A setting in the environment is missing or wrong; start-up stops with this. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
