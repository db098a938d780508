import { createApp as createAuthApp, loadAuthConfig } from '@chat/auth-service';
import type { InstanceAnnouncement } from '@chat/chat-service';
import { createApp as createGatewayApp, loadGatewayConfig } from '@chat/gateway';
import {
  connectNatsBus,
  createLogger,
  subjects,
  type NatsBus,
  type ServiceApp,
  type Subscription,
} from '@chat/shared';
import { uniqueMongoUrl, uniqueName } from '@chat/testing';
import { createApp as createUsersApp, loadUsersConfig } from '@chat/users-service';
import { startChatProcess, startNatsServer, type ChatProcess, type NatsServer } from './processes';

/** Chat settings that keep the suite quick: short presence, announcements, drain and ping periods. */
export const CLUSTER_TIMING = {
  PRESENCE_GRACE_MS: 300,
  PRESENCE_TTL_MS: 1_500,
  INSTANCE_ANNOUNCE_INTERVAL_MS: 250,
  DRAIN_SPREAD_MS: 1_000,
  HEARTBEAT_INTERVAL_MS: 2_000,
} as const;

/** One announcement as received, with when. */
export interface Heard extends InstanceAnnouncement {
  at: number;
}

/**
 * Listens to `chat.instances` as the gateway does: what each chat instance last said about itself
 * (sockets held, draining), which is how the suite sees where the gateway put each socket.
 */
export class InstanceWatch {
  readonly heard: Heard[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly subscription: Subscription;

  constructor(bus: NatsBus) {
    this.subscription = bus.subscribe(subjects.chatInstances.subject, (message) => {
      const announcement = subjects.chatInstances.schema.parse(message.data);
      this.heard.push({ ...announcement, at: Date.now() });
      for (const listener of [...this.listeners]) listener();
    });
  }

  /** The last announcement of `id` received after `since`. */
  latest(id: string, since = 0): Heard | undefined {
    for (let i = this.heard.length - 1; i >= 0; i--) {
      const heard = this.heard[i]!;
      if (heard.at < since) return undefined;
      if (heard.id === id) return heard;
    }
    return undefined;
  }

  /**
   * Resolves with the socket counts of `ids` once announcements made after now satisfy `check`
   * (each instance's newest one counts).
   */
  async sockets(
    ids: readonly string[],
    check: (counts: number[]) => boolean,
    timeoutMs = 5_000,
  ): Promise<number[]> {
    const since = Date.now();
    return this.until(() => {
      const counts = ids.map((id) => this.latest(id, since)?.sockets);
      if (counts.some((count) => count === undefined)) return undefined;
      return check(counts as number[]) ? (counts as number[]) : undefined;
    }, timeoutMs);
  }

  /** The first announcement (already heard or to come) matching `predicate`. */
  waitFor(predicate: (heard: Heard) => boolean, timeoutMs = 5_000): Promise<Heard> {
    return this.until(() => this.heard.find(predicate), timeoutMs);
  }

  stop(): Promise<void> {
    return this.subscription.unsubscribe();
  }

  private until<T>(check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const listener = () => {
        const result = check();
        if (result === undefined) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(result);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        const recent = this.heard.slice(-6).map(({ id, sockets, draining }) => ({ id, sockets, draining }));
        reject(new Error(`no such chat.instances announcement; last heard: ${JSON.stringify(recent)}`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }
}

export interface Cluster {
  /** The gateway: everything a client does goes through it. */
  gatewayUrl: string;
  /** users-service and auth-service, for asking them directly (readiness). */
  usersUrl: string;
  authUrl: string;
  chats: ChatProcess[];
  instances: InstanceWatch;
  stop(): Promise<void>;
}

/** Infrastructure a suite brings itself, e.g. servers it kills and restarts under the cluster. */
export interface ClusterOptions {
  /** NATS_URL of every service; by default a nats-server of the cluster's own. */
  natsUrl?: string;
  /** MONGO_URL of every service; by default a database of its own on the run's MongoDB-protocol server. */
  mongoUrl?: string;
}

/**
 * The production topology on one machine: a nats-server of the suite's own, users-service, auth-service
 * and the gateway in this process (each with its own NATS connection), and two chat-service processes
 * that the gateway knows from CHAT_URLS and from their announcements. All services share one database,
 * each owning its collections. `stop()` ends everything, also after a failed start.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const logger = createLogger('cluster-test', 'error');
  const started: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    const failures: unknown[] = [];
    while (started.length > 0) await started.pop()!().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw new AggregateError(failures, 'the cluster did not stop cleanly');
  };
  try {
    let natsUrl = options.natsUrl;
    if (!natsUrl) {
      const nats: NatsServer = await startNatsServer();
      started.push(() => nats.stop());
      natsUrl = nats.url;
    }
    const env = {
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'error',
      NATS_URL: natsUrl,
      MONGO_URL: options.mongoUrl ?? uniqueMongoUrl(),
    };

    const bus = await connectNatsBus({ servers: natsUrl, name: 'cluster-test', logger });
    started.push(() => bus.close());
    const instances = new InstanceWatch(bus);
    started.push(() => instances.stop());

    const startService = async (app: ServiceApp) => {
      const { url } = await app.start();
      started.push(() => app.stop());
      return url;
    };
    const usersUrl = await startService(createUsersApp(loadUsersConfig({ ...env, BCRYPT_COST: '4' })));
    // Chat instances fetch the token keys from auth-service over the bus as they start.
    const authUrl = await startService(createAuthApp(loadAuthConfig(env)));

    const chatEnv = {
      NATS_URL: env.NATS_URL,
      MONGO_URL: env.MONGO_URL,
      SHUTDOWN_TIMEOUT_MS: '8000',
      ...Object.fromEntries(Object.entries(CLUSTER_TIMING).map(([key, value]) => [key, String(value)])),
    };
    const chats: ChatProcess[] = [];
    const results = await Promise.allSettled(
      ['chat-a', 'chat-b'].map((name) => startChatProcess({ id: uniqueName(`${name}-`), env: chatEnv })),
    );
    for (const result of results) {
      if (result.status === 'rejected') continue;
      chats.push(result.value);
      started.push(() => result.value.kill());
    }
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;

    const gatewayUrl = await startService(
      createGatewayApp(
        loadGatewayConfig({
          ...env,
          USERS_URL: usersUrl,
          AUTH_URL: authUrl,
          CHAT_URLS: chats.map((chat) => chat.url).join(','),
          // Every client of the suite comes from 127.0.0.1: the per-client budget is not under test here.
          RATE_LIMIT_PER_MINUTE: '100000',
        }),
      ),
    );
    return { gatewayUrl, usersUrl, authUrl, chats, instances, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
