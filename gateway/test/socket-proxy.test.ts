import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { createLogger, MemoryBus, subjects } from '@chat/shared';
import { LogCapture } from '@chat/testing';
import { closedOrigin, startGateway } from './helpers';

/** A stand-in chat instance: a real `ws` server that echoes frames and says which instance it is. */
interface Instance {
  url: string;
  sockets: () => number;
  upgrades: IncomingMessage[];
  /** Answer the next upgrades with this status instead of accepting them. */
  refuseWith?: number;
  close(): Promise<void>;
}

async function startInstance(name: string): Promise<Instance> {
  const wss = new WebSocketServer({ noServer: true });
  const server = http.createServer();
  const instance: Instance = {
    url: '',
    sockets: () => wss.clients.size,
    upgrades: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on('upgrade', (req, socket, head) => {
    instance.upgrades.push(req);
    if (instance.refuseWith) {
      const body = JSON.stringify({ error: { code: 'UNAUTHENTICATED', message: 'no' } });
      socket.end(
        `HTTP/1.1 ${instance.refuseWith} No\r\ncontent-type: application/json\r\nwww-authenticate: Bearer\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ type: 'hello', instance: name }));
      ws.on('message', (data) => ws.send(data.toString()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  instance.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return instance;
}

interface Opened {
  ws: WebSocket;
  hello: { instance: string };
}

function open(
  gateway: string,
  path = '/ws?token=secret-token-value',
  headers: Record<string, string> = {},
): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${gateway.replace('http', 'ws')}${path}`, { headers });
    ws.once('message', (data) => resolve({ ws, hello: JSON.parse(data.toString()) as { instance: string } }));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        reject(
          Object.assign(new Error(`refused ${res.statusCode}`), {
            status: res.statusCode,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        ),
      );
    });
    ws.once('error', reject);
  });
}

const closeAll = (sockets: Opened[]) =>
  Promise.all(sockets.map(({ ws }) => new Promise((resolve) => ws.once('close', resolve).close())));

describe('gateway WebSocket routing', () => {
  let a: Instance;
  let b: Instance;

  beforeEach(async () => {
    a = await startInstance('a');
    b = await startInstance('b');
  });

  afterEach(async () => {
    await a.close();
    await b.close();
  });

  it('spreads sockets over the instances by fewest sockets and relays frames both ways', async () => {
    const gateway = await startGateway({ CHAT_URLS: `${a.url},${b.url}` });
    const sockets: Opened[] = [];
    for (let i = 0; i < 4; i++) sockets.push(await open(gateway.url));
    expect(a.sockets()).toBe(2);
    expect(b.sockets()).toBe(2);
    const echoed = new Promise((resolve) =>
      sockets[0]!.ws.once('message', (data) => resolve(data.toString())),
    );
    sockets[0]!.ws.send('{"type":"ping"}');
    await expect(echoed).resolves.toBe('{"type":"ping"}');
    await closeAll(sockets);
    await gateway.stop();
  });

  it('passes the client address, host and a request id to the instance', async () => {
    const gateway = await startGateway({ CHAT_URLS: a.url });
    const socket = await open(gateway.url, '/ws?token=t', {
      'x-request-id': 'req-42',
      origin: 'http://chat.example',
    });
    const seen = a.upgrades[0]!;
    expect(seen.headers['x-request-id']).toBe('req-42');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-host']).toBe(new URL(gateway.url).host);
    expect(seen.headers.origin).toBe('http://chat.example');
    expect(seen.url).toBe('/ws?token=t');
    await closeAll([socket]);
    await gateway.stop();
  });

  it("hands the instance's refusal to the client as it was sent", async () => {
    a.refuseWith = 401;
    const gateway = await startGateway({ CHAT_URLS: a.url });
    await expect(open(gateway.url)).rejects.toMatchObject({
      status: 401,
      headers: expect.objectContaining({ 'www-authenticate': 'Bearer' }),
      body: expect.stringContaining('UNAUTHENTICATED'),
    });
    await gateway.stop();
  });

  it('moves on to another instance when one refuses connections', async () => {
    const dead = await closedOrigin();
    const gateway = await startGateway({ CHAT_URLS: `${dead},${a.url}` });
    const sockets = [await open(gateway.url), await open(gateway.url)];
    expect(sockets.map(({ hello }) => hello.instance)).toEqual(['a', 'a']);
    await closeAll(sockets);
    await gateway.stop();
  });

  it('answers 503 in the contract shape when no instance is up', async () => {
    const gateway = await startGateway({ CHAT_URLS: await closedOrigin() });
    await expect(open(gateway.url)).rejects.toMatchObject({
      status: 503,
      body: expect.stringContaining('UPSTREAM_UNAVAILABLE'),
    });
    await gateway.stop();
  });

  it('sends no new sockets to an instance announced as draining, and uses announced instances CHAT_URL_ALLOW allows', async () => {
    const bus = new MemoryBus({ logger: createLogger('test', 'error') });
    const gateway = await startGateway({ CHAT_URLS: a.url, CHAT_URL_ALLOW: b.url }, { bus });
    bus.publish(subjects.chatInstances.subject, {
      id: 'a',
      url: a.url,
      sockets: 0,
      draining: true,
      ttlMs: 60_000,
    });
    bus.publish(subjects.chatInstances.subject, {
      id: 'b',
      url: b.url,
      sockets: 0,
      draining: false,
      ttlMs: 60_000,
    });
    await bus.flush();
    const sockets = [await open(gateway.url), await open(gateway.url)];
    expect(sockets.map(({ hello }) => hello.instance)).toEqual(['b', 'b']);
    await closeAll(sockets);
    await gateway.stop();
    await bus.close();
  });

  it('refuses upgrades on other paths with 404 and past the rate limit with 429', async () => {
    const gateway = await startGateway({ CHAT_URLS: a.url, RATE_LIMIT_PER_MINUTE: '2' });
    await expect(open(gateway.url, '/elsewhere')).rejects.toMatchObject({ status: 404 });
    const sockets = [await open(gateway.url), await open(gateway.url)];
    await expect(open(gateway.url)).rejects.toMatchObject({
      status: 429,
      headers: expect.objectContaining({ 'retry-after': expect.any(String) }),
      body: expect.stringContaining('RATE_LIMITED'),
    });
    await closeAll(sockets);
    await gateway.stop();
  });

  it('never writes the token in the query string to a log line', async () => {
    const logs = new LogCapture();
    const logger = logs.logger('gateway');
    const dead = await closedOrigin();
    const gateway = await startGateway({ CHAT_URLS: `${dead},${a.url}`, LOG_LEVEL: 'debug' }, { logger });
    const socket = await open(gateway.url);
    await closeAll([socket]);
    await gateway.stop();
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(logs.lines.join('\n')).not.toContain('secret-token-value');
  });
});
