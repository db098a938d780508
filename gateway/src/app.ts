import express, { type Express } from 'express';
import {
  accessLog,
  allowedMethods,
  createBus,
  createLogger,
  errorHandler,
  healthRouter,
  listen,
  metricsRouter,
  natsConnectionOf,
  notFoundHandler,
  requestContext,
  type Bus,
  type Logger,
  type ReadinessCheck,
  type RunningServer,
  type ServiceApp,
  type Subscription,
} from '@chat/shared';
import type { GatewayConfig } from './config';
import { docsRouter } from './http/docs.router';
import { gatewayRoutes } from './http/gateway.routes';
import { webClient } from './http/web-client';
import {
  clientRateLimit,
  corsPolicy,
  rejectEncodedBody,
  rejectMalformedUrl,
  securityHeaders,
} from './http/edge';
import { proxyRouter, type UpstreamRoute } from './http/proxy.router';
import { proxySocketUpgrades, type LocalSockets } from './http/socket-proxy';
import { UpstreamProxy } from './http/upstream-proxy';
import { ChatUpstreams, originAllowlist } from './upstreams/chat-upstreams';

/** What the one-process run may hand the gateway instead of letting it build its own. */
export interface GatewayDeps {
  /**
   * A bus shared with the other services, on which chat instances announce themselves; the gateway does
   * not close a bus it is given. Without one it connects to NATS_URL when set, else knows only CHAT_URLS.
   */
  bus?: Bus;
  logger?: Logger;
  /** chat-service in the same process: WebSocket upgrades go to it directly (REST still uses CHAT_URLS). */
  localSockets?: LocalSockets;
}

/**
 * What a multipart upload may add to its file (boundaries, part headers, small fields): the gateway lets an
 * attachment this much past ATTACHMENT_MAX_BYTES (an avatar past AVATAR_MAX_BYTES) through, and the service
 * holds the file to the exact cap.
 */
const UPLOAD_ENVELOPE_BYTES = 16 * 1024;

/** How long `/readyz` waits for each upstream's `/readyz`. */
const READINESS_TIMEOUT_MS = 1_000;

/**
 * The gateway: one HTTP edge in front of the services. It sets request ids, security headers, CORS and
 * a per-client rate limit, and streams `/api/*` to the service that owns each prefix. It verifies no
 * tokens (services do) and parses no bodies.
 */
export function createApp(config: GatewayConfig, deps: GatewayDeps = {}): ServiceApp {
  const logger = deps.logger ?? createLogger('gateway', config.LOG_LEVEL);
  const proxy = new UpstreamProxy({
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    logger,
  });
  const chat = new ChatUpstreams(config.CHAT_URLS, Date.now, originAllowlist(config.CHAT_URL_ALLOW));
  const chatRoute = {
    service: 'chat',
    pick: (except: ReadonlySet<string>) => chat.pick(except),
    unreachable: (origin: string) => chat.markDown(origin),
  };
  const usersRoute = { service: 'users', pick: () => config.USERS_URL };
  // First match wins: a user's blocks live in chat-service, which enforces them, under users' prefix; an
  // avatar upload may be larger than BODY_LIMIT_BYTES, every other users route may not.
  const routes: UpstreamRoute[] = [
    { prefix: '/api/users/me/blocks', ...chatRoute },
    {
      prefix: '/api/users/me/avatar',
      ...usersRoute,
      bodyLimitBytes: config.AVATAR_MAX_BYTES + UPLOAD_ENVELOPE_BYTES,
    },
    { prefix: '/api/users', ...usersRoute },
    { prefix: '/api/auth', service: 'auth', pick: () => config.AUTH_URL },
    { prefix: '/api/rooms', ...chatRoute },
    { prefix: '/api/direct', ...chatRoute },
    {
      prefix: '/api/attachments',
      ...chatRoute,
      bodyLimitBytes: config.ATTACHMENT_MAX_BYTES + UPLOAD_ENVELOPE_BYTES,
    },
    { prefix: '/api/announcements', ...chatRoute },
  ];
  const probeTimeoutMs = Math.min(READINESS_TIMEOUT_MS, config.UPSTREAM_TIMEOUT_MS);
  const checks: Record<string, ReadinessCheck> = {
    users: () => proxy.probe(config.USERS_URL, probeTimeoutMs),
    auth: () => proxy.probe(config.AUTH_URL, probeTimeoutMs),
  };
  // Chat is ready when one instance answers: that is enough to route every chat request.
  if (chat.all().length > 0) {
    checks.chat = async () =>
      (
        await Promise.all(chat.all().map((origin) => proxy.probe(origin, probeTimeoutMs).catch(() => false)))
      ).some(Boolean);
  }
  const limiter = clientRateLimit(config.RATE_LIMIT_PER_MINUTE, logger);

  const app: Express = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.TRUST_PROXY);
  app.use(requestContext, accessLog(logger), securityHeaders());
  // The gateway's own paths have the methods its routes declare (405 with Allow otherwise); a proxied
  // path's service answers that for its own.
  app.use(allowedMethods(gatewayRoutes));
  // Probes and metrics come before the rate limit: an orchestrator or a scraper polling them must not use up
  // a client's budget. /metrics is the gateway's own (in the one-process run, the whole process's), never proxied.
  app.use(healthRouter(checks, probeTimeoutMs + 500), metricsRouter({ token: config.METRICS_TOKEN }));
  // CORS first so a browser can read even a 429 or a 400; nothing up to the URL check decodes the path.
  app.use(corsPolicy(config.CORS_ORIGINS), limiter.handler, rejectMalformedUrl, rejectEncodedBody);
  app.use(docsRouter(config.OPENAPI_FILE));
  app.use(proxyRouter(routes, proxy));
  if (config.WEB_DIR) app.use(webClient(config.WEB_DIR));
  app.use(notFoundHandler);
  app.use(errorHandler(logger));

  let server: RunningServer | undefined;
  let ownBus: Bus | undefined;
  let announcements: Subscription | undefined;
  let stopSockets: (() => void) | undefined;
  return {
    logger,
    async start() {
      ownBus =
        deps.bus || !config.NATS_URL
          ? undefined
          : await createBus({ ...natsConnectionOf(config), name: 'gateway', logger });
      const bus = deps.bus ?? ownBus;
      if (bus) announcements = chat.follow(bus, logger);
      server = await listen(app, config.PORT, config.HOST);
      stopSockets = proxySocketUpgrades(server.server, {
        upstreams: chat,
        logger,
        timeoutMs: config.UPSTREAM_TIMEOUT_MS,
        allow: limiter.allow,
        trustProxy: config.TRUST_PROXY,
        ...(deps.localSockets ? { local: deps.localSockets } : {}),
      });
      return { url: server.url };
    },
    async stop() {
      stopSockets?.();
      await server?.close(config.SHUTDOWN_TIMEOUT_MS);
      server = undefined;
      await announcements?.unsubscribe();
      await ownBus?.close();
      await proxy.close();
      await limiter.store.shutdown();
    },
  };
}
