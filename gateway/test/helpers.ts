import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createApp, loadGatewayConfig, type GatewayDeps } from '@chat/gateway';

/** What a stand-in service saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** False when the request body never arrived whole (the gateway or the client cut it). */
  complete: boolean;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** A stand-in for a service: a real HTTP server on port 0 that records every request. */
export interface Upstream {
  url: string;
  seen: SeenRequest[];
  /** Replaces how it answers; the default answers 200 `{service, method, url}` (and 200 on the probes). */
  answer(handler: UpstreamHandler): void;
  close(): Promise<void>;
}

export async function startUpstream(service: string): Promise<Upstream> {
  const fallback: UpstreamHandler = (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ service, method: req.method, url: req.url }));
  };
  let handler = fallback;
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    const record = (complete: boolean) => {
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        complete,
      };
      seen.push(entry);
      return entry;
    };
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => record(false));
    req.on('end', () => {
      const entry = record(true);
      if (req.url === '/healthz' || req.url === '/readyz') return fallback(req, res, entry.body);
      handler(req, res, entry.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    answer: (next) => {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An origin where nothing listens: a port that was just free. */
export async function closedOrigin(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** Starts a gateway on port 0 with `env` over test defaults; returns its URL and how to stop it. */
export async function startGateway(env: Record<string, string>, deps: GatewayDeps = {}) {
  const app = createApp(
    loadGatewayConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'error', ...env }),
    deps,
  );
  const { url } = await app.start();
  return { url, stop: () => app.stop() };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): unknown;
}

export interface SendOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  /** Sent with Content-Length; give `chunks` instead for Transfer-Encoding: chunked. */
  body?: string | Buffer;
  chunks?: Buffer[];
}

/**
 * One raw HTTP/1.1 request on a fresh connection (node:http, not fetch: fetch refuses hop-by-hop
 * headers and normalises what these tests need to send as is).
 */
export function send(base: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(new Error('the response was cut short'));
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.on('error', reject);
    if (options.chunks) {
      for (const chunk of options.chunks) req.write(chunk);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

/** The contract's error body with `code`. */
export function errorWith(code: string) {
  return { error: expect.objectContaining({ code, message: expect.any(String) }) };
}

/**
 * Writes `text` as is on a new connection and resolves with everything the server sends until it closes
 * the connection (the request should ask for that, or be one the server refuses).
 */
export function rawExchange(base: string, text: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}
