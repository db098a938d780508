import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createApp as createAuthApp, loadAuthConfig } from '@chat/auth-service';
import { createApp as createChatApp, loadChatConfig, SOCKET_PATH } from '@chat/chat-service';
import { createApp as createGatewayApp, loadGatewayConfig } from '@chat/gateway';
import type { ServiceApp } from '@chat/shared';
import {
  LogCapture,
  natsServerBinary,
  skipForMissing,
  startNatsNodes,
  uniqueName,
  type NatsNode,
  type NatsNodes,
} from '@chat/testing';
import { createApp as createUsersApp, loadUsersConfig } from '@chat/users-service';

/**
 * The services on NATS while nats-server fails under them (issue 15), each failure as an operator meets
 * it: users-service, auth-service, chat-service and the gateway in this process, each with its own NATS
 * connection, on a nats-server of the suite's own (one node killed and restarted on the same port and
 * store; then a 3-node JetStream cluster losing a node). No service is restarted.
 */

const binary = natsServerBinary();
const describeWithNatsServer = (name: string, fn: () => void) =>
  binary ? describe(name, fn) : skipForMissing(name, 'no nats-server binary in .tools/bin or on PATH', fn);

const PASSWORD = 'correct horse battery';
/** How soon a logout that answered 204 must be refused everywhere (issue 15). */
const LOGOUT_EFFECTIVE_MS = 2_000;
/** Bound on how long services take to be ready again after NATS comes back. */
const RECOVERY_MS = 20_000;
/**
 * Bound on the same after a cluster loses the EVENTS stream's leader. JetStream elects new stream and
 * consumer leaders first: measured here, the stream answered again 9 s after the kill, and requests to
 * create consumers went on timing out (5 s each) for up to 17 s on a busy machine, so services were ready
 * again after 6-23 s.
 */
const CLUSTER_RECOVERY_MS = 45_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Reply {
  status: number;
  // Tests read whatever the server answered.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function call(
  baseUrl: string,
  method: string,
  pathAndQuery: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Reply> {
  const response = await fetch(`${baseUrl}${pathAndQuery}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

interface Session {
  username: string;
  accessToken: string;
  refreshToken: string;
}

/** A socket to chat-service, and how it ended. */
interface OpenSocket {
  closed: Promise<number>;
  code(): number | undefined;
  close(): void;
}

interface System {
  urls: { users: string; auth: string; chat: string; gateway: string };
  logs: LogCapture;
  stop(): Promise<void>;
}

/** The four services on `natsUrl`, each with its own data directory and NATS connection. */
async function startSystem(natsUrl: string): Promise<System> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'chat-faults-'));
  const logs = new LogCapture();
  const started: ServiceApp[] = [];
  const stop = async () => {
    for (const app of started.reverse()) await app.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  const env = (service: string) => ({
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'error',
    NATS_URL: natsUrl,
    DATA_DIR: path.join(dataDir, service),
    // Above the bus's own 10 s to drain: after a cluster lost a node, draining the connection took a CI run
    // past a 5 s budget ("chat-service stop did not finish within 5000 ms").
    SHUTDOWN_TIMEOUT_MS: '15000',
  });
  const start = async (app: ServiceApp) => {
    const { url } = await app.start();
    started.push(app);
    return url;
  };
  try {
    const users = await start(
      createUsersApp(loadUsersConfig({ ...env('users'), BCRYPT_COST: '4' }), {
        logger: logs.logger('users'),
      }),
    );
    const auth = await start(createAuthApp(loadAuthConfig(env('auth')), { logger: logs.logger('auth') }));
    const chat = await start(
      createChatApp(loadChatConfig({ ...env('chat'), DRAIN_SPREAD_MS: '0', PRESENCE_GRACE_MS: '100' }), {
        logger: logs.logger('chat'),
      }),
    );
    const gateway = await start(
      createGatewayApp(
        loadGatewayConfig({
          ...env('gateway'),
          USERS_URL: users,
          AUTH_URL: auth,
          CHAT_URLS: chat,
          RATE_LIMIT_PER_MINUTE: '100000',
        }),
        { logger: logs.logger('gateway') },
      ),
    );
    return { urls: { users, auth, chat, gateway }, logs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

describeWithNatsServer('the services while nats-server fails', () => {
  /**
   * Retries `check` until it passes; after `timeoutMs` fails with its last error and the services' last
   * log lines, which say what the bus was doing.
   */
  async function eventually(check: () => Promise<void> | void, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await check();
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          if (error instanceof Error) {
            // Not the readiness polls' request lines, which would fill it.
            const logged = system.logs.lines.filter((line) => !line.includes('"level":"http"'));
            error.message += `\nservice log:\n${logged.slice(-60).join('\n')}`;
          }
          throw error;
        }
      }
      await sleep(50);
    }
  }

  let system: System;
  const sockets: OpenSocket[] = [];

  async function session(name: string): Promise<Session> {
    const username = uniqueName(`${name}_`).slice(0, 32);
    const created = await call(system.urls.gateway, 'POST', '/api/users', {
      body: { username, password: PASSWORD },
    });
    expect(created.status).toBe(201);
    const login = await call(system.urls.gateway, 'POST', '/api/auth/login', {
      body: { username, password: PASSWORD },
    });
    expect(login.status).toBe(200);
    return { username, accessToken: login.body.accessToken, refreshToken: login.body.refreshToken };
  }

  function logout(token: string): Promise<Reply> {
    return call(system.urls.gateway, 'POST', '/api/auth/logout', { token });
  }

  /** What users-service and chat-service answer to the token, each asked directly. */
  async function answersTo(token: string): Promise<{ users: number; chat: number }> {
    const [users, chat] = await Promise.all([
      call(system.urls.users, 'GET', '/api/users/me', { token }),
      call(system.urls.chat, 'GET', '/api/rooms', { token }),
    ]);
    return { users: users.status, chat: chat.status };
  }

  async function openSocket(token: string): Promise<OpenSocket> {
    const ws = new WebSocket(`${system.urls.chat.replace(/^http/, 'ws')}${SOCKET_PATH}?token=${token}`);
    let code: number | undefined;
    const closed = new Promise<number>((resolve) =>
      ws.once('close', (closeCode: number) => {
        code = closeCode;
        resolve(closeCode);
      }),
    );
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const socket = { closed, code: () => code, close: () => ws.close() };
    sockets.push(socket);
    return socket;
  }

  async function readiness(baseUrl: string): Promise<Reply> {
    return call(baseUrl, 'GET', '/readyz');
  }

  async function everyoneReady(timeoutMs = RECOVERY_MS): Promise<void> {
    await eventually(async () => {
      const replies = await Promise.all(Object.values(system.urls).map((url) => readiness(url)));
      expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200, 200]);
    }, timeoutMs);
  }

  /**
   * Logs `session` out (the answer must be 204) and expects its token refused by users-service and
   * chat-service, and `socket` closed with 4001, within LOGOUT_EFFECTIVE_MS of that answer.
   */
  async function expectLogoutEffective(session: Session, socket: OpenSocket): Promise<void> {
    expect((await logout(session.accessToken)).status).toBe(204);
    const answered = Date.now();
    await eventually(async () => {
      expect(await answersTo(session.accessToken)).toEqual({ users: 401, chat: 401 });
      expect(socket.code()).toBe(4001);
    }, LOGOUT_EFFECTIVE_MS);
    expect(Date.now() - answered).toBeLessThanOrEqual(LOGOUT_EFFECTIVE_MS + 500);
  }

  beforeEach(async () => {
    // Each test starts from a system that is ready, whatever the one before left.
    await everyoneReady();
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  describe('on one nats-server killed and restarted on the same port and store', () => {
    let nats: NatsNodes;
    let node: NatsNode;

    beforeAll(async () => {
      nats = await startNatsNodes(1, binary);
      node = nats.nodes[0]!;
      system = await startSystem(nats.url);
    }, 30_000);

    afterAll(async () => {
      await system?.stop();
      await nats?.stop();
    });

    afterEach(async () => {
      if (!node.running) await node.start();
    });

    it('is not ready anywhere while NATS is down, revocations included, and ready again once it is back', async () => {
      await node.kill();

      await eventually(async () => {
        for (const url of [system.urls.users, system.urls.auth, system.urls.chat]) {
          const reply = await readiness(url);
          expect(reply.status).toBe(503);
          expect(reply.body.checks).toEqual(
            expect.objectContaining({ store: 'ok', bus: 'unavailable', revocations: 'unavailable' }),
          );
        }
        // The gateway asks the services' readiness, not whether their processes answer.
        expect((await readiness(system.urls.gateway)).status).toBe(503);
      }, 3_000);

      await node.start();
      await everyoneReady();
    });

    it('refuses a token logged out after a restart on users and chat, and closes its socket with 4001, within 2 s', async () => {
      const alice = await session('alice');
      expect(await answersTo(alice.accessToken)).toEqual({ users: 200, chat: 200 });

      await node.kill();
      await sleep(200);
      await node.start();
      await everyoneReady();

      await expectLogoutEffective(alice, await openSocket(alice.accessToken));
    });

    it('answers 503 to a logout while NATS is down and leaves the session working; a retry after recovery ends it everywhere within 2 s', async () => {
      const bob = await session('bob');
      expect(await answersTo(bob.accessToken)).toEqual({ users: 200, chat: 200 });

      await node.kill();
      const refused = await logout(bob.accessToken);
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('UPSTREAM_UNAVAILABLE');
      // Nothing ended: the token works, and so does the refresh token.
      expect(await answersTo(bob.accessToken)).toEqual({ users: 200, chat: 200 });
      const refreshed = await call(system.urls.gateway, 'POST', '/api/auth/refresh', {
        body: { refreshToken: bob.refreshToken },
      });
      expect(refreshed.status).toBe(200);

      await node.start();
      await everyoneReady();
      const socket = await openSocket(bob.accessToken);
      expect(socket.code()).toBeUndefined();

      await expectLogoutEffective(bob, socket);
    });
  });

  describe('on a 3-node JetStream cluster losing a node', () => {
    let cluster: NatsNodes;

    beforeAll(async () => {
      cluster = await startNatsNodes(3, binary);
      system = await startSystem(cluster.url);
    }, 40_000);

    afterAll(async () => {
      await system?.stop();
      await cluster?.stop();
    }, 60_000);

    it('connects every service to the first server of NATS_URL', async () => {
      const { connections } = await cluster.nodes[0]!.monitor<{ connections: Array<{ name?: string }> }>(
        '/connz?limit=1000',
      );
      expect(connections.map((connection) => connection.name).sort()).toEqual(
        expect.arrayContaining(['auth-service', 'chat-service', 'gateway', 'users-service']),
      );
    });

    it('keeps EVENTS on 3 replicas, so logouts work everywhere after its leader dies, without restarting a service', async () => {
      const carol = await session('carol');
      const stream = await eventsStream(cluster.nodes[0]!);
      expect(stream.config.num_replicas).toBe(3);
      expect(stream.cluster.replicas).toHaveLength(2);
      const leader = cluster.nodes.find((node) => node.name === stream.cluster.leader)!;

      await leader.kill();
      // Missed heartbeats tell a service its consumers on the dead node are gone within about 3 s.
      await sleep(3_000);
      await everyoneReady(CLUSTER_RECOVERY_MS);

      await expectLogoutEffective(carol, await openSocket(carol.accessToken));
      const survivor = cluster.nodes.find((node) => node.running)!;
      expect((await eventsStream(survivor)).cluster.leader).not.toBe(leader.name);
    }, 60_000);
  });
});

interface StreamDetail {
  name: string;
  config: { num_replicas: number };
  cluster: { leader?: string; replicas?: Array<{ name: string }> };
}

/** The EVENTS stream as a node's monitoring reports it (`/jsz`). */
async function eventsStream(node: NatsNode): Promise<StreamDetail> {
  const jsz = await node.monitor<{ account_details?: Array<{ stream_detail?: StreamDetail[] }> }>(
    '/jsz?accounts=true&streams=true&config=true',
  );
  const stream = (jsz.account_details ?? [])
    .flatMap((account) => account.stream_detail ?? [])
    .find((detail) => detail.name === 'EVENTS');
  if (!stream) throw new Error(`no EVENTS stream in /jsz of ${node.name}`);
  return stream;
}
