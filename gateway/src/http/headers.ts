import type { IncomingHttpHeaders } from 'node:http';

/**
 * Fields that describe one connection, not the message, so a proxy never forwards them
 * (RFC 9110 §7.6.1; Proxy-Authenticate/Proxy-Authorization and Trailer from RFC 7230 §6.1 too).
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request fields the gateway sets itself: the upstream's own Host, the X-Forwarded-* it computed, and
 * Expect, which Node's server already answered with 100 Continue before the request reached us.
 */
const SET_BY_GATEWAY = new Set([
  'host',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);

export type OutgoingHeaders = Record<string, string | string[]>;

/** What the gateway knows about the client, as RFC 7239's de-facto X-Forwarded-* headers carry it. */
export interface ForwardedFor {
  /** The client address after `trust proxy`; services trust one hop (the gateway) and read it back. */
  for?: string;
  proto: string;
  host?: string;
}

/** The fields a message carries on to the next hop: no hop-by-hop ones, nor any that Connection names. */
function endToEnd(headers: IncomingHttpHeaders, alsoDrop?: ReadonlySet<string>): OutgoingHeaders {
  const named = connectionOptions(headers.connection);
  const out: OutgoingHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name) || alsoDrop?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Connection lists more fields that are hop-by-hop for this message (RFC 9110 §7.6.1). */
function connectionOptions(connection: string | undefined): Set<string> | undefined {
  if (!connection) return undefined;
  return new Set(connection.split(',').map((option) => option.trim().toLowerCase()));
}

/** Headers for the upstream request: the client's end-to-end fields plus X-Forwarded-For/Proto/Host. */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  forwarded: ForwardedFor,
): OutgoingHeaders {
  const out = endToEnd(headers, SET_BY_GATEWAY);
  if (forwarded.for) out['x-forwarded-for'] = forwarded.for;
  out['x-forwarded-proto'] = forwarded.proto;
  if (forwarded.host) out['x-forwarded-host'] = forwarded.host;
  return out;
}

/** Headers for the client's response: the upstream's end-to-end fields, unchanged. */
export function clientResponseHeaders(headers: IncomingHttpHeaders): OutgoingHeaders {
  return endToEnd(headers);
}
