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
  WindowLimiter,
  withDeadline,
} from '@chat/shared';
import { openBlobStore } from '@chat/media';
import type { UsersConfig } from './config';
import { AvatarService } from './domain/avatars.service';
import { createPasswordHasher } from './domain/password-hasher';
import { WorkLane } from './domain/work-lane';
import { UsersService } from './domain/users.service';
import { busUserEvents } from './bus/user-events.bus';
import { serveUserRequests } from './bus/users.responders';
import { avatarsRouter } from './http/avatars.router';
import { usersRouter } from './http/users.router';
import { usersRoutes } from './http/users.routes';
import { MongoUserStore } from './store/user.store.mongo';
import { EmbeddedUserStore } from './store/user.store.embedded';

export interface UsersAppDeps {
  /** A bus shared with other services in one process; the app then leaves closing it to its owner. */
  bus?: Bus;
  logger?: Logger;
}

/**
 * users-service: the store (MongoDB when MONGO_URL is set, else NeDB under DATA_DIR), the avatars' blob
 * store (GridFS bucket `avatars`, else `DATA_DIR/avatars`), the bus, token verification, the bus
 * responders and the HTTP server. `stop()` closes them in the reverse order.
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
        const blobs = await openBlobStore({
          mongoUrl: config.MONGO_URL,
          dataDir: config.DATA_DIR,
          name: 'avatars',
          appName: 'users-service',
          logger,
        });
        closers.push(() => blobs.close());

        const bus =
          deps.bus ?? (await createBus({ ...natsConnectionOf(config), name: 'users-service', logger }));
        if (!deps.bus) closers.push(() => bus.close());

        const verification = await startTokenVerification({
          bus,
          logger,
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          windowSeconds: config.REVOCATION_WINDOW_SECONDS,
          pinnedKids: config.JWT_KEY_THUMBPRINTS,
        });
        closers.push(() => verification.stop());

        const events = busUserEvents(bus);
        const avatars = new AvatarService({
          store,
          blobs,
          events,
          limits: { maxBytes: config.AVATAR_MAX_BYTES, maxPixels: config.IMAGE_MAX_PIXELS },
          uploads: new WindowLimiter(
            config.AVATAR_UPLOADS_PER_HOUR,
            60 * 60 * 1000,
            'Too many avatar uploads; try again later.',
          ),
        });
        const users = new UsersService({
          store,
          hasher: await createPasswordHasher(config.BCRYPT_COST),
          events,
          avatars,
          signupLimiter: new WindowLimiter(
            config.SIGNUPS_PER_ADDRESS_PER_HOUR,
            60 * 60 * 1000,
            'Too many signups from this address; try again later.',
          ),
          hashLane: new WorkLane(
            {
              concurrency: config.SIGNUP_HASH_CONCURRENCY,
              maxQueued: config.SIGNUP_QUEUE_MAX,
              maxWaitMs: config.SIGNUP_QUEUE_TIMEOUT_MS,
            },
            'Too many new passwords to hash at once; try again in a few seconds.',
          ),
        });
        const announced = await users.announcePendingRoleChanges();
        if (announced.length > 0)
          logger.info('announced role changes made by the admin command', {
            userIds: announced.map((user) => user.id),
          });

        const served = serveUserRequests(bus, users);
        closers.push(async () => {
          await Promise.all(served.map((subscription) => subscription.unsubscribe()));
        });

        const http = await listen(
          createServiceApp({
            logger,
            trustProxy: config.TRUST_PROXY,
            described: usersRoutes,
            uploads: [avatarsRouter({ avatars, verifier: verification.verifier })],
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
