/**
 * The error catalogue: every error a service raises on purpose has a stable `code`.
 * No transport types here: HTTP statuses, WebSocket close codes and NATS replies are mapped at each edge.
 */

/** One field that failed validation, as clients see it in `error.details`. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Base of every deliberate error. `code` is SNAKE_CASE and part of the public contract. */
export class AppError extends Error {
  override name = 'AppError';
  readonly code: string;
  readonly details?: FieldIssue[];

  constructor(code: string, message: string, options: { cause?: unknown; details?: FieldIssue[] } = {}) {
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
  constructor(cause?: unknown) {
    super('INVALID_JSON', 'The body is not valid JSON.', { cause });
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

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  constructor(what = 'The resource') {
    super('NOT_FOUND', `${what} was not found.`);
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

/** A setting in the environment is missing or wrong; start-up stops with this. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Codes whose errors a client caused, with the HTTP status each maps to. Anything else is a 500. */
export const httpStatusByCode: Readonly<Record<string, number>> = Object.freeze({
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  USERNAME_TAKEN: 409,
  EMAIL_TAKEN: 409,
  ROOM_NAME_TAKEN: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  UPSTREAM_UNAVAILABLE: 503,
});
