import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import type { TrustProxy } from '../config';
import type { Logger } from '../logger';
import { accessLog, requestContext } from './request-context';
import { errorHandler, notFoundHandler } from './error-handler';
import { allowedMethods } from './methods';
import type { RouteDescription } from './route-description';

/** What every service serves beside its own routes (`healthRouter`, `metricsRouter`). */
export const probeRoutes: readonly Pick<RouteDescription, 'method' | 'path'>[] = [
  { method: 'get', path: '/healthz' },
  { method: 'get', path: '/readyz' },
  { method: 'get', path: '/metrics' },
];

export interface ServiceAppOptions {
  logger: Logger;
  /** Largest JSON body accepted; larger answers 413. */
  bodyLimit?: string;
  /** Mounted in order after the common middleware, before the 404 and error handlers. */
  routes: RequestHandler[];
  /** Routes that stream their request bodies themselves (file uploads): mounted before the JSON parser. */
  uploads?: RequestHandler[];
  /**
   * Express `trust proxy` (TRUST_PROXY): which proxies in front (the gateway) are believed about the client
   * address, as a hop count or a list of addresses and subnets. Default 0: the peer is the client, so a
   * client reaching the service directly cannot pick its address with `X-Forwarded-For` (issue 9, finding 9).
   */
  trustProxy?: TrustProxy;
  /**
   * The service's own routes as its OpenAPI description lists them: on their paths and the probes', a
   * method not listed answers 405 with `Allow`, and OPTIONS lists what is (`allowedMethods`).
   */
  described?: readonly Pick<RouteDescription, 'method' | 'path'>[];
}

/** An express app with the common edge: request ids, access log, strict JSON, 404 and error shape. */
export function createServiceApp(options: ServiceAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? 0);
  app.use(requestContext, accessLog(options.logger));
  if (options.described) app.use(allowedMethods([...probeRoutes, ...options.described]));
  // Bodies are read as sent: a Content-Encoding other than identity is 415 UNSUPPORTED_MEDIA_TYPE (never
  // inflated, so no decompression bomb and no 500 for a "gzip" body that is not gzip; issue 9, finding 4).
  for (const route of options.uploads ?? []) app.use(route);
  app.use(express.json({ limit: options.bodyLimit ?? '64kb', strict: true, inflate: false }));
  for (const route of options.routes) app.use(route);
  app.use(notFoundHandler);
  app.use(errorHandler(options.logger));
  return app;
}

/** A listening HTTP server and how to stop it. */
export interface RunningServer {
  server: http.Server;
  port: number;
  url: string;
  /** Stops accepting, lets open requests finish until `deadlineMs`, then closes every connection. */
  close(deadlineMs?: number): Promise<void>;
}

/**
 * Connections the kernel may hold for the server before it accepts them (it caps this at
 * `net.core.somaxconn`, 4096 on current Linux). Node's default, 511, overflows when thousands of clients
 * reconnect at once (an instance restarted): the kernel drops their SYNs and they retry after 1, 3, 7 s...
 */
const LISTEN_BACKLOG = 4096;

export async function listen(
  handler: http.RequestListener,
  port: number,
  host = '0.0.0.0',
): Promise<RunningServer> {
  const server = http.createServer(handler);
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    server,
    port: bound,
    url: `http://${urlHost}:${bound}`,
    close: (deadlineMs = 5_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), deadlineMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
