import {
  CloseCode,
  FINAL_CLOSE_CODES,
  type Announcement,
  type ClientFrameInput,
  type Message,
  type Room,
  type ServerEvent,
  type ServerEventOf,
  type UserPublic,
} from '@chat/protocol';
import { Emitter } from './emitter';

/** The part of a WebSocket the client uses: the browser's WebSocket and the `ws` package both fit. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** Where the client hears that the device lost or regained its network: a browser's `window`. */
export interface NetworkEvents {
  addEventListener(type: 'offline' | 'online', listener: () => void): void;
  removeEventListener(type: 'offline' | 'online', listener: () => void): void;
}

export interface ChatClientOptions {
  /** The gateway, e.g. `http://localhost:8080`; the socket goes to the same host at `/ws`. */
  baseUrl: string;
  /** The current access token, asked for at every (re)connect and history fetch. */
  token: () => string | Promise<string>;
  /** Opens a socket; defaults to the global WebSocket (browsers). Node passes `(url) => new WebSocket(url)` from `ws`. */
  createSocket?: (url: string) => SocketLike;
  fetch?: typeof fetch;
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** How long a join or leave waits for its reply. Sends wait for their ack across reconnects. */
  replyTimeoutMs?: number;
  /** How often an open socket is pinged. */
  pingIntervalMs?: number;
  /** A socket that sends nothing for this long after a ping is taken for dead: it is dropped and replaced. */
  pingTimeoutMs?: number;
  /** A socket whose `hello` has not come this long after it was opened is dropped and replaced. */
  connectTimeoutMs?: number;
  /**
   * `offline` drops the socket at once, `online` reconnects without waiting out the backoff. Defaults to the
   * global object where it has events (a browser's `window`); `null` listens to nothing.
   */
  network?: NetworkEvents | null;
  /** For jitter; injectable so tests can pin it. */
  random?: () => number;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ClientEvents {
  hello: ServerEventOf<'hello'>;
  /** Each room message exactly once, in `seq` order per room, whether it came live, on rejoin or from history. */
  message: Message;
  /**
   * A message's new state after an edit, a deletion or a reaction, live or caught up on rejoin: replace the
   * message with this id. Each `rev` of a message comes once, and never one older than a `rev` already given.
   */
  'message.updated': Message;
  /** A read position moved: yours (from any of your devices) or, in a direct room, the other member's. */
  read: { roomId: string; userId: string; seq: number };
  presence: { user: UserPublic; status: 'online' | 'offline' };
  typing: { roomId: string; user: UserPublic; active: boolean };
  'member.joined': { roomId: string; user: UserPublic };
  'member.left': { roomId: string; user: UserPublic };
  'room.invited': { room: Room };
  /** A room of yours was renamed, got a topic, or your role in it changed: merge its fields. */
  'room.updated': { room: Room };
  /** A room of yours was deleted. */
  'room.deleted': { roomId: string };
  /** You were removed (or banned) from a room, or left it on another device. */
  'room.removed': { roomId: string };
  announcement: Announcement;
  'session.expiring': { expiresAt: string };
  /** The server took a fresh token (`refresh`): the socket now lives until `expiresAt`. */
  refreshed: { expiresAt: string };
  /** A server `error` frame that answered no request of this client's, or a frame this client cannot read. */
  error: { code: string; message: string };
  state: ConnectionState;
  /** The socket closed; `final` when the client will not reconnect by itself (session ended, forbidden, abuse). */
  closed: { code: number; reason: string; final: boolean };
}

/** A server `error` frame that answered one of this client's requests. */
export class ChatError extends Error {
  override name = 'ChatError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve: (event: ServerEvent) => void;
  reject: (error: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}

type SendFrame = Extract<ClientFrameInput, { type: 'send' }> & { clientMsgId: string };

interface OutboxEntry {
  frame: SendFrame;
  resolve: (message: Message) => void;
  reject: (error: Error) => void;
  /** Times in a row the server refused it as over the rate limit; it waits longer each time. */
  limited: number;
  /** Written on the current socket and not yet answered. */
  sent: boolean;
  retryTimer?: ReturnType<typeof setTimeout>;
}

interface RoomCursor {
  lastSeq?: number;
  lastId?: string;
  /**
   * The room's revision when it was last joined: a rejoin asks for changes after it. Live updates do not
   * move it, since they may arrive out of revision order across instances; a change seen twice is dropped.
   */
  rev?: number;
  /** The highest `rev` of the room's messages given so far: the rejoin's `sinceRev` before any join. */
  seenRev?: number;
  /** A `read` waiting to be sent, and the highest seq it will carry. */
  readTimer?: ReturnType<typeof setTimeout>;
  readSeq?: number;
  /** Messages that arrived past a gap, waiting for the history that fills it. */
  early: Message[];
  repairing: boolean;
}

const OPEN = 1;
/** What a dropped socket reports, as a browser does for a connection that ended without a close frame. */
const ABNORMAL_CLOSE = 1006;
const SEEN_IDS_KEPT = 2_000;
/** Messages whose latest `rev` is remembered, to give each update once. */
const REVS_KEPT = 5_000;
/** A room's read position is sent at most this often. */
const READ_DEBOUNCE_MS = 500;
/** How long an acknowledged message that is not next in seq waits for its own `message` event. */
const ACK_WAITS_FOR_BROADCAST_MS = 1_000;

/** Events are objects with a string `type`; what each carries is the server's contract (`@chat/protocol`). */
function isEvent(value: unknown): value is ServerEvent {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}

/**
 * A fresh id for a message, or a request's `ref`. `randomUUID` exists only in secure contexts; a page served
 * over plain http from a LAN address lacks it.
 */
export function newClientMsgId(): string {
  if (typeof globalThis.crypto.randomUUID === 'function') return globalThis.crypto.randomUUID();
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function globalNetwork(): NetworkEvents | undefined {
  const global = globalThis as Partial<NetworkEvents>;
  return typeof global.addEventListener === 'function' ? (globalThis as unknown as NetworkEvents) : undefined;
}

/**
 * A client for the chat socket protocol. It reconnects with exponential backoff and full jitter, rejoins
 * every room it has seen with `since` the last message it delivered, retries unacknowledged sends with
 * the same `clientMsgId` (the server stores each once), drops duplicates by message id and `seq`, and
 * when it sees a jump in `seq` fetches the missing messages from history before delivering what follows.
 * It pings the server and replaces a socket that stops answering (within `pingIntervalMs + pingTimeoutMs`),
 * and follows the browser's `offline` and `online` events.
 */
export class ChatClient extends Emitter<ClientEvents> {
  private socket: SocketLike | undefined;
  private state: ConnectionState = 'idle';
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  /** Running while the client waits for the socket to say something: a `hello`, or anything after a ping. */
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private unwatchNetwork: (() => void) | undefined;
  private helloWaiters: Array<{
    resolve: (hello: ClientEvents['hello']) => void;
    reject: (error: Error) => void;
  }> = [];
  private readonly pending = new Map<string, Pending>();
  private readonly outbox = new Map<string, OutboxEntry>();
  /** Each room's unacknowledged sends in the order they were made; only the first is ever in flight. */
  private readonly lines = new Map<string, OutboxEntry[]>();
  private readonly rooms = new Map<string, RoomCursor>();
  /** The latest `rev` given of recent messages. */
  private readonly revs = new Map<string, number>();
  private readonly seenIds = new Set<string>();
  private readonly ackTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly options: Required<Omit<ChatClientOptions, 'createSocket' | 'fetch' | 'network'>> &
    Pick<ChatClientOptions, 'createSocket' | 'fetch' | 'network'>;

  constructor(options: ChatClientOptions) {
    super();
    this.options = {
      minReconnectDelayMs: 250,
      maxReconnectDelayMs: 10_000,
      replyTimeoutMs: 10_000,
      pingIntervalMs: 5_000,
      pingTimeoutMs: 4_000,
      connectTimeoutMs: 10_000,
      random: Math.random,
      ...options,
    };
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  /** Opens the socket (again, after a final close) and resolves with the server's `hello`. */
  connect(): Promise<ClientEvents['hello']> {
    const hello = new Promise<ClientEvents['hello']>((resolve, reject) =>
      this.helloWaiters.push({ resolve, reject }),
    );
    if (this.state === 'idle' || this.state === 'closed') {
      this.attempt = 0;
      this.unwatchNetwork ??= this.watchNetwork();
      void this.open('connecting');
    }
    return hello;
  }

  /**
   * Stores `text` in the room; resolves with the stored message once the server acknowledged it. A room's
   * messages are stored in the order `send` was called: each goes once the one before it is acknowledged,
   * a send refused for the rate limit holds back the ones behind it until it goes through, and nothing is
   * given up across reconnects. The promise rejects only when the server refuses the message itself
   * (FORBIDDEN, VALIDATION_FAILED, ...) or the client is closed. A message sent again under the
   * `clientMsgId` it had (one kept across a reload, say) is stored once: the server answers with the first.
   * `replyTo` is the id of a message of the room this one answers; `attachmentIds` are uploads of the user's
   * (`POST /api/attachments`) the message carries, and with at least one `text` may be empty.
   */
  send(
    roomId: string,
    text: string,
    clientMsgId = newClientMsgId(),
    replyTo?: string,
    attachmentIds?: readonly string[],
  ): Promise<Message> {
    const frame: SendFrame = {
      type: 'send',
      roomId,
      text,
      clientMsgId,
      ref: clientMsgId,
      ...(replyTo === undefined ? {} : { replyTo }),
      ...(attachmentIds?.length ? { attachmentIds: [...attachmentIds] } : {}),
    };
    return new Promise<Message>((resolve, reject) => {
      const entry: OutboxEntry = { frame, resolve, reject, limited: 0, sent: false };
      this.outbox.set(clientMsgId, entry);
      const line = this.lines.get(roomId);
      if (line) line.push(entry);
      else this.lines.set(roomId, [entry]);
      this.pump(roomId);
    });
  }

  /** Joins a public room, or confirms membership of any room; missed messages arrive as `message` events. */
  async join(roomId: string): Promise<{ hasMore: boolean }> {
    const cursor = this.cursor(roomId);
    const sinceRev = cursor.rev ?? cursor.seenRev;
    const reply = await this.request({
      type: 'join',
      roomId,
      ...(cursor.lastId ? { since: cursor.lastId } : {}),
      ...(cursor.lastId && sinceRev !== undefined ? { sinceRev } : {}),
    });
    if (reply.type !== 'joined')
      throw new ChatError('UNEXPECTED_REPLY', `Expected joined, got ${reply.type}.`);
    cursor.rev = reply.rev;
    for (const message of reply.missed) this.ingest(message);
    for (const message of reply.changed) this.update(message);
    return { hasMore: reply.hasMore || reply.changedHasMore };
  }

  /** Changes the text of your message; resolves with its new state (also given as `message.updated`). */
  edit(roomId: string, messageId: string, text: string): Promise<Message> {
    return this.change({ type: 'edit', roomId, messageId, text });
  }

  /** Deletes a message (yours, or any in a room you own or moderate, or as an admin): it stays as a tombstone with empty text. */
  deleteMessage(roomId: string, messageId: string): Promise<Message> {
    return this.change({ type: 'delete', roomId, messageId });
  }

  /** Adds (`on`) or removes your reaction with `emoji`. */
  react(roomId: string, messageId: string, emoji: string, on: boolean): Promise<Message> {
    return this.change({ type: 'react', roomId, messageId, emoji, on });
  }

  /**
   * Tells the server you have read the room up to `seq` (never moving back): sent once the calls of the
   * next half second are gathered; your other devices and unread counts follow.
   */
  markRead(roomId: string, seq: number): void {
    const cursor = this.cursor(roomId);
    if (cursor.readSeq !== undefined && seq <= cursor.readSeq) return;
    cursor.readSeq = seq;
    if (cursor.readTimer) return;
    cursor.readTimer = setTimeout(() => {
      cursor.readTimer = undefined;
      const target = cursor.readSeq;
      if (target === undefined || !this.isOpen()) return;
      this.request({ type: 'read', roomId, seq: target }).catch((error: unknown) =>
        this.emit('error', { code: 'READ_FAILED', message: String(error) }),
      );
    }, READ_DEBOUNCE_MS);
  }

  async leave(roomId: string): Promise<void> {
    await this.request({ type: 'leave', roomId });
    this.forget(roomId);
  }

  /** The room is no longer the user's: nothing of it is rejoined or sent. */
  private forget(roomId: string): void {
    clearTimeout(this.rooms.get(roomId)?.readTimer);
    this.rooms.delete(roomId);
  }

  /** Best effort: dropped while disconnected, as a typing signal is worthless later. */
  typing(roomId: string, active: boolean): void {
    if (this.isOpen()) this.write({ type: 'typing', roomId, active });
  }

  /**
   * Tells the client the app already shows `message` (e.g. the newest one of a `history()` page): after a
   * reconnect its room is rejoined with `since` that message, and live copies of it or older ones are dropped.
   */
  markSeen(message: Message): void {
    const cursor = this.cursor(message.roomId);
    if (cursor.lastSeq !== undefined && message.seq <= cursor.lastSeq) return;
    cursor.lastSeq = message.seq;
    cursor.lastId = message.id;
  }

  /**
   * Hands the server a fresh access token for this socket (after a refresh), extending its life; resolves
   * with when the socket now expires. While disconnected there is nothing to extend: the next connect uses
   * the token from `options.token`.
   */
  async refresh(token: string): Promise<{ expiresAt: string } | undefined> {
    if (!this.isOpen()) return undefined;
    const reply = await this.request({ type: 'refresh', token });
    return reply.type === 'refreshed' ? { expiresAt: reply.expiresAt } : undefined;
  }

  async ping(): Promise<void> {
    await this.request({ type: 'ping' });
  }

  /** A page of a room's history over HTTP, oldest first; it does not pass through the `message` events. */
  async history(
    roomId: string,
    page: { before?: string; after?: string; limit?: number } = {},
  ): Promise<{ items: Message[]; hasMore: boolean }> {
    const query = new URLSearchParams();
    if (page.before) query.set('before', page.before);
    if (page.after) query.set('after', page.after);
    if (page.limit) query.set('limit', String(page.limit));
    const doFetch = this.options.fetch ?? globalThis.fetch;
    const response = await doFetch(
      `${this.options.baseUrl}/api/rooms/${encodeURIComponent(roomId)}/messages?${query.toString()}`,
      { headers: { authorization: `Bearer ${await this.options.token()}` } },
    );
    const body = (await response.json()) as {
      items: Message[];
      hasMore: boolean;
      error?: { code: string; message: string };
    };
    if (!response.ok)
      throw new ChatError(body.error?.code ?? 'HTTP_ERROR', body.error?.message ?? response.statusText);
    return body;
  }

  /** Closes for good: no reconnect; unacknowledged sends are rejected. */
  close(): void {
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    this.stopLiveness();
    this.unwatchNetwork?.();
    this.unwatchNetwork = undefined;
    this.socket?.close(CloseCode.NORMAL, 'client closed');
    this.socket = undefined;
    const closed = new ChatError('CLOSED', 'The client was closed.');
    for (const entry of this.outbox.values()) {
      clearTimeout(entry.retryTimer);
      entry.reject(closed);
    }
    this.outbox.clear();
    this.lines.clear();
    for (const timer of this.ackTimers) clearTimeout(timer);
    this.ackTimers.clear();
    this.failPending(closed);
    this.failHelloWaiters(closed);
  }

  private async open(state: 'connecting' | 'reconnecting'): Promise<void> {
    this.setState(state);
    let token: string;
    try {
      token = await this.options.token();
    } catch (error) {
      this.scheduleReconnect();
      this.emit('error', { code: 'TOKEN_UNAVAILABLE', message: String(error) });
      return;
    }
    if (this.state === 'closed') return;
    const url = `${this.options.baseUrl.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`;
    const create =
      this.options.createSocket ?? ((target: string) => new WebSocket(target) as unknown as SocketLike);
    const socket = create(url);
    this.socket = socket;
    this.expectWithin(this.options.connectTimeoutMs, 'no hello in time');
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      // Anything from the server shows the connection works.
      this.clearDeadline();
      this.onFrame(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.onClose(event.code, event.reason);
    };
    socket.onerror = () => {
      // The close event that follows every error carries the code; reconnecting happens there.
    };
  }

  private onFrame(data: unknown): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      this.emit('error', { code: 'INVALID_JSON', message: 'The server sent a frame that is not JSON.' });
      return;
    }
    for (const event of Array.isArray(parsed) ? parsed : [parsed]) {
      if (isEvent(event)) this.onEvent(event);
      else this.emit('error', { code: 'INVALID_EVENT', message: 'The server sent an event without a type.' });
    }
  }

  /** Every server event type is handled here; a type this version does not know is reported, not guessed at. */
  private onEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'hello':
        return this.onHello(event);
      case 'message':
        return this.ingest(event.message);
      case 'message.updated':
        return this.update(event.message);
      case 'read': {
        const waiting = event.ref ? this.pending.get(event.ref) : undefined;
        if (waiting && event.ref) {
          this.settle(event.ref);
          waiting.resolve(event);
        }
        return this.emit('read', { roomId: event.roomId, userId: event.userId, seq: event.seq });
      }
      case 'ack': {
        const request = event.ref ? this.pending.get(event.ref) : undefined;
        if (request && event.ref) {
          this.settle(event.ref);
          return request.resolve(event);
        }
        this.ingestAck(event.message);
        const clientMsgId = event.message.clientMsgId ?? event.ref;
        const entry = clientMsgId ? this.outbox.get(clientMsgId) : undefined;
        if (entry) this.settleSend(entry, () => entry.resolve(event.message));
        return;
      }
      case 'error': {
        const entry = event.ref ? this.outbox.get(event.ref) : undefined;
        if (entry) {
          if (event.code === 'RATE_LIMITED') return this.retryLater(entry);
          this.settleSend(entry, () => entry.reject(new ChatError(event.code, event.message)));
          return;
        }
        const waiting = event.ref ? this.pending.get(event.ref) : undefined;
        if (waiting && event.ref) {
          this.settle(event.ref);
          waiting.reject(new ChatError(event.code, event.message));
          return;
        }
        this.emit('error', { code: event.code, message: event.message });
        return;
      }
      case 'joined':
      case 'left':
      case 'pong':
      case 'refreshed': {
        const waiting = event.ref ? this.pending.get(event.ref) : undefined;
        if (waiting && event.ref) {
          this.settle(event.ref);
          waiting.resolve(event);
        }
        if (event.type === 'refreshed') this.emit('refreshed', { expiresAt: event.expiresAt });
        return;
      }
      case 'presence':
        return this.emit('presence', { user: event.user, status: event.status });
      case 'typing':
        return this.emit('typing', { roomId: event.roomId, user: event.user, active: event.active });
      case 'member.joined':
      case 'member.left':
        return this.emit(event.type, { roomId: event.roomId, user: event.user });
      case 'room.invited':
        this.cursor(event.room.id);
        return this.emit('room.invited', { room: event.room });
      case 'room.updated':
        return this.emit('room.updated', { room: event.room });
      case 'room.deleted':
      case 'room.removed':
        this.forget(event.roomId);
        return this.emit(event.type, { roomId: event.roomId });
      case 'announcement':
        return this.emit('announcement', event.announcement);
      case 'session.expiring':
        return this.emit('session.expiring', { expiresAt: event.expiresAt });
      case 'resync':
        return this.rejoinSeen();
      default: {
        const unknown: { type: string } = event satisfies never;
        return this.emit('error', {
          code: 'UNKNOWN_EVENT',
          message: `The server sent an event this client does not know: ${unknown.type}.`,
        });
      }
    }
  }

  private onHello(hello: ClientEvents['hello']): void {
    this.attempt = 0;
    this.setState('open');
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.probe(), this.options.pingIntervalMs);
    for (const room of hello.rooms) this.cursor(room.id);
    this.emit('hello', hello);
    const waiters = this.helloWaiters;
    this.helloWaiters = [];
    for (const waiter of waiters) waiter.resolve(hello);
    // What was in flight on the last socket may or may not be stored: it goes again under the same
    // clientMsgId, which the server stores once.
    for (const [roomId, line] of this.lines) {
      line[0]!.sent = false;
      this.pump(roomId);
    }
    // Rooms with a delivered message were seen on an earlier socket: catch up on what that one missed.
    this.rejoinSeen();
  }

  /** Joins every room with a delivered message again with `since` it, to catch up on what was missed. */
  private rejoinSeen(): void {
    for (const [roomId, cursor] of this.rooms) {
      if (cursor.lastId) void this.rejoin(roomId);
    }
  }

  /** After a reconnect: what was missed comes with `joined`, and anything past its page from history. */
  private async rejoin(roomId: string): Promise<void> {
    try {
      const { hasMore } = await this.join(roomId);
      if (hasMore) await this.repair(roomId);
    } catch (error) {
      if (error instanceof ChatError && error.code === 'FORBIDDEN') this.rooms.delete(roomId);
      else this.emit('error', { code: 'REJOIN_FAILED', message: String(error) });
    }
  }

  private onClose(code: number, reason: string): void {
    this.socket = undefined;
    this.stopLiveness();
    const final = FINAL_CLOSE_CODES.has(code) || this.state === 'closed';
    this.failPending(new ChatError('DISCONNECTED', `The socket closed (${code}).`));
    this.emit('closed', { code, reason, final });
    if (final) {
      this.setState('closed');
      this.failHelloWaiters(new ChatError('CLOSED', `The server closed the socket (${code} ${reason}).`));
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed') return;
    this.setState('reconnecting');
    const ceiling = Math.min(
      this.options.maxReconnectDelayMs,
      this.options.minReconnectDelayMs * 2 ** this.attempt,
    );
    this.attempt += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = undefined;
        void this.open('reconnecting');
      },
      Math.round(ceiling * this.options.random()),
    );
  }

  /** Pings the open socket; if nothing at all comes back within `pingTimeoutMs`, the socket is dropped. */
  private probe(): void {
    if (!this.isOpen() || this.deadline) return;
    this.write({ type: 'ping' });
    this.expectWithin(this.options.pingTimeoutMs, 'no answer to ping');
  }

  private expectWithin(ms: number, reason: string): void {
    this.clearDeadline();
    this.deadline = setTimeout(() => {
      this.deadline = undefined;
      this.abandon(reason);
    }, ms);
  }

  private clearDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private stopLiveness(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.clearDeadline();
  }

  /**
   * Gives up on a socket that went silent or a network the browser says is gone. A dead connection may take
   * minutes to report its close, so the client does not wait for it: it lets the socket go and reconnects.
   */
  private abandon(reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    socket.close(CloseCode.NORMAL, reason);
    this.onClose(ABNORMAL_CLOSE, reason);
  }

  /** Follows the device's network: gone, the socket is dropped at once; back, the client reconnects at once. */
  private watchNetwork(): (() => void) | undefined {
    const network = this.options.network === undefined ? globalNetwork() : this.options.network;
    if (!network) return undefined;
    const offline = () => this.abandon('the network went offline');
    const online = () => {
      if (this.reconnectTimer === undefined) return this.probe();
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      this.attempt = 0;
      void this.open('reconnecting');
    };
    network.addEventListener('offline', offline);
    network.addEventListener('online', online);
    return () => {
      network.removeEventListener('offline', offline);
      network.removeEventListener('online', online);
    };
  }

  /** Writes the first unacknowledged send of a room, unless it is already in flight or waiting to retry. */
  private pump(roomId: string): void {
    const head = this.lines.get(roomId)?.[0];
    if (!head || head.sent || head.retryTimer || !this.isOpen()) return;
    head.sent = true;
    this.write(head.frame);
  }

  /** A send is answered for good: out of its line, settled, and the next of its room goes. */
  private settleSend(entry: OutboxEntry, settle: () => void): void {
    const { roomId, clientMsgId } = entry.frame;
    this.outbox.delete(clientMsgId);
    clearTimeout(entry.retryTimer);
    const line = this.lines.get(roomId) ?? [];
    line.splice(line.indexOf(entry), 1);
    if (line.length === 0) this.lines.delete(roomId);
    settle();
    this.pump(roomId);
  }

  /**
   * A send the server refused for the rate limit goes again after a backoff with jitter, with the same
   * clientMsgId, and the sends behind it in its room wait for it, so they are stored in order.
   */
  private retryLater(entry: OutboxEntry): void {
    entry.limited += 1;
    entry.sent = false;
    const ceiling = Math.min(
      this.options.maxReconnectDelayMs,
      this.options.minReconnectDelayMs * 2 ** entry.limited,
    );
    clearTimeout(entry.retryTimer);
    entry.retryTimer = setTimeout(
      () => {
        entry.retryTimer = undefined;
        this.pump(entry.frame.roomId);
      },
      // Half fixed, half random: an immediate retry would only meet the same empty bucket.
      Math.round(ceiling / 2 + (ceiling / 2) * this.options.random()),
    );
  }

  /**
   * The ack comes straight back from the instance that stored the message, while messages that other
   * instances stored just before it come over NATS and may arrive after it. Taken as the next message only
   * when it follows the last one delivered; otherwise (also in a room with no message delivered yet, where
   * it would set the starting point and the earlier ones would be dropped) its own `message` event, which
   * follows theirs, delivers it. Should that never come (a resend whose first attempt an instance stored and
   * died before announcing), the ack delivers it after a while, through the usual gap repair.
   */
  private ingestAck(message: Message): void {
    const cursor = this.cursor(message.roomId);
    if (cursor.lastSeq !== undefined && message.seq <= cursor.lastSeq + 1) return this.ingest(message);
    const timer = setTimeout(() => {
      this.ackTimers.delete(timer);
      this.ingest(message);
    }, ACK_WAITS_FOR_BROADCAST_MS);
    this.ackTimers.add(timer);
  }

  /** Gives a message's new state once per `rev`, and never one older than a `rev` already given. */
  private update(message: Message): void {
    const known = this.revs.get(message.id);
    if (known !== undefined && message.rev <= known) return;
    this.revs.delete(message.id);
    this.revs.set(message.id, message.rev);
    if (this.revs.size > REVS_KEPT) this.revs.delete(this.revs.keys().next().value as string);
    this.noteRev(this.cursor(message.roomId), message.rev);
    this.emit('message.updated', message);
  }

  private noteRev(cursor: RoomCursor, rev: number): void {
    if (cursor.seenRev === undefined || rev > cursor.seenRev) cursor.seenRev = rev;
  }

  private async change(
    frame: Extract<ClientFrameInput, { type: 'edit' | 'delete' | 'react' }>,
  ): Promise<Message> {
    const reply = await this.request(frame);
    if (reply.type !== 'ack') throw new ChatError('UNEXPECTED_REPLY', `Expected ack, got ${reply.type}.`);
    this.update(reply.message);
    return reply.message;
  }

  /** Delivers room messages once each and in order; a jump in `seq` holds later ones until history fills it. */
  private ingest(message: Message): void {
    if (this.seenIds.has(message.id)) return;
    const cursor = this.cursor(message.roomId);
    if (cursor.lastSeq !== undefined && message.seq <= cursor.lastSeq) return;
    if (cursor.lastSeq !== undefined && message.seq > cursor.lastSeq + 1) {
      cursor.early.push(message);
      if (!cursor.repairing) void this.repair(message.roomId);
      return;
    }
    this.deliver(cursor, message);
  }

  private deliver(cursor: RoomCursor, message: Message): void {
    cursor.lastSeq = message.seq;
    cursor.lastId = message.id;
    this.noteRev(cursor, message.rev);
    this.seenIds.add(message.id);
    if (this.seenIds.size > SEEN_IDS_KEPT) this.seenIds.delete(this.seenIds.values().next().value as string);
    this.emit('message', message);
  }

  /** Fetches history after the last delivered message until caught up, then releases held messages. */
  private async repair(roomId: string): Promise<void> {
    const cursor = this.cursor(roomId);
    if (cursor.repairing) return;
    cursor.repairing = true;
    try {
      let hasMore = true;
      while (hasMore && cursor.lastId) {
        const page = await this.history(roomId, { after: cursor.lastId, limit: 200 });
        for (const message of page.items) {
          if (cursor.lastSeq === undefined || message.seq === cursor.lastSeq + 1)
            this.deliver(cursor, message);
        }
        hasMore = page.hasMore && page.items.length > 0;
      }
    } catch (error) {
      this.emit('error', { code: 'HISTORY_FAILED', message: String(error) });
    } finally {
      cursor.repairing = false;
    }
    const early = cursor.early.sort((a, b) => a.seq - b.seq);
    cursor.early = [];
    for (const message of early) this.ingest(message);
  }

  private cursor(roomId: string): RoomCursor {
    let cursor = this.rooms.get(roomId);
    if (!cursor) {
      cursor = { early: [], repairing: false };
      this.rooms.set(roomId, cursor);
    }
    return cursor;
  }

  private request(frame: Exclude<ClientFrameInput, { type: 'send' }>): Promise<ServerEvent> {
    if (!this.isOpen()) return Promise.reject(new ChatError('DISCONNECTED', 'The socket is not open.'));
    const ref = newClientMsgId();
    return new Promise<ServerEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new ChatError('TIMEOUT', `No reply to ${frame.type} in ${this.options.replyTimeoutMs} ms.`));
      }, this.options.replyTimeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
      this.write({ ...frame, ref });
    });
  }

  private settle(ref: string): void {
    clearTimeout(this.pending.get(ref)?.timer);
    this.pending.delete(ref);
  }

  private failPending(error: Error): void {
    for (const [ref, waiting] of this.pending) {
      this.settle(ref);
      waiting.reject(error);
    }
  }

  private failHelloWaiters(error: Error): void {
    const waiters = this.helloWaiters;
    this.helloWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  private write(frame: ClientFrameInput): void {
    this.socket?.send(JSON.stringify(frame));
  }

  private isOpen(): boolean {
    return this.state === 'open' && this.socket?.readyState === OPEN;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }
}
