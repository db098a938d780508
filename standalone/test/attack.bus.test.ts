import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createApp as createAuthApp, loadAuthConfig } from '@chat/auth-service';
import { createApp as createChatApp, loadChatConfig } from '@chat/chat-service';
import { createApp as createGatewayApp, loadGatewayConfig } from '@chat/gateway';
import {
  connectNatsBus,
  jwkThumbprint,
  subjects,
  type Bus,
  type BusMessage,
  type ServiceApp,
} from '@chat/shared';
import { LogCapture, natsServerBinary, skipForMissing, startNatsNodes, type NatsNodes } from '@chat/testing';
import { createApp as createUsersApp, loadUsersConfig } from '@chat/users-service';
import { base64urlJson, pause, TestSocket, within, type Json } from './support/system';

/**
 * Issue 9, finding 7: the bus trusted blindly. The services run on a nats-server of this suite's own with
 * the authorization of `deploy/nats/authorization.conf` (what docker-compose.yml runs), each as its own
 * NATS user, and a rogue with valid credentials of one service tries what that service must not do.
 */

const binary = natsServerBinary();
const describeWithNatsServer = (name: string, fn: () => void) =>
  binary ? describe(name, fn) : skipForMissing(name, 'no nats-server binary in .tools/bin or on PATH', fn);

const AUTHORIZATION_FILE = path.resolve(__dirname, '../../deploy/nats/authorization.conf');
const PASSWORD = 'correct horse battery';
const SERVICES = ['users-service', 'auth-service', 'chat-service', 'gateway'] as const;
type ServiceUser = (typeof SERVICES)[number];

interface Reply {
  status: number;
  body: Json;
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

describeWithNatsServer('the bus with per-service NATS users (issue 9, finding 7)', () => {
  const passwords = Object.fromEntries(
    // As the README has operators make them: hex after a letter (nats-server reads a leading digit as a number).
    SERVICES.map((user) => [user, `p${randomBytes(16).toString('hex')}`]),
  ) as Record<ServiceUser, string>;
  const logs = new LogCapture();
  /** The rogues' own logs: their refusals are expected, and kept apart from the services'. */
  const rogueLogs = new LogCapture();
  const logger = rogueLogs.logger('rogue');
  const started: ServiceApp[] = [];
  const rogues: Bus[] = [];
  let nats: NatsNodes;
  let dataDir: string;
  let urls: { users: string; auth: string; chat: string; gateway: string };

  const credentials = (user: ServiceUser) => ({ NATS_USER: user, NATS_PASSWORD: passwords[user] });

  /** A connection with `user`'s credentials, as a compromised service (or a stolen password) would make. */
  async function rogue(user: ServiceUser): Promise<Bus> {
    const bus = await connectNatsBus({
      servers: nats.url,
      auth: { user, pass: passwords[user] },
      name: user,
      logger,
    });
    rogues.push(bus);
    return bus;
  }

  async function account(prefix: string): Promise<{ id: string; username: string; accessToken: string }> {
    const username = `${prefix}${randomBytes(4).toString('hex')}`;
    const created = await call(urls.gateway, 'POST', '/api/users', {
      body: { username, password: PASSWORD },
    });
    expect(created.status).toBe(201);
    const login = await call(urls.gateway, 'POST', '/api/auth/login', {
      body: { username, password: PASSWORD },
    });
    expect(login.status).toBe(200);
    return { id: created.body.id, username, accessToken: login.body.accessToken };
  }

  beforeAll(async () => {
    nats = await startNatsNodes(1, binary, {
      config: readFileSync(AUTHORIZATION_FILE, 'utf8'),
      env: {
        NATS_USERS_PASSWORD: passwords['users-service'],
        NATS_AUTH_PASSWORD: passwords['auth-service'],
        NATS_CHAT_PASSWORD: passwords['chat-service'],
        NATS_GATEWAY_PASSWORD: passwords.gateway,
      },
    });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'chat-attack-bus-'));
    const env = (service: string) => ({
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      NATS_URL: nats.url,
      DATA_DIR: path.join(dataDir, service),
      SHUTDOWN_TIMEOUT_MS: '5000',
    });
    const start = async (app: ServiceApp) => {
      const { url } = await app.start();
      started.push(app);
      return url;
    };
    const users = await start(
      createUsersApp(
        loadUsersConfig({ ...env('users'), ...credentials('users-service'), BCRYPT_COST: '4' }),
        {
          logger: logs.logger('users'),
        },
      ),
    );
    const auth = await start(
      createAuthApp(loadAuthConfig({ ...env('auth'), ...credentials('auth-service') }), {
        logger: logs.logger('auth'),
      }),
    );
    const chat = await start(
      createChatApp(
        loadChatConfig({ ...env('chat'), ...credentials('chat-service'), DRAIN_SPREAD_MS: '0' }),
        { logger: logs.logger('chat') },
      ),
    );
    const gateway = await start(
      createGatewayApp(
        loadGatewayConfig({
          ...env('gateway'),
          ...credentials('gateway'),
          USERS_URL: users,
          AUTH_URL: auth,
          CHAT_URLS: chat,
          RATE_LIMIT_PER_MINUTE: '100000',
        }),
        { logger: logs.logger('gateway') },
      ),
    );
    urls = { users, auth, chat, gateway };
  });

  afterAll(async () => {
    for (const bus of rogues) await bus.close();
    for (const app of started.reverse()) await app.stop();
    await nats?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('runs the whole system under those permissions: signup, login, tokens checked with keys over the bus, sockets, delivery, logout everywhere', async () => {
    const ann = await account('ann');
    expect((await call(urls.users, 'GET', '/api/users/me', { token: ann.accessToken })).status).toBe(200);
    const room = await call(urls.gateway, 'POST', '/api/rooms', {
      token: ann.accessToken,
      body: { name: `bus-${randomBytes(3).toString('hex')}`, kind: 'public' },
    });
    expect(room.status).toBe(201);
    const socket = await TestSocket.open(`${urls.gateway.replace(/^http/, 'ws')}/ws`, {
      token: ann.accessToken,
    });
    try {
      const ack = await socket.request({
        type: 'send',
        roomId: room.body.id,
        text: 'hi',
        clientMsgId: 'c-1',
      });
      expect(ack).toMatchObject({ type: 'ack', message: { text: 'hi' } });
      expect((await call(urls.gateway, 'POST', '/api/auth/logout', { token: ann.accessToken })).status).toBe(
        204,
      );
      await within(2_000, async () => {
        expect((await call(urls.users, 'GET', '/api/users/me', { token: ann.accessToken })).status).toBe(401);
      });
      expect((await socket.closedWithin(2_000)).code).toBe(4001);
    } finally {
      socket.ws.terminate();
    }
    // Nothing the services did was refused by NATS.
    expect(logs.lines.filter((line) => /permission|authorization violation/i.test(line))).toEqual([]);
  });

  it('refuses a connection without credentials or with another service’s password', async () => {
    await expect(connectNatsBus({ servers: nats.url, name: 'anonymous', logger })).rejects.toThrow();
    await expect(
      connectNatsBus({
        servers: nats.url,
        auth: { user: 'auth-service', pass: passwords['chat-service'] },
        name: 'auth-service',
        logger,
      }),
    ).rejects.toThrow();
  });

  it('no one but auth-service can answer auth.v1.jwks: a rogue’s key never verifies a token', async () => {
    // A compromised chat instance tries to answer key requests with a key of its own.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { x = '', y = '' } = publicKey.export({ format: 'jwk' });
    const kid = jwkThumbprint({ kty: 'EC', crv: 'P-256', x, y });
    const asked: BusMessage[] = [];
    const intruder = await rogue('chat-service');
    intruder.serve(subjects.jwks.subject, (message) => {
      asked.push(message);
      return { keys: [{ kty: 'EC', crv: 'P-256', x, y, kid, alg: 'ES256', use: 'sig' }] };
    });
    await intruder.flush();
    const victim = await account('victim');
    const now = Math.floor(Date.now() / 1000);
    const input = `${base64urlJson({ alg: 'ES256', typ: 'JWT', kid })}.${base64urlJson({
      sub: victim.id,
      username: victim.username,
      role: 'admin',
      sid: 'forged',
      iat: now,
      exp: now + 600,
      iss: 'chat-auth',
      aud: 'chat',
    })}`;
    const forged = `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    for (const base of [urls.users, urls.chat]) {
      const path = base === urls.users ? '/api/users/me' : '/api/rooms';
      expect((await call(base, 'GET', path, { token: forged })).status).toBe(401);
    }
    expect(asked).toEqual([]);
  });

  it('no one but a chat instance can announce a socket target, and the gateway ignores chat origins it was not given', async () => {
    let upgrades = 0;
    const trap = http.createServer((_req, res) => res.end());
    trap.on('upgrade', (_req, socket) => {
      upgrades += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
    try {
      const heard: BusMessage[] = [];
      const watcher = await rogue('gateway');
      watcher.subscribe(subjects.chatInstances.subject, (message) => {
        if ((message.data as { url?: string }).url === trapUrl) heard.push(message);
      });
      const fromUsers = await rogue('users-service');
      const fromChat = await rogue('chat-service');
      const announce = (bus: Bus, draining = false, url = trapUrl) =>
        bus.publish(subjects.chatInstances.subject, {
          id: 'rogue',
          url,
          sockets: 0,
          draining,
          ttlMs: 60_000,
        });
      for (let i = 0; i < 3; i++) {
        announce(fromUsers);
        // Another service may not even say the real instance is draining.
        announce(fromUsers, true, urls.chat);
        announce(fromChat);
      }
      await fromUsers.flush();
      await fromChat.flush();
      await pause(300);
      // NATS let only the chat-credentialed announcement through…
      expect(heard.length).toBe(3);
      // …and the gateway still sends every socket to the instance it was configured with.
      const user = await account('sock');
      for (let i = 0; i < 4; i++) {
        const socket = await TestSocket.open(`${urls.gateway.replace(/^http/, 'ws')}/ws`, {
          token: user.accessToken,
        });
        expect(socket.events[0]).toMatchObject({ type: 'hello' });
        socket.ws.terminate();
      }
      expect(upgrades).toBe(0);
    } finally {
      await new Promise<void>((resolve) => trap.close(() => resolve()));
    }
  });

  it('no one can read another service’s replies or forge a user event', async () => {
    const sniffer = await rogue('chat-service');
    const sniffed: BusMessage[] = [];
    sniffer.subscribe('_INBOX.>', (message) => void sniffed.push(message));
    sniffer.subscribe('users.v1.>', (message) => void sniffed.push(message));
    await sniffer.flush();
    const victim = await account('target');
    // A credentials check happened (its reply carries the user): none of it reached the sniffer.
    expect(sniffed).toEqual([]);
    // A compromised chat instance cannot delete a user by announcing it.
    await expect(
      sniffer.publishDurable(subjects.userDeleted.subject, {
        userId: victim.id,
        deletedAt: new Date().toISOString(),
      }),
    ).rejects.toThrow();
    await pause(300);
    expect((await call(urls.users, 'GET', '/api/users/me', { token: victim.accessToken })).status).toBe(200);
  });
});
