import type { RequestHandler } from 'express';
import { acceptRequestId, currentRequestId, REQUEST_ID_HEADER, runWithContext } from '../context';
import type { Logger } from '../logger';

/** Echoes or assigns `x-request-id`, and runs the rest of the request inside its context. */
export const requestContext: RequestHandler = (req, res, next) => {
  const requestId = acceptRequestId(req.get(REQUEST_ID_HEADER));
  req.headers[REQUEST_ID_HEADER] = requestId;
  res.set(REQUEST_ID_HEADER, requestId);
  runWithContext({ requestId }, next);
};

/**
 * One `http`-level line per request once it is answered; the logger redacts tokens in query strings.
 * The request id is read now: 'finish' may fire in another request's async context (a proxied body is
 * written from a pooled upstream socket's callbacks). Skipped below `http` level, because winston
 * formats every line before its transports filter by level.
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (!logger.isLevelEnabled('http')) return next();
    const started = process.hrtime.bigint();
    const requestId = currentRequestId();
    res.on('finish', () => {
      logger.http('request', {
        requestId,
        method: req.method,
        url: req.originalUrl,
        status: res.statusCode,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      });
    });
    next();
  };
}
