import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import {
  connectNatsBus,
  createLogger,
  MemoryBus,
  type NatsBus,
  subjects,
  type Bus,
  type LogLevel,
  type Subscription,
  type UserPublic,
} from '@chat/shared';
import {
  LogCapture,
  startTestTokenIssuer,
  testNatsUrl,
  uniqueMongoUrl,
  uniqueName,
  type TestTokenIssuer,
} from '@chat/testing';
import { createApp, loadChatConfig, type ChatApp } from '@chat/chat-service';
import { serverEventSchema } from '@chat/protocol';

// Tests read whatever the server answered.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Response {
  status: number;
  headers: Headers;
  body: Json;
}

export interface TestUser extends UserPublic {
  token: string;
  sid: string;
}

/** What others see of a test user: the `UserPublic` FakeUsers answers for them. */
export function publicProfile(user: TestUser): UserPublic {
  const { id, username, name, avatarUrl, createdAt } = user;
  return { id, username, name, avatarUrl, createdAt };
}

/**
 * Stands in for users-service on the bus: answers `users.v1.get-public` from a list the test fills, and
 * publishes its user events. `sid` is the session a user's tokens carry unless a test says otherwise.
 */
export class FakeUsers {
  readonly profiles = new Map<string, UserPublic>();
  /** How long each lookup takes, to open a window between a token's check and the socket opening. */
  lookupDelayMs = 0;
  private readonly served: Subscription;

  constructor(
    private readonly bus: Bus,
    private readonly issuer: TestTokenIssuer,
  ) {
    this.served = bus.serve(subjects.getPublicUsers.subject, async (message) => {
      const { ids } = subjects.getPublicUsers.schema.parse(message.data);
      if (this.lookupDelayMs > 0) await sleep(this.lookupDelayMs);
      return { users: ids.flatMap((id) => this.profiles.get(id) ?? []) };
    });
  }

  add(username: string, options: { expiresInSeconds?: number; role?: 'user' | 'admin' } = {}): TestUser {
    const profile: UserPublic = {
      id: `u-${randomUUID()}`,
      username: `${username}-${randomUUID().slice(0, 6)}`,
      name: username,
      avatarUrl: null,
      createdAt: new Date().toISOString(),
    };
    this.profiles.set(profile.id, profile);
    const sid = `s-${randomUUID()}`;
    return { ...profile, sid, token: this.token(profile, { sid, ...options }) };
  }

  token(
    user: Pick<UserPublic, 'id' | 'username'>,
    options: { sid?: string; expiresInSeconds?: number; role?: 'user' | 'admin' } = {},
  ): string {
    return this.issuer.mint(
      {
        sub: user.id,
        username: user.username,
        sid: options.sid ?? `s-${randomUUID()}`,
        ...(options.role ? { role: options.role } : {}),
      },
      options.expiresInSeconds === undefined ? {} : { expiresInSeconds: options.expiresInSeconds },
    );
  }

  async endSession(
    user: TestUser,
    reason: 'logout' | 'refresh_reuse' | 'user_deleted' = 'logout',
  ): Promise<void> {
    await this.bus.publishDurable(subjects.sessionEnded.subject, {
      sessionId: user.sid,
      userId: user.id,
      reason,
      endedAt: new Date().toISOString(),
    });
  }

  async delete(user: TestUser): Promise<void> {
    this.profiles.delete(user.id);
    await this.bus.publishDurable(subjects.userDeleted.subject, {
      userId: user.id,
      deletedAt: new Date().toISOString(),
    });
  }

  stop(): Promise<void> {
    return this.served.unsubscribe();
  }
}

/** chat-service settings for tests: quick presence and drain, a private data directory. */
export function testEnv(dataDir: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    PRESENCE_GRACE_MS: '100',
    DRAIN_SPREAD_MS: '0',
    SHUTDOWN_TIMEOUT_MS: '8000',
    ...overrides,
  };
}

export interface TestChat {
  url: string;
  wsUrl: string;
  app: ChatApp;
  bus: Bus;
  users: FakeUsers;
  issuer: TestTokenIssuer;
  logs: LogCapture;
  call(method: string, pathAndQuery: string, options?: { token?: string; body?: unknown }): Promise<Response>;
  connect(user: TestUser | { token: string }, options?: ConnectOptions): Promise<TestClient>;
  /** Stops this instance and starts another on the same data, bus, users and token issuer. */
  restart(): Promise<TestChat>;
  stop(): Promise<void>;
}

/**
 * One chat-service on a real port with its own data directory; by default on a fresh MemoryBus with a
 * token issuer and fake users of its own. Pass `bus`, `issuer` and `users` to put several on one bus.
 */
export async function startChat(
  options: {
    env?: Record<string, string>;
    bus?: Bus;
    issuer?: TestTokenIssuer;
    users?: FakeUsers;
    logLevel?: LogLevel;
    /** Data of an earlier instance (a restart); the new one owns it from then on. */
    dataDir?: string;
  } = {},
): Promise<TestChat> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'chat-service-'));
  const logs = new LogCapture();
  const logger = createLogger('chat-service', options.logLevel ?? 'warn', [logs.transport]);
  const ownsBus = !options.bus;
  const bus = options.bus ?? new MemoryBus({ logger });
  const issuer = options.issuer ?? startTestTokenIssuer(bus);
  const users = options.users ?? new FakeUsers(bus, issuer);
  const app = createApp(loadChatConfig(testEnv(dataDir, options.env)), { bus, logger });
  const { url } = await app.start();
  const wsUrl = `${url.replace(/^http/, 'ws')}/ws`;
  const clients: TestClient[] = [];
  let stopped = false;
  return {
    url,
    wsUrl,
    app,
    bus,
    users,
    issuer,
    logs,
    async call(method, pathAndQuery, callOptions = {}) {
      const response = await fetch(`${url}${pathAndQuery}`, {
        method,
        headers: {
          ...(callOptions.token ? { authorization: `Bearer ${callOptions.token}` } : {}),
          ...(callOptions.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: callOptions.body === undefined ? undefined : JSON.stringify(callOptions.body),
      });
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        body: text ? JSON.parse(text) : undefined,
      };
    },
    async connect(user, connectOptions = {}) {
      const client = await TestClient.open(wsUrl, { token: user.token, ...connectOptions });
      clients.push(client);
      return client;
    },
    async restart() {
      stopped = true;
      for (const client of clients) client.terminate();
      await app.stop();
      const next = await startChat({ ...options, bus, issuer, users, dataDir });
      return {
        ...next,
        async stop() {
          await next.stop();
          if (ownsBus) {
            await issuer.stop();
            await users.stop();
            await bus.close();
          }
        },
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const client of clients) client.terminate();
      await app.stop();
      if (ownsBus) {
        await issuer.stop();
        await users.stop();
        await bus.close();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ConnectOptions {
  token?: string;
  /** Send the token as `Authorization: Bearer` instead of `?token=`. */
  bearer?: boolean;
  headers?: Record<string, string>;
  /** Answer pings (default true); false plays a peer that died. */
  autoPong?: boolean;
  /** Wait for `hello` before resolving (default true). */
  hello?: boolean;
}

/** An upgrade the server refused: its status, headers and JSON body. */
export class RefusedUpgrade extends Error {
  constructor(
    readonly status: number,
    readonly headers: IncomingMessage['headers'],
    readonly body: Json,
  ) {
    super(`upgrade refused with ${status}`);
  }
}

/**
 * Every event a {@link TestClient} received that `@chat/protocol` does not describe: suites assert it stays
 * empty, so the server cannot send what the protocol package (and so the client library) does not know.
 */
export const protocolViolations: { event: Json; issues: string }[] = [];

/** A `ws` client that records every event the server sends (array frames unpacked) and how it closed. */
export class TestClient {
  readonly events: Json[] = [];
  /** Raw frames as received, to tell array frames from single ones. */
  readonly frames: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly listeners = new Set<() => void>();
  private refs = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      this.frames.push(text);
      const parsed = JSON.parse(text) as Json;
      const events = Array.isArray(parsed) ? (parsed as Json[]) : [parsed];
      for (const event of events) {
        const checked = serverEventSchema.safeParse(event);
        if (!checked.success) protocolViolations.push({ event, issues: checked.error.message });
      }
      this.events.push(...events);
      for (const listener of [...this.listeners]) listener();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString('utf8') });
        for (const listener of [...this.listeners]) listener();
      });
    });
  }

  static open(wsUrl: string, options: ConnectOptions = {}): Promise<TestClient> {
    const url =
      options.token && !options.bearer ? `${wsUrl}?token=${encodeURIComponent(options.token)}` : wsUrl;
    const headers = {
      ...(options.token && options.bearer ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    };
    const ws = new WebSocket(url, { headers, autoPong: options.autoPong ?? true });
    const client = new TestClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        res.on('end', () =>
          reject(new RefusedUpgrade(res.statusCode ?? 0, res.headers, body ? JSON.parse(body) : undefined)),
        );
      });
      ws.once('error', reject);
      ws.once('open', () => {
        if (options.hello === false) return resolve(client);
        client.waitFor((event) => event.type === 'hello').then(() => resolve(client), reject);
      });
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a frame with a fresh `ref` and resolves with the reply carrying it. */
  async request(frame: Record<string, unknown>, timeoutMs = 5_000): Promise<Json> {
    const ref = `r${++this.refs}`;
    this.send({ ...frame, ref });
    return this.waitFor((event) => event.ref === ref, timeoutMs);
  }

  /** The first event so far (or to come) matching `predicate`. */
  waitFor(predicate: (event: Json) => boolean, timeoutMs = 5_000): Promise<Json> {
    return this.waitUntil(() => this.events.find(predicate), timeoutMs, 'an event');
  }

  /** Resolves once `count` events match (at least), with them. */
  waitForCount(predicate: (event: Json) => boolean, count: number, timeoutMs = 5_000): Promise<Json[]> {
    return this.waitUntil(
      () => {
        const found = this.events.filter(predicate);
        return found.length >= count ? found : undefined;
      },
      timeoutMs,
      `${count} events`,
    );
  }

  of(type: string): Json[] {
    return this.events.filter((event) => event.type === type);
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }

  private waitUntil<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const found = check();
      if (found !== undefined) return resolve(found);
      const listener = () => {
        const result = check();
        if (result === undefined) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(result);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(
          new Error(
            `timed out waiting for ${what}; got ${JSON.stringify(this.events.map((event) => event.type))}`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a socket expecting a refusal, and answers it. */
export async function refusal(wsUrl: string, options: ConnectOptions): Promise<RefusedUpgrade> {
  try {
    const client = await TestClient.open(wsUrl, options);
    client.terminate();
  } catch (error) {
    if (error instanceof RefusedUpgrade) return error;
    throw error;
  }
  throw new Error('the upgrade was accepted');
}

/** Creates a room over REST and answers it. */
export async function createRoom(
  chat: TestChat,
  owner: TestUser,
  name = `room-${randomUUID().slice(0, 8)}`,
  kind: 'public' | 'private' = 'public',
): Promise<Json> {
  const response = await chat.call('POST', '/api/rooms', { token: owner.token, body: { name, kind } });
  if (response.status !== 201)
    throw new Error(`room not created: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Two chat instances on one nats-server and one database, each with a NATS connection of its own. */
export interface ChatPair {
  a: TestChat;
  b: TestChat;
  /** Instance b's bus, for suites that cut it off. */
  busB: NatsBus;
  users: FakeUsers;
  stop(): Promise<void>;
}

/**
 * Starts a {@link ChatPair} as two processes would run, on the test infrastructure (the caller checks it is
 * there, e.g. with `describeWithInfra(['nats', 'mongo'], ...)`). A subject prefix of its own keeps other
 * suites' traffic apart.
 */
export async function startChatPair(env: Record<string, string> = {}): Promise<ChatPair> {
  const logger = createLogger('chat-pair', 'error');
  const subjectPrefix = `${uniqueName('chat')}.`;
  const buses: NatsBus[] = [];
  const connect = async (name: string) => {
    const bus = await connectNatsBus({
      servers: testNatsUrl() ?? '',
      name,
      logger,
      subjectPrefix,
      eventMaxAgeSeconds: 600,
    });
    buses.push(bus);
    return bus;
  };
  const infra = await connect('test-infra');
  const issuer = startTestTokenIssuer(infra);
  const users = new FakeUsers(infra, issuer);
  const shared = { MONGO_URL: uniqueMongoUrl(), PRESENCE_GRACE_MS: '100', ...env };
  const a = await startChat({
    bus: await connect('chat-a'),
    issuer,
    users,
    env: { ...shared, CHAT_INSTANCE_ID: 'a' },
  });
  const busB = await connect('chat-b');
  const b = await startChat({ bus: busB, issuer, users, env: { ...shared, CHAT_INSTANCE_ID: 'b' } });
  return {
    a,
    b,
    busB,
    users,
    async stop() {
      await a.stop();
      await b.stop();
      await issuer.stop();
      await users.stop();
      for (const bus of buses) await bus.close();
    },
  };
}
