import type { Request, RequestHandler } from 'express';
import cors from 'cors';
import { ipKeyGenerator, rateLimit, MemoryStore, type RateLimitInfo } from 'express-rate-limit';
import helmet from 'helmet';
import { BadRequestError, RateLimitedError, UnsupportedMediaTypeError, type Logger } from '@chat/shared';

/**
 * A percent-encoding that does not decode is refused here with 400, before it reaches a service's router
 * (where decoding a path parameter throws, which the services would answer with a 500) or the static
 * file handler.
 */
export const rejectMalformedUrl: RequestHandler = (req, _res, next) => {
  try {
    decodeURIComponent(req.path);
  } catch {
    next(new BadRequestError('The URL is not valid: its percent-encoding does not decode.'));
    return;
  }
  next();
};

/**
 * Request bodies travel as sent: one with a Content-Encoding other than identity is refused here with 415,
 * as every service would refuse it, before anything is streamed upstream (issue 9, finding 4).
 */
export const rejectEncodedBody: RequestHandler = (req, _res, next) => {
  const encoding = req.get('content-encoding')?.trim().toLowerCase();
  const hasBody = req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
  if (hasBody && encoding && encoding !== 'identity') {
    next(new UnsupportedMediaTypeError('Request bodies are accepted without a Content-Encoding only.'));
    return;
  }
  next();
};

/**
 * helmet's defaults for a JSON API that also serves a same-origin single-page client which talks
 * WebSocket to the same host. Not upgrade-insecure-requests: a plain-HTTP local run must keep working.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        connectSrc: ["'self'", 'ws:', 'wss:'],
        upgradeInsecureRequests: null,
      },
    },
  });
}

/**
 * Cross-origin access for the listed origins only. Others get no CORS headers, so browsers keep
 * their responses from the calling page; same-origin pages need none.
 */
export function corsPolicy(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: ['x-request-id', 'retry-after', 'www-authenticate'],
    maxAge: 600,
  });
}

/**
 * A per-client-address limit on every request; its store is stopped with the app. `allow` counts a
 * WebSocket upgrade, which never passes through express, against the same budget.
 */
export function clientRateLimit(
  perMinute: number,
  logger: Logger,
): { handler: RequestHandler; store: MemoryStore; allow: (address: string) => Promise<boolean> } {
  const store = new MemoryStore();
  const handler = rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    store,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    logger: {
      error: (error, message) => logger.error(message ?? 'rate limiter error', { error }),
      warn: (error, message) => logger.warn(message ?? 'rate limiter warning', { error }),
    },
    handler: (req, _res, next) => {
      const info = (req as Request & { rateLimit?: RateLimitInfo }).rateLimit;
      const resetTime = info?.resetTime?.getTime() ?? Date.now() + 60_000;
      next(new RateLimitedError((resetTime - Date.now()) / 1000));
    },
  });
  const allow = async (address: string) =>
    (await store.increment(ipKeyGenerator(address))).totalHits <= perMinute;
  return { handler, store, allow };
}
