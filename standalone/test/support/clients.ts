import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { ChatClient, type SocketLike } from '@chat/client';
import type { Message } from '@chat/protocol';
import { sleep } from './processes';

// Tests read whatever the server answered.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** A REST call through the gateway. */
export async function api(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** A signed-up, logged-in user. */
export interface Account {
  id: string;
  username: string;
  token: string;
}

/** Signs a new user up and logs them in, through the gateway as a browser would. */
export async function signUp(baseUrl: string, name: string): Promise<Account> {
  const username = `${name}_${randomBytes(4).toString('hex')}`;
  const password = 'correct horse battery';
  const created = await api(baseUrl, 'POST', '/api/users', { body: { username, password } });
  if (created.status !== 201) throw new Error(`signup: ${created.status} ${JSON.stringify(created.body)}`);
  const login = await api(baseUrl, 'POST', '/api/auth/login', { body: { username, password } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  return { id: created.body.id, username, token: login.body.accessToken };
}

/** Every message of a room, oldest first, read page by page from history. */
export async function history(baseUrl: string, account: Account, roomId: string): Promise<Message[]> {
  const items: Message[] = [];
  for (;;) {
    const after = items.length > 0 ? `&after=${items[items.length - 1]!.id}` : '';
    const page = await api(baseUrl, 'GET', `/api/rooms/${roomId}/messages?limit=200${after}`, {
      token: account.token,
    });
    if (page.status !== 200) throw new Error(`history: ${page.status} ${JSON.stringify(page.body)}`);
    items.push(...(page.body.items as Message[]));
    if (!page.body.hasMore) return items;
  }
}

/** Polls `check` until it answers something other than undefined. */
export async function eventually<T>(
  check: () => T | undefined,
  timeoutMs: number,
  what: string | (() => string),
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = check();
    if (result !== undefined) return result;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    await sleep(20);
  }
}

/** What one socket of a member received, frame by frame (array frames unpacked), and how it ended. */
export interface SocketRecord {
  events: Json[];
  closed?: { code: number; at: number };
}

/**
 * A user in the app: a {@link ChatClient} through the gateway (reconnecting, rejoining, resending and
 * deduplicating as the browser client does), with everything it delivered recorded, and every raw event
 * each of its sockets received, to check what the server sent apart from what the client library fixed.
 */
export class Member {
  readonly client: ChatClient;
  readonly sockets: SocketRecord[] = [];
  /** Messages the client delivered to the app, per room, in delivery order. */
  readonly delivered = new Map<string, Message[]>();
  readonly presence: Array<{ userId: string; status: 'online' | 'offline'; at: number }> = [];
  readonly typing: Array<{ roomId: string; userId: string; active: boolean }> = [];
  readonly closes: Array<{ code: number; final: boolean; at: number }> = [];
  hellos = 0;

  constructor(
    readonly account: Account,
    baseUrl: string,
  ) {
    this.client = new ChatClient({
      baseUrl,
      token: () => account.token,
      createSocket: (url) => this.open(url),
      minReconnectDelayMs: 100,
      maxReconnectDelayMs: 1_000,
      replyTimeoutMs: 5_000,
    });
    this.client.on('hello', () => void (this.hellos += 1));
    this.client.on('message', (message) => {
      const list = this.delivered.get(message.roomId) ?? [];
      list.push(message);
      this.delivered.set(message.roomId, list);
    });
    this.client.on('presence', ({ user, status }) =>
      this.presence.push({ userId: user.id, status, at: Date.now() }),
    );
    this.client.on('typing', ({ roomId, user, active }) =>
      this.typing.push({ roomId, userId: user.id, active }),
    );
    this.client.on('closed', ({ code, final }) => this.closes.push({ code, final, at: Date.now() }));
  }

  get id(): string {
    return this.account.id;
  }

  /** Opens the client and resolves on its first `hello`. */
  async connect(): Promise<this> {
    await this.client.connect();
    return this;
  }

  /** The current socket's record. */
  get socket(): SocketRecord {
    return this.sockets[this.sockets.length - 1]!;
  }

  deliveredIds(roomId: string): string[] {
    return (this.delivered.get(roomId) ?? []).map((message) => message.id);
  }

  /** The raw `message` events one socket received for `roomId`, in arrival order. */
  static messagesOn(socket: SocketRecord, roomId: string): Message[] {
    return socket.events
      .filter((event) => event.type === 'message' && event.message.roomId === roomId)
      .map((event) => event.message as Message);
  }

  /** The last presence status this member was told for `userId`, if any. */
  lastPresenceOf(userId: string): 'online' | 'offline' | undefined {
    return this.presence.filter((entry) => entry.userId === userId).at(-1)?.status;
  }

  close(): void {
    this.client.close();
  }

  private open(url: string): SocketLike {
    const ws = new WebSocket(url);
    const record: SocketRecord = { events: [] };
    this.sockets.push(record);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const parsed = JSON.parse(data.toString('utf8')) as Json;
      record.events.push(...(Array.isArray(parsed) ? parsed : [parsed]));
    });
    ws.on('close', (code: number) => {
      record.closed = { code, at: Date.now() };
    });
    // The `ws` WebSocket has the browser's on* properties; only its event types are richer.
    return ws as unknown as SocketLike;
  }
}
