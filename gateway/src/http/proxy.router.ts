import type { RequestHandler } from 'express';
import { UpstreamUnavailableError } from '@chat/shared';
import type { UpstreamProxy } from './upstream-proxy';

/** A path prefix and the service behind it. */
export interface UpstreamRoute {
  /** Matches the prefix itself and everything under it (`/api/users`, `/api/users/...`), nothing else. */
  prefix: string;
  /** Names the service in 503 answers. */
  service: string;
  /** The origin to send this request to, or undefined when none is known. */
  pick(): string | undefined;
}

/** True when `path` is `prefix` or lies under it; `/api/usersX` is not under `/api/users`. */
function isUnder(path: string, prefix: string): boolean {
  return path === prefix || (path.startsWith(prefix) && path[prefix.length] === '/');
}

/** Sends each request whose path falls under a route's prefix to that route's upstream. */
export function proxyRouter(routes: readonly UpstreamRoute[], proxy: UpstreamProxy): RequestHandler {
  return (req, res, next) => {
    const route = routes.find((candidate) => isUnder(req.path, candidate.prefix));
    if (!route) {
      next();
      return;
    }
    const origin = route.pick();
    if (origin === undefined) {
      next(new UpstreamUnavailableError(`No ${route.service} instance is available.`));
      return;
    }
    proxy.forward(req, res, next, { origin, service: route.service });
  };
}
