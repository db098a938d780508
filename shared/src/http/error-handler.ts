import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { ErrorCode } from '@chat/protocol';
import {
  AppError,
  BadRequestError,
  InvalidJsonError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UnsupportedMediaTypeError,
} from '../errors';
import type { Logger } from '../logger';
import { storeUnavailable } from '../store/mongo';

/** The HTTP status of every error code: the one table (socket upgrades refused in plain HTTP use it too). */
export const httpStatusByCode: Readonly<Record<ErrorCode, number>> = Object.freeze({
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  LIMIT_REACHED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  USERNAME_TAKEN: 409,
  EMAIL_TAKEN: 409,
  ROOM_NAME_TAKEN: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UPSTREAM_UNAVAILABLE: 503,
});

/** What a 503 asks the client to wait: outages we answer 503 for are measured in seconds. */
const RETRY_UNAVAILABLE_SECONDS = 2;

/**
 * body-parser's own errors carry a `type`; these are the ones a client causes. Anything else it passes on
 * as a client error (an `http-errors` 4xx with `expose`, such as a body that does not decode) is still the
 * client's: 400, or 413 / 415 when that is what it says, never a 500 (issue 9, finding 4).
 */
function fromBodyParser(error: {
  type?: unknown;
  limit?: unknown;
  status?: unknown;
  expose?: unknown;
}): AppError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      return new InvalidJsonError(undefined, error);
    case 'entity.too.large':
      return new PayloadTooLargeError(typeof error.limit === 'number' ? `${error.limit} bytes` : 'the limit');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError();
    case 'request.aborted':
    case 'request.size.invalid':
      return new BadRequestError('The body did not arrive whole.');
    default:
      break;
  }
  if (error.expose !== true || typeof error.status !== 'number') return undefined;
  if (error.status === 413) return new PayloadTooLargeError('the limit');
  if (error.status === 415) return new UnsupportedMediaTypeError();
  if (error.status >= 400 && error.status < 500)
    return new BadRequestError('The body could not be read.', error);
  return undefined;
}

/** The body of every error answer (README, "Errors"): never a stack trace. */
export function errorBody(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message, ...extra } };
}

/**
 * The one place an error becomes an HTTP answer. Client mistakes keep their code and message;
 * anything else is logged with an errorId and answered 500 INTERNAL with that id only.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) return next(error);
    const known =
      error instanceof AppError
        ? error
        : error instanceof URIError
          ? new BadRequestError('The URL is not valid percent-encoding.')
          : error && typeof error === 'object'
            ? (storeUnavailable(error) ?? fromBodyParser(error as Record<string, unknown>))
            : undefined;
    if (!known || known.code === 'INTERNAL') {
      const errorId = randomUUID();
      logger.error('request failed', { errorId, error });
      res.status(500).json(errorBody('INTERNAL', 'Something went wrong on our side.', { errorId }));
      return;
    }
    const status = httpStatusByCode[known.code];
    if (status === 401) res.set('WWW-Authenticate', 'Bearer');
    if (known instanceof RateLimitedError) res.set('Retry-After', String(known.retryAfterSeconds));
    if (known instanceof MethodNotAllowedError) res.set('Allow', known.allow.join(', '));
    if (status === 503) res.set('Retry-After', String(RETRY_UNAVAILABLE_SECONDS));
    if (status >= 500)
      logger.warn('request answered with an upstream error', { code: known.code, error: known.cause });
    res
      .status(status)
      .json(errorBody(known.code, known.message, known.details ? { details: known.details } : {}));
  };
}

/** 404 in the contract's shape for every path no router claimed. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`${req.method} ${req.path}`));
};
