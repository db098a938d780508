import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
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
  UpstreamUnavailableError,
  withDeadline,
} from '@chat/shared';
import { ChatFeed, ChatPublisher } from './bus/chat-events.bus';
import { InstanceAnnouncer } from './bus/instance-announcer';
import { PresenceBus } from './bus/presence.bus';
import { BusUserDirectory } from './bus/user-directory.bus';
import type { ChatConfig } from './config';
import { chatMetrics } from './metrics';
import { startAttachments } from './attachments';
import { attachmentRoutes } from './http/attachments.routes';
import { ChatService } from './domain/chat.service';
import { PeopleService } from './domain/people.service';
import { consumeUserDeletions, USER_ERASURE_DURABLE } from './bus/user-erasure.consumer';
import { roomsRouter } from './http/rooms.router';
import { chatRoutes } from './http/rooms.routes';
import { EmbeddedChatStore } from './store/chat.store.embedded';
import { MongoChatStore } from './store/chat.store.mongo';
import { refuseUpgrade } from './ws/socket-errors';
import { SocketHub } from './ws/socket-hub';
import { ChatSocketServer, type SocketStats } from './ws/socket-server';

export interface ChatAppDeps {
  /** A bus shared with other services in one process; the app then leaves closing it to its owner. */
  bus?: Bus;
  logger?: Logger;
}

/** chat-service as tests and the one-process run drive it. */
export interface ChatApp extends ServiceApp {
  /** This instance's id in presence and `chat.instances` (CHAT_INSTANCE_ID). */
  readonly instanceId: string;
  /** What the sockets of this instance hold now, and the most any one socket ever buffered. */
  stats(): SocketStats;
  /**
   * Takes a WebSocket upgrade handed over in process (the one-process run's gateway); refused 503 while
   * the app is not running.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

const NO_SOCKETS: SocketStats = { sockets: 0, subscribedRooms: 0, peakSocketBytes: 0, droppedEvents: 0 };

/**
 * chat-service: the store (MongoDB when MONGO_URL is set, else NeDB under DATA_DIR), the bus, token
 * verification, the user directory, REST for rooms and history, and the WebSocket server on `/ws`.
 * `stop()` drains the sockets (1012, spread over DRAIN_SPREAD_MS), then closes the rest in reverse order.
 */
export function createApp(config: ChatConfig, deps: ChatAppDeps = {}): ChatApp {
  const logger = deps.logger ?? createLogger('chat-service', config.LOG_LEVEL);
  const closers = new Closers('chat-service');
  let sockets: ChatSocketServer | undefined;
  let announcer: InstanceAnnouncer | undefined;

  return {
    logger,
    instanceId: config.CHAT_INSTANCE_ID,

    stats: () => sockets?.stats() ?? NO_SOCKETS,

    handleUpgrade(req, socket, head) {
      if (sockets) return sockets.handleUpgrade(req, socket, head);
      refuseUpgrade(socket, new UpstreamUnavailableError('The chat service is not running.'));
    },

    async start() {
      try {
        const store = config.MONGO_URL
          ? await MongoChatStore.open(config.MONGO_URL, logger)
          : await EmbeddedChatStore.open(config.DATA_DIR);
        closers.push(() => store.close());

        const bus =
          deps.bus ?? (await createBus({ ...natsConnectionOf(config), name: 'chat-service', logger }));
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

        const users = new BusUserDirectory(bus, logger);
        await users.start();
        closers.push(() => users.stop());

        const attachments = await startAttachments(config, {
          bus,
          logger,
          verifier: verification.verifier,
          isMember: (roomId, userId) => store.isMember(roomId, userId),
        });
        closers.push(() => attachments.stop());

        const instanceId = config.CHAT_INSTANCE_ID;
        const feed = new ChatFeed({ bus, instanceId, logger });
        const hub = new SocketHub(feed, logger);
        const announcements = feed.announcements((announcement) => hub.deliverAnnouncement(announcement));
        closers.push(() => announcements.unsubscribe());
        const uncountSockets = chatMetrics.countSockets(() => hub.size);
        closers.push(async () => uncountSockets());
        const stopResync = bus.onReconnect(() => hub.resyncAll());
        closers.push(async () => stopResync());
        const publisher = new ChatPublisher({ bus, instanceId, logger, local: hub });
        const chat = new ChatService({
          store,
          users,
          events: publisher,
          attachments: attachments.service,
          linked: attachments.links.message,
          limits: {
            roomsPerUser: config.ROOMS_PER_USER,
            invitationsPerMinute: config.INVITATIONS_PER_MINUTE,
            editWindowSeconds: config.MESSAGE_EDIT_WINDOW_SECONDS,
            reactionsPerUserPerMessage: config.REACTIONS_PER_USER_PER_MESSAGE,
          },
        });
        const people = new PeopleService({ store, users, events: publisher, chat });
        const erasure = await consumeUserDeletions(bus, logger, USER_ERASURE_DURABLE.people, (userId) =>
          people.userDeleted(userId),
        );
        closers.push(() => erasure.unsubscribe());
        const server = new ChatSocketServer({
          config,
          logger,
          hub,
          presenceBus: new PresenceBus(bus, instanceId, logger),
          chat,
          people,
          users,
          verification,
        });
        server.start();
        sockets = server;
        closers.push(() => server.stop());

        const http = await listen(
          createServiceApp({
            logger,
            trustProxy: config.TRUST_PROXY,
            described: [...chatRoutes, ...attachmentRoutes],
            uploads: [attachments.router],
            routes: [
              healthRouter({ store: () => store.ping(), ...busReadiness(bus, verification) }),
              metricsRouter({ token: config.METRICS_TOKEN }),
              roomsRouter({ chat, people, verifier: verification.verifier }),
            ],
          }),
          config.PORT,
          config.HOST,
        );
        http.server.on('upgrade', server.handleUpgrade);
        closers.push(() => http.close(config.SHUTDOWN_TIMEOUT_MS / 2));

        const url = config.PUBLIC_URL ?? http.url;
        const announcing = new InstanceAnnouncer({
          bus,
          logger,
          intervalMs: config.INSTANCE_ANNOUNCE_INTERVAL_MS,
          describe: () => ({
            id: config.CHAT_INSTANCE_ID,
            url,
            sockets: hub.size,
            draining: server.isDraining,
          }),
        });
        announcing.start();
        announcer = announcing;
        closers.push(async () => announcing.stop());
        return { url: http.url };
      } catch (error) {
        return closers.abandon(error, logger);
      }
    },

    async stop() {
      const drainDeadlineMs = Math.min(config.DRAIN_SPREAD_MS + 2_000, config.SHUTDOWN_TIMEOUT_MS / 2);
      const drainThenClose = async () => {
        if (sockets) {
          const draining = sockets.drain(config.DRAIN_SPREAD_MS, drainDeadlineMs);
          announcer?.announce();
          await draining;
        }
        await closers.closeAll();
      };
      try {
        await withDeadline(drainThenClose(), config.SHUTDOWN_TIMEOUT_MS, 'chat-service stop');
      } finally {
        sockets = undefined;
        announcer = undefined;
      }
    },
  };
}
