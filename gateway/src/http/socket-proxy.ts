import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { acceptRequestId, REQUEST_ID_HEADER, type Logger } from '@chat/shared';
import type { ChatUpstreams } from '../upstreams/chat-upstreams';
import { upstreamRequestHeaders } from './headers';

export interface SocketProxyOptions {
  upstreams: ChatUpstreams;
  logger: Logger;
  /** Deadline for an instance to answer the upgrade. */
  timeoutMs: number;
  /** Counts one upgrade against the client's request budget; false when over it. */
  allow: (clientAddress: string) => Promise<boolean>;
  /** Addresses of proxies in front of the gateway to believe (TRUST_PROXY hops). */
  trustProxy: number;
  /**
   * In the one-process run, chat-service's own upgrade handler: sockets are handed to it in process
   * instead of through a loopback connection, so every frame is written once, not twice.
   */
  local?: LocalSockets;
}

/** What takes an upgrade in this process (chat-service's `handleUpgrade`). */
export interface LocalSockets {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** How many instances one upgrade tries before giving up: a dead one must not fail the client. */
const MAX_ATTEMPTS = 3;

/**
 * A refusal written straight onto the socket: there is no HTTP response object for an upgrade. It carries
 * the request's `x-request-id` like every other answer (README, "API").
 */
function refuse(
  socket: Duplex,
  req: IncomingMessage,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify({ error: { code, message } });
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
    [REQUEST_ID_HEADER]: acceptRequestId(req.headers[REQUEST_ID_HEADER]),
    ...extra,
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** The client address as Express computes it with `trust proxy` = `hops`. */
function clientAddress(req: IncomingMessage, hops: number): string {
  const chain = String(req.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  const direct = req.socket.remoteAddress ?? '';
  return hops > 0 && chain.length > 0 ? (chain[Math.max(0, chain.length - hops)] ?? direct) : direct;
}

/**
 * A socket's error listener that holds nothing: a closure made in the upgrade handler would keep its whole
 * scope (the request, its URL with the token, its headers) alive for as long as the socket is open.
 */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

function headerBlock(res: IncomingMessage): string {
  const lines: string[] = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2)
    lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
  return lines.join('\r\n');
}

/**
 * Routes WebSocket upgrades on `/ws` to a chat instance (the least loaded, see ChatUpstreams) and then
 * only moves bytes: frames are never parsed here (or, in one process, hands them to chat-service there). The instance authenticates the upgrade; its refusal
 * (401, 403, 503) reaches the client as it was sent. The URL carries the token, so it is never logged.
 */
export function proxySocketUpgrades(server: http.Server, options: SocketProxyOptions): () => void {
  const { upstreams, logger } = options;
  const open = new Set<Duplex>();

  const onUpgrade = (req: IncomingMessage, client: Duplex, head: Buffer) => {
    client.on('error', destroyOnError);
    // One id for this upgrade, whether the gateway refuses it or an instance answers.
    req.headers[REQUEST_ID_HEADER] = acceptRequestId(req.headers[REQUEST_ID_HEADER]);
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/ws') return refuse(client, req, 404, 'NOT_FOUND', 'Only /ws accepts WebSocket upgrades.');
    const address = clientAddress(req, options.trustProxy);
    void options.allow(address).then(
      (allowed) => {
        if (!allowed)
          return refuse(client, req, 429, 'RATE_LIMITED', 'Too many requests; try again later.', {
            'retry-after': '60',
          });
        if (options.local) return options.local.handleUpgrade(req, client, head);
        attempt(req, client, head, address, new Set());
      },
      () => refuse(client, req, 503, 'UPSTREAM_UNAVAILABLE', 'The chat service is unavailable.'),
    );
  };

  const attempt = (
    req: IncomingMessage,
    client: Duplex,
    head: Buffer,
    address: string,
    tried: Set<string>,
  ) => {
    const origin = tried.size < MAX_ATTEMPTS ? upstreams.pickForSocket(tried) : undefined;
    if (!origin) return refuse(client, req, 503, 'UPSTREAM_UNAVAILABLE', 'The chat service is unavailable.');
    tried.add(origin);
    upstreams.upgradeStarted(origin);
    const target = new URL(origin);
    const requestId = acceptRequestId(req.headers[REQUEST_ID_HEADER]);
    const headers = {
      ...upstreamRequestHeaders(req.headers, {
        for: address,
        proto: (req.socket as Socket & { encrypted?: boolean }).encrypted ? 'https' : 'http',
        host: req.headers.host,
      }),
      connection: 'Upgrade',
      upgrade: 'websocket',
      [REQUEST_ID_HEADER]: requestId,
    };
    const upstreamReq = http.request({
      host: target.hostname,
      port: target.port,
      method: 'GET',
      path: req.url,
      headers,
      timeout: options.timeoutMs,
    });
    let answered = false;
    /** Ends this upgrade's place in the instance's load once, however it ends. */
    const settle = (opened: boolean) => {
      if (answered) return;
      answered = true;
      upstreams.upgradeEnded(origin, opened);
    };
    upstreamReq.on('upgrade', (res, upstream, upstreamHead) => {
      settle(!client.destroyed);
      if (client.destroyed) return void upstream.destroy();
      client.write(`HTTP/1.1 101 Switching Protocols\r\n${headerBlock(res)}\r\n\r\n`);
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (head.length > 0) upstream.write(head);
      open.add(client);
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        open.delete(client);
        upstreams.socketClosed(origin);
        upstream.destroy();
        client.destroy();
      };
      upstream.on('error', close).on('close', close);
      client.on('close', close);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstreamReq.on('response', (res) => {
      settle(false);
      // A refusal: pass the instance's status and JSON body through, then close.
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const kept = Object.entries(res.headers)
          .filter(
            ([name]) => !['connection', 'transfer-encoding', 'content-length', 'keep-alive'].includes(name),
          )
          .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : value}`);
        kept.push(`content-length: ${body.length}`, 'connection: close');
        client.end(
          Buffer.concat([
            Buffer.from(`HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n${kept.join('\r\n')}\r\n\r\n`),
            body,
          ]),
        );
      });
    });
    upstreamReq.on('timeout', () => upstreamReq.destroy(new Error('upgrade timed out')));
    upstreamReq.on('error', (error) => {
      if (answered) return;
      settle(false);
      logger.warn('chat instance did not take a socket', { origin, error: error.message });
      upstreams.markDown(origin);
      if (!client.destroyed) attempt(req, client, head, address, tried);
    });
    client.once('close', () => {
      if (answered) return;
      // The client hung up first: the instance did nothing wrong, so it is not marked down.
      settle(false);
      upstreamReq.destroy();
    });
    upstreamReq.end();
  };

  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const socket of open) socket.destroy();
  };
}
