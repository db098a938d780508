import net from 'node:net';
import WebSocket from 'ws';
import { ChatClient, type ConnectionState, type SocketLike } from '@chat/client';
import type { Message } from '@chat/protocol';
import { createRoom, startChat, type TestChat } from './support';

/**
 * A TCP relay whose path can die the way a network path does: once cut, the connections it holds and any
 * opened while it is cut carry nothing either way and are never closed, so neither end hears of it.
 */
class Relay {
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly live = new Set<net.Socket>();
  private readonly dead = new Set<net.Socket>();
  private cut = false;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** The path dies: nothing passes, nothing closes. */
  goSilent(): void {
    this.cut = true;
    for (const socket of this.live) this.dead.add(socket);
  }

  /** The path is back: new connections work; the dead ones are reset, as the peer's stack would on its return. */
  restore(): void {
    this.cut = false;
    for (const socket of this.dead) socket.destroy();
    this.dead.clear();
  }

  async stop(): Promise<void> {
    for (const socket of this.live) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.live.add(socket);
      if (this.cut) this.dead.add(socket);
      socket.on('error', () => undefined);
    }
    const relay = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk) => {
        if (!this.dead.has(from)) to.write(chunk);
      });
      from.on('close', () => {
        this.live.delete(from);
        if (!this.dead.has(from)) to.destroy();
      });
    };
    relay(client, upstream);
    relay(upstream, client);
  }
}

describe('liveness over real sockets, with the default heartbeat', () => {
  let chat: TestChat;
  let relay: Relay;

  beforeAll(async () => {
    // The default grace before "offline", as in production; the heartbeat is left at its default too.
    chat = await startChat({ env: { PRESENCE_GRACE_MS: '3000' } });
    relay = new Relay(Number(new URL(chat.url).port));
  });

  afterAll(async () => {
    await relay.stop();
    await chat.stop();
  });

  it('a dead path: the client reconnects within 10 s, others see it offline within 15 s, and it catches up after', async () => {
    const ann = chat.users.add('ann');
    const bob = chat.users.add('bob');
    const room = await createRoom(chat, ann);
    await chat.call('POST', `/api/rooms/${room.id}/members`, { token: bob.token });
    const client = new ChatClient({
      baseUrl: await relay.start(),
      token: () => ann.token,
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      maxReconnectDelayMs: 1_000,
    });
    const states: Array<{ state: ConnectionState; at: number }> = [];
    client.on('state', (state) => states.push({ state, at: Date.now() }));
    const delivered: Message[] = [];
    client.on('message', (message) => delivered.push(message));
    const bobSocket = await chat.connect(bob);
    await client.connect();
    await bobSocket.waitFor((e) => e.type === 'presence' && e.user.id === ann.id && e.status === 'online');
    await bobSocket.request({ type: 'send', roomId: room.id, text: 'before' });
    const waitForText = async (text: string, timeoutMs: number) => {
      const until = Date.now() + timeoutMs;
      while (!delivered.some((message) => message.text === text)) {
        if (Date.now() > until) throw new Error(`"${text}" was not delivered in ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await waitForText('before', 5_000);

    relay.goSilent();
    const cutAt = Date.now();
    await bobSocket.request({ type: 'send', roomId: room.id, text: 'while away' });

    const offline = await bobSocket.waitFor(
      (e) => e.type === 'presence' && e.user.id === ann.id && e.status === 'offline',
      16_000,
    );
    expect(offline).toBeDefined();
    expect(Date.now() - cutAt).toBeLessThanOrEqual(15_000);
    const noticed = states.find(({ state, at }) => state === 'reconnecting' && at >= cutAt);
    expect(noticed).toBeDefined();
    expect(noticed!.at - cutAt).toBeLessThanOrEqual(10_000);

    relay.restore();
    await waitForText('while away', 15_000);
    expect(client.connectionState).toBe('open');
    expect(delivered.map((message) => message.text)).toEqual(['before', 'while away']);
    client.close();
  }, 45_000);
});
