import type { RequestHandler } from 'express';
import { UpstreamUnavailableError } from '@chat/shared';
import type { UpstreamProxy } from './upstream-proxy';

/** A path prefix and the service behind it. */
export interface UpstreamRoute {
  /** Matches the prefix itself and everything under it (`/api/users`, `/api/users/...`), nothing else. */
  prefix: string;
  /** Largest request body under this prefix, when it is not BODY_LIMIT_BYTES (file uploads). */
  bodyLimitBytes?: number;
  /** Names the service in 503 answers. */
  service: string;
  /** The origin to send this request to, `except` ones already tried, or undefined when none is left. */
  pick(except: ReadonlySet<string>): string | undefined;
  /**
   * For a service of several instances: `origin` refused the connection. The request then goes to another
   * instance when it can be sent again (it has no body; nothing reached the first one either way).
   */
  unreachable?(origin: string): void;
}

/** Instances one request tries at most. */
const MAX_ATTEMPTS = 3;

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
    const tried = new Set<string>();
    const send = (): boolean => {
      const origin = tried.size < MAX_ATTEMPTS ? route.pick(tried) : undefined;
      if (origin === undefined) return false;
      tried.add(origin);
      const { unreachable } = route;
      proxy.forward(req, res, next, {
        origin,
        service: route.service,
        ...(route.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: route.bodyLimitBytes }),
        ...(unreachable && {
          unreachable: (resendable: boolean) => {
            unreachable(origin);
            return resendable && send();
          },
        }),
      });
      return true;
    };
    if (!send()) next(new UpstreamUnavailableError(`No ${route.service} instance is available.`));
  };
}
