import {
  Closers,
  createBus,
  createLogger,
  createServiceApp,
  busReadiness,
  healthRouter,
  listen,
  metricsRouter,
  startTokenVerification,
  type Bus,
  type Logger,
  type ServiceApp,
  withDeadline,
} from '@chat/shared';
import type { UsersConfig } from './config';
import { createPasswordHasher } from './domain/password-hasher';
import { UsersService } from './domain/users.service';
import { busUserEvents } from './bus/user-events.bus';
import { serveUserRequests } from './bus/users.responders';
import { usersRouter } from './http/users.router';
import { MongoUserStore } from './store/user.store.mongo';
import { EmbeddedUserStore } from './store/user.store.embedded';

export interface UsersAppDeps {
  /** A bus shared with other services in one process; the app then leaves closing it to its owner. */
  bus?: Bus;
  logger?: Logger;
}

/**
 * users-service: the store (MongoDB when MONGO_URL is set, else NeDB under DATA_DIR), the bus, token
 * verification, the bus responders and the HTTP server. `stop()` closes them in the reverse order.
 */
export function createApp(config: UsersConfig, deps: UsersAppDeps = {}): ServiceApp {
  const logger = deps.logger ?? createLogger('users-service', config.LOG_LEVEL);
  const closers = new Closers('users-service');

  return {
    logger,

    async start() {
      try {
        const store = config.MONGO_URL
          ? await MongoUserStore.open(config.MONGO_URL, logger)
          : await EmbeddedUserStore.open(config.DATA_DIR);
        closers.push(() => store.close());

        const bus =
          deps.bus ??
          (await createBus({
            natsUrl: config.NATS_URL,
            name: 'users-service',
            logger,
            streamReplicas: config.NATS_STREAM_REPLICAS,
          }));
        if (!deps.bus) closers.push(() => bus.close());

        const verification = await startTokenVerification({
          bus,
          logger,
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          windowSeconds: config.REVOCATION_WINDOW_SECONDS,
        });
        closers.push(() => verification.stop());

        const users = new UsersService({
          store,
          hasher: await createPasswordHasher(config.BCRYPT_COST),
          events: busUserEvents(bus),
          adminUsernames: config.ADMIN_USERNAMES,
        });
        const promoted = await users.promoteConfiguredAdmins();
        if (promoted.length > 0)
          logger.info('promoted configured admins', { userIds: promoted.map((user) => user.id) });

        const served = serveUserRequests(bus, users);
        closers.push(async () => {
          await Promise.all(served.map((subscription) => subscription.unsubscribe()));
        });

        const http = await listen(
          createServiceApp({
            logger,
            routes: [
              healthRouter({ store: () => store.ping(), ...busReadiness(bus, verification) }),
              metricsRouter({ token: config.METRICS_TOKEN }),
              usersRouter({ users, verifier: verification.verifier }),
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
      await withDeadline(closers.closeAll(), config.SHUTDOWN_TIMEOUT_MS, 'users-service stop');
    },
  };
}
