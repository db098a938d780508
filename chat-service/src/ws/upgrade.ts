import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { bearerToken } from '@chat/shared';

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

/**
 * Answers an upgrade request with a plain HTTP error in the contract's shape and closes the connection:
 * no socket opens. 401s carry `WWW-Authenticate: Bearer` as everywhere else.
 */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { code, message } });
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(status === 401 ? ['WWW-Authenticate: Bearer'] : []),
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
