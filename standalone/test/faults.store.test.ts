import WebSocket from 'ws';
import { CloseCode } from '@chat/protocol';
import {
  ferretdbBinary,
  natsServerBinary,
  skipForMissing,
  startFerretDb,
  startNatsNodes,
  uniqueName,
  type FerretDbNode,
  type NatsNodes,
} from '@chat/testing';
import { api, signUp, type Account, type Json } from './support/clients';
import { startCluster, type Cluster } from './support/cluster';
import { sleep } from './support/processes';
import { TestSocket } from './support/system';

/**
 * The services while their MongoDB-protocol store fails under them (issue 15, item 4): users-service,
 * auth-service and the gateway in this process and two chat-service processes, on a FerretDB of the
 * suite's own that it kills with SIGKILL and restarts on the same port and data, and a nats-server of its
 * own. Clients go through the gateway (and, for upgrades, also to each instance). No service is restarted.
 */

const ferretdb = ferretdbBinary();
const nats = natsServerBinary();
const describeWithServers = (name: string, fn: () => void) =>
  ferretdb && nats
    ? describe(name, fn)
    : skipForMissing(name, `no ${ferretdb ? 'nats-server' : 'ferretdb'} binary in .tools/bin or on PATH`, fn);

const PASSWORD = 'correct horse battery';
/**
 * How long an answer may take while the store is down: an operation waits for a server selection, 5 s
 * (shared/src/store/mongo.ts); the client must hear 503 rather than hang.
 */
const ANSWER_MS = 6_000;
/** How soon after the store dies every instance knows it (the driver checks every second). */
const KNOWN_DOWN_MS = 3_000;
/** How soon an instance that knows the store is down refuses an upgrade: no round trip at all. */
const REFUSED_MS = 1_000;
/** How soon after the store is back every service works again, none of them restarted. */
const RECOVERY_MS = 5_000;

interface Timed {
  status: number;
  headers: Headers;
  body: Json;
  ms: number;
}

/** How an upgrade ended: refused in plain HTTP, or opened and later closed with a code. */
type UpgradeOutcome =
  | { refused: { status: number; code: string | undefined; retryAfter: string | undefined } }
  | { closed: number };

/** Asks for a socket at `url` and reports how it ended; a socket that opens is waited on until it closes. */
function tryUpgrade(url: string, token: string): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${url}: neither refused nor closed within ${ANSWER_MS} ms`));
    }, ANSWER_MS);
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => {
        clearTimeout(timer);
        let code: string | undefined;
        try {
          code = JSON.parse(text)?.error?.code;
        } catch {
          code = undefined;
        }
        const retryAfter = res.headers['retry-after'];
        resolve({ refused: { status: res.statusCode ?? 0, code, retryAfter } });
      });
    });
    ws.once('close', (code: number) => {
      clearTimeout(timer);
      resolve({ closed: code });
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${url}: ${error.message}`));
    });
  });
}

describeWithServers('the services while FerretDB is killed and restarted', () => {
  let store: FerretDbNode;
  let bus: NatsNodes;
  let cluster: Cluster;
  let alice: Account;
  let roomId: string;
  /** Alice's socket, opened before the store failed; it must live through the outage. */
  let socket: TestSocket;
  const sockets: TestSocket[] = [];

  const wsUrl = (httpUrl: string) => `${httpUrl.replace(/^http/, 'ws')}/ws`;

  /** A REST call through the gateway, timed. */
  async function timed(
    method: string,
    path: string,
    options: { token?: string; body?: unknown } = {},
  ): Promise<Timed> {
    const started = Date.now();
    const response = await fetch(`${cluster.gatewayUrl}${path}`, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(ANSWER_MS + 4_000),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
      ms: Date.now() - started,
    };
  }

  /** Every service's `/readyz`: users, auth, chat-a, chat-b, then the gateway. */
  async function readiness(): Promise<Array<{ status: number; body: Json }>> {
    const urls = [
      cluster.usersUrl,
      cluster.authUrl,
      ...cluster.chats.map((chat) => chat.url),
      cluster.gatewayUrl,
    ];
    return Promise.all(
      urls.map(async (url) => {
        const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
        return { status: response.status, body: await response.json() };
      }),
    );
  }

  /** Retries `check` until it passes; after `timeoutMs` fails with its last error and what the processes said. */
  async function within<T>(timeoutMs: number, check: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await check();
      } catch (error) {
        if (Date.now() > deadline) {
          if (error instanceof Error) {
            const logs = cluster.chats.map((chat) => `${chat.id}:\n${chat.log().slice(-1_500)}`);
            error.message += `\n${logs.join('\n')}\nferretdb:\n${store.log().slice(-1_000)}`;
          }
          throw error;
        }
      }
      await sleep(100);
    }
  }

  const login = (account: Account) =>
    timed('POST', '/api/auth/login', { body: { username: account.username, password: PASSWORD } });

  beforeAll(async () => {
    store = await startFerretDb(ferretdb);
    bus = await startNatsNodes(1, nats);
    cluster = await startCluster({ natsUrl: bus.url, mongoUrl: store.url(uniqueName('faults')) });
    alice = await signUp(cluster.gatewayUrl, 'alice');
    const created = await api(cluster.gatewayUrl, 'POST', '/api/rooms', {
      token: alice.token,
      body: { name: uniqueName('store-'), kind: 'public' },
    });
    expect(created.status).toBe(201);
    roomId = created.body.id;
    socket = await TestSocket.open(wsUrl(cluster.gatewayUrl), { token: alice.token });
    sockets.push(socket);
    expect((await socket.request({ type: 'send', roomId, text: 'before the outage' })).type).toBe('ack');
  }, 40_000);

  afterAll(async () => {
    for (const each of sockets) each.ws.terminate();
    await cluster?.stop();
    await bus?.stop();
    await store?.stop();
  });

  describe('while FerretDB is down', () => {
    let killedAt: number;

    beforeAll(async () => {
      await store.kill();
      killedAt = Date.now();
    });

    it('refuses new sockets with 503 before they open, at the gateway and at each instance, never 101 and then 1011', async () => {
      const urls = [cluster.gatewayUrl, ...cluster.chats.map((chat) => chat.url)].map(wsUrl);
      const refused503 = (url: string, outcome: UpgradeOutcome) =>
        expect({ url, ...outcome }).toEqual({
          url,
          refused: {
            status: 503,
            code: 'UPSTREAM_UNAVAILABLE',
            retryAfter: expect.stringMatching(/^[1-9]\d*$/),
          },
        });

      // Straight after the crash an instance may not know yet, and a socket may open; then its session
      // cannot be set up, which must say "come back later" (1013), not that it failed (1011).
      const first = await tryUpgrade(urls[0]!, alice.token);
      if ('closed' in first) expect(first.closed).toBe(CloseCode.TRY_AGAIN_LATER);
      else refused503(urls[0]!, first);

      // Once the driver has checked (every second), the instances know: each upgrade is refused before
      // any socket opens, without waiting on anything, also at the instance that holds alice's socket and
      // knows her profile (so only its store check can refuse her).
      await sleep(Math.max(0, killedAt + KNOWN_DOWN_MS - Date.now()));
      for (const url of urls) {
        const started = Date.now();
        refused503(url, await tryUpgrade(url, alice.token));
        const ms = Date.now() - started;
        expect({ url, ms, fast: ms < REFUSED_MS }).toMatchObject({ url, fast: true });
      }
    }, 20_000);

    it('answers login, profile, history and room creation 503 UPSTREAM_UNAVAILABLE with Retry-After, never 500, in bounded time', async () => {
      const requests: Record<string, Promise<Timed>> = {
        login: login(alice),
        me: timed('GET', '/api/users/me', { token: alice.token }),
        history: timed('GET', `/api/rooms/${roomId}/messages`, { token: alice.token }),
        'create room': timed('POST', '/api/rooms', {
          token: alice.token,
          body: { name: uniqueName('nope-'), kind: 'public' },
        }),
      };
      for (const [what, request] of Object.entries(requests)) {
        const reply = await request;
        expect({ what, status: reply.status, code: reply.body?.error?.code }).toEqual({
          what,
          status: 503,
          code: 'UPSTREAM_UNAVAILABLE',
        });
        expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
        expect({ what, fast: reply.ms < ANSWER_MS }).toEqual({ what, fast: true });
      }
    }, 20_000);

    it('answers a send on an open socket with an UPSTREAM_UNAVAILABLE error frame and keeps the socket open', async () => {
      const started = Date.now();
      const reply = await socket.request(
        { type: 'send', roomId, text: 'during the outage' },
        ANSWER_MS + 2_000,
      );
      expect(Date.now() - started).toBeLessThan(ANSWER_MS);
      expect({ type: reply.type, code: reply.code }).toEqual({ type: 'error', code: 'UPSTREAM_UNAVAILABLE' });
      expect((await socket.request({ type: 'ping' })).type).toBe('pong');
      expect(socket.isOpen).toBe(true);
    }, 20_000);

    it('is not ready: every service reports its store unavailable, and the gateway says so too', async () => {
      await within(3_000, async () => {
        const replies = await readiness();
        expect(replies.map((reply) => reply.status)).toEqual([503, 503, 503, 503, 503]);
        for (const reply of replies.slice(0, 4)) expect(reply.body.checks.store).toBe('unavailable');
      });
    });
  });

  describe('once FerretDB is back on the same port and data', () => {
    let restartedAt: number;

    beforeAll(async () => {
      await store.start();
      restartedAt = Date.now();
    });

    it('works again within 5 s without a restart: every service ready, login, the open socket sends, a new socket opens', async () => {
      const pids = cluster.chats.map((chat) => chat.pid);
      const left = () => RECOVERY_MS - (Date.now() - restartedAt);
      await within(left(), async () => {
        expect((await readiness()).map((reply) => reply.status)).toEqual([200, 200, 200, 200, 200]);
      });
      await within(left(), async () => {
        expect((await login(alice)).status).toBe(200);
      });
      const ack = await socket.request({ type: 'send', roomId, text: 'after the outage' });
      expect({ type: ack.type, text: ack.message?.text }).toEqual({ type: 'ack', text: 'after the outage' });
      sockets.push(await TestSocket.open(wsUrl(cluster.gatewayUrl), { token: alice.token }));
      expect(Date.now() - restartedAt).toBeLessThan(RECOVERY_MS);

      // The same processes; the history kept what was stored before and nothing of the refused send.
      expect(cluster.chats.map((chat) => [chat.running, chat.pid])).toEqual(pids.map((pid) => [true, pid]));
      const history = await api(cluster.gatewayUrl, 'GET', `/api/rooms/${roomId}/messages`, {
        token: alice.token,
      });
      expect(history.status).toBe(200);
      expect(history.body.items.map((message: Json) => message.text)).toEqual([
        'before the outage',
        'after the outage',
      ]);
    }, 20_000);
  });
});
