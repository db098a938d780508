import {
  Closers,
  createBus,
  createLogger,
  createServiceApp,
  busReadiness,
  healthRouter,
  listen,
  metricsRouter,
  natsConnectionOf,
  startTokenVerification,
  type Bus,
  type Logger,
  type ServiceApp,
  withDeadline,
} from '@chat/shared';
import type { AuthConfig } from './config';
import { AccessTokenSigner } from './domain/access-token';
import { AuthService } from './domain/auth.service';
import { KeyRing } from './domain/key-ring';
import { LoginLimiter } from './domain/login-limiter';
import { loadSigningKey } from './domain/signing-key';
import { busAccountResolver, busCredentialsChecker } from './bus/credentials.client';
import { serveJwks } from './bus/jwks.responder';
import { sessionEndedAnnouncer } from './bus/session-events';
import { consumeUserEvents } from './bus/user-events.consumer';
import { authRouter } from './http/auth.router';
import { authRoutes } from './http/auth.routes';
import { openEmbeddedAuthStores } from './store/auth.store.embedded';
import { openMongoAuthStores } from './store/auth.store.mongo';

export interface AuthAppDeps {
  /** A bus shared with other services in one process; the app then leaves closing it to its owner. */
  bus?: Bus;
  logger?: Logger;
}

/**
 * auth-service: the store (MongoDB when MONGO_URL is set, else NeDB under DATA_DIR), the bus, the signing
 * key, token verification for logout, the JWKS responder, the user-event consumer and the HTTP server.
 * `stop()` closes them in the reverse order, within SHUTDOWN_TIMEOUT_MS.
 */
export function createApp(config: AuthConfig, deps: AuthAppDeps = {}): ServiceApp {
  const logger = deps.logger ?? createLogger('auth-service', config.LOG_LEVEL);
  const closers = new Closers('auth-service');

  return {
    logger,

    async start() {
      try {
        const stores = config.MONGO_URL
          ? await openMongoAuthStores(config.MONGO_URL, logger)
          : await openEmbeddedAuthStores(config.DATA_DIR);
        closers.push(() => stores.close());

        const bus =
          deps.bus ?? (await createBus({ ...natsConnectionOf(config), name: 'auth-service', logger }));
        if (!deps.bus) closers.push(() => bus.close());

        const keys = new KeyRing(await loadSigningKey(config.signingKey, stores.signingKeys));
        logger.info('signing key ready', {
          kid: keys.current.kid,
          source: config.signingKey ? 'config' : 'store',
        });

        // Its own tokens are verified with its own keys: logout must not depend on a bus round trip.
        const verification = await startTokenVerification({
          bus,
          logger,
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          windowSeconds: config.REVOCATION_WINDOW_SECONDS,
          keys,
        });
        closers.push(() => verification.stop());

        const jwks = serveJwks(bus, keys);
        closers.push(() => jwks.unsubscribe());

        const auth = new AuthService({
          sessions: stores.sessions,
          limiter: new LoginLimiter(stores.loginFailures, {
            failuresBeforeBackoff: config.LOGIN_FAILURES_BEFORE_BACKOFF,
            backoffBaseSeconds: config.LOGIN_BACKOFF_BASE_SECONDS,
            backoffMaxSeconds: config.LOGIN_BACKOFF_MAX_SECONDS,
            backoffWindowSeconds: config.LOGIN_BACKOFF_WINDOW_SECONDS,
            maxFailuresPerAddress: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
            addressWindowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
          }),
          signer: new AccessTokenSigner(keys, {
            issuer: config.JWT_ISSUER,
            audience: config.JWT_AUDIENCE,
            ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
          }),
          checkCredentials: busCredentialsChecker(bus, logger),
          resolveAccount: busAccountResolver(bus),
          announceSessionEnded: sessionEndedAnnouncer(bus, verification.revocations),
          refreshTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
          logger,
        });

        const userEvents = await consumeUserEvents(bus, auth, logger);
        closers.push(() => userEvents.unsubscribe());

        const http = await listen(
          createServiceApp({
            logger,
            trustProxy: config.TRUST_PROXY,
            described: authRoutes,
            routes: [
              healthRouter({ store: () => stores.ping(), ...busReadiness(bus, verification) }),
              metricsRouter({ token: config.METRICS_TOKEN }),
              authRouter({ auth, verifier: verification.verifier, keys }),
            ],
          }),
          config.PORT,
          config.HOST,
        );
        closers.push(() => http.close(config.SHUTDOWN_TIMEOUT_MS / 2));
        return { url: http.url };
      } catch (error) {
        return closers.abandon(error, logger);
      }
    },

    async stop() {
      await withDeadline(closers.closeAll(), config.SHUTDOWN_TIMEOUT_MS, 'auth-service stop');
    },
  };
}
