import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  AppError,
  httpStatusByCode,
  InvalidJsonError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
} from '../errors';
import type { Logger } from '../logger';

/** body-parser's own errors carry a `type`; these are the ones a client causes. */
function fromBodyParser(error: { type?: unknown; limit?: unknown; status?: unknown }): AppError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      return new InvalidJsonError(error);
    case 'entity.too.large':
      return new PayloadTooLargeError(typeof error.limit === 'number' ? `${error.limit} bytes` : 'the limit');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'The body encoding or charset is not supported.');
    case 'request.aborted':
    case 'request.size.invalid':
      return new AppError('BAD_REQUEST', 'The body did not arrive whole.');
    default:
      return undefined;
  }
}

/** The body of every error answer (api-contract.md): never a stack trace. */
export function errorBody(code: string, message: string, extra: Record<string, unknown> = {}) {
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
          ? new AppError('BAD_REQUEST', 'The URL is not valid percent-encoding.')
          : error && typeof error === 'object'
            ? fromBodyParser(error as Record<string, unknown>)
            : undefined;
    const status = known
      ? (httpStatusByCode[known.code] ?? (known.code === 'BAD_REQUEST' ? 400 : undefined))
      : undefined;
    if (!known || status === undefined) {
      const errorId = randomUUID();
      logger.error('request failed', { errorId, error });
      res.status(500).json(errorBody('INTERNAL', 'Something went wrong on our side.', { errorId }));
      return;
    }
    if (status === 401) res.set('WWW-Authenticate', 'Bearer');
    if (known instanceof RateLimitedError) res.set('Retry-After', String(known.retryAfterSeconds));
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
