import type { IncomingMessage } from 'node:http';
import {
  AppError,
  bearerToken,
  ForbiddenError,
  idSchema,
  NotFoundError,
  UnauthenticatedError,
  UpstreamUnavailableError,
  type AccessClaims,
  type TokenVerification,
} from '@chat/shared';
import type { UserPublic } from '@chat/protocol';
import type { UserDirectory } from '../domain/ports';

/** The path sockets open on (through the gateway: `GET /ws`). */
export const SOCKET_PATH = '/ws';

export interface UpgradeAuthOptions {
  allowedOrigins: readonly string[];
  verification: TokenVerification;
  users: UserDirectory;
}

/** Who an upgrade request is, once it may open a socket. */
export interface SocketIdentity {
  claims: AccessClaims;
  user: UserPublic;
}

/**
 * Decides whether an upgrade request may open a socket, before any socket opens: the path, the origin,
 * the access token (revocations included) and that its user still exists. Throws the AppError the
 * request is refused with; a dependency that fails is UPSTREAM_UNAVAILABLE.
 */
export async function authenticateUpgrade(
  req: IncomingMessage,
  options: UpgradeAuthOptions,
): Promise<SocketIdentity> {
  // A request target such as `//` or `//:99999/ws` is not a path on this base: treat it as any unknown path.
  const url = URL.parse(req.url ?? '/', 'http://chat.invalid') ?? new URL('/invalid', 'http://chat.invalid');
  if (url.pathname !== SOCKET_PATH) throw new NotFoundError(url.pathname);
  if (!originAllowed(req, options.allowedOrigins))
    throw new ForbiddenError('This origin may not open a socket.');
  const token = upgradeToken(req, url);
  if (!token) throw new UnauthenticatedError();
  try {
    const claims = await options.verification.verifier.verify(token);
    if (!idSchema.safeParse(claims.sub).success)
      throw new UnauthenticatedError('The access token is not valid.');
    const user = await options.users.get(claims.sub);
    if (!user) throw new UnauthenticatedError('This user no longer exists.');
    return { claims, user };
  } catch (error) {
    if (error instanceof AppError && error.code === 'UNAUTHENTICATED') throw error;
    throw new UpstreamUnavailableError('A service this socket needs is unavailable.', error);
  }
}

/**
 * Whether a browser page from the request's Origin may open a socket (cross-site WebSocket hijacking).
 * No Origin header: not a browser, allowed (the token still decides). With an allowlist, the origin must be
 * on it; without one, the origin's host must be the host the request was addressed to: `Host`, or the
 * `X-Forwarded-Host` a proxy such as the gateway sets (a browser cannot set that header on a WebSocket).
 */
export function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (allowed.length > 0) return allowed.some((entry) => normalizeOrigin(entry) === parsed.origin);
  const forwarded = firstHeader(req.headers['x-forwarded-host'])?.split(',')[0]?.trim();
  const hosts = [req.headers.host, forwarded].filter((host): host is string => Boolean(host));
  return hosts.some((host) => host.toLowerCase() === parsed.host);
}

function normalizeOrigin(entry: string): string {
  try {
    return new URL(entry).origin;
  } catch {
    return entry;
  }
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The access token of an upgrade request: `?token=` or `Authorization: Bearer`. */
export function upgradeToken(req: IncomingMessage, url: URL): string | undefined {
  return url.searchParams.get('token') || bearerToken(req.headers.authorization);
}
