import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import {
  AppError,
  acceptRequestId,
  idSchema,
  REQUEST_ID_HEADER,
  type AccessClaims,
  type Bus,
  type Logger,
  type TokenVerification,
  type UserPublic,
} from '@chat/shared';
import type { ChatPublisher } from '../bus/chat-events.bus';
import type { ChatConfig } from '../config';
import type { ChatService } from '../domain/chat.service';
import type { UserDirectory } from '../domain/ports';
import type { ChatStore } from '../store/chat.store';
import { ClientSocket } from './client-socket';
import { handleFrame, type FrameContext } from './frames';
import { FlushScheduler, outgoing, type Outgoing } from './outbound-queue';
import { Presence, type PresenceBatch, type PresenceStatus } from './presence';
import { CloseCode } from './protocol';
import { TokenBucket } from './rate-limiter';
import { SocketHub } from './socket-hub';
import { originAllowed, refuseUpgrade, upgradeToken } from './upgrade';

/** The path sockets open on (through the gateway: `GET /ws`). */
export const SOCKET_PATH = '/ws';
/** A client is given up when it sends into an empty bucket this many times the burst in a row. */
const STRIKES_PER_BURST = 3;
/** How long a socket may stay over its outbound bound before it is closed with 1013. */
const OUTBOUND_STALL_MS = 2_000;
/** Candidates per membership query when working out who of the online users shares a room. */
const ONLINE_CHUNK = 1_000;

export type SocketServerConfig = Pick<
  ChatConfig,
  | 'CHAT_INSTANCE_ID'
  | 'WS_ALLOWED_ORIGINS'
  | 'HEARTBEAT_INTERVAL_MS'
  | 'WS_MAX_PAYLOAD_BYTES'
  | 'WS_RATE_LIMIT_PER_SECOND'
  | 'WS_RATE_LIMIT_BURST'
  | 'WS_MAX_BUFFERED_BYTES'
  | 'PRESENCE_GRACE_MS'
  | 'PRESENCE_TTL_MS'
>;

export interface SocketServerOptions {
  config: SocketServerConfig;
  logger: Logger;
  bus: Bus;
  chat: ChatService;
  store: ChatStore;
  users: UserDirectory;
  verification: TokenVerification;
  publisher: ChatPublisher;
}

/** What an instance can tell about its sockets, for the instance announcements and for tests. */
export interface SocketStats {
  sockets: number;
  subscribedRooms: number;
  /** The most outbound bytes (queued + buffered) any one socket ever held. */
  peakSocketBytes: number;
  droppedEvents: number;
}

/**
 * The WebSocket edge (api-contract.md, "WebSocket"): authenticates upgrades before any socket opens, sets
 * each session up (hello), handles frames, pings, and ends sockets on expiry, revocation and drain.
 */
export class ChatSocketServer {
  readonly hub: SocketHub;
  readonly presence: Presence;
  private readonly wss: WebSocketServer;
  private readonly scheduler = new FlushScheduler();
  private readonly frames: FrameContext;
  private draining = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopRevocations: (() => void) | undefined;
  private peakSocketBytes = 0;
  private droppedEvents = 0;

  constructor(private readonly options: SocketServerOptions) {
    const { bus, logger, config } = options;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.WS_MAX_PAYLOAD_BYTES,
      clientTracking: false,
    });
    this.wss.on('headers', (headers, req) => {
      headers.push(`${REQUEST_ID_HEADER}: ${String(req.headers[REQUEST_ID_HEADER])}`);
    });
    this.hub = new SocketHub({
      bus,
      logger,
      onRoomAdded: (userId, roomId) => this.presence.roomAdded(userId, roomId),
      onMemberJoined: (roomId, user) => this.presence.memberJoined(roomId, user),
    });
    this.presence = new Presence({
      bus,
      logger,
      instanceId: config.CHAT_INSTANCE_ID,
      graceMs: config.PRESENCE_GRACE_MS,
      ttlMs: config.PRESENCE_TTL_MS,
      notify: (batch) => this.notifyPresence(batch),
    });
    this.frames = {
      chat: options.chat,
      hub: this.hub,
      bus,
      publisher: options.publisher,
      verifier: options.verification.verifier,
      logger,
      renewed: (client) => this.scheduleExpiry(client),
    };
  }

  /** Starts presence, the ping loop and the revocation listener. */
  start(): void {
    this.presence.start();
    this.heartbeat = setInterval(() => this.pingAll(), this.options.config.HEARTBEAT_INTERVAL_MS);
    this.stopRevocations = this.options.verification.revocations.onRevoked((revocation) => {
      if (revocation.kind === 'user') {
        for (const client of this.hub.socketsOf(revocation.userId))
          client.close(CloseCode.FORBIDDEN, 'The user was deleted.');
        return;
      }
      const code = revocation.reason === 'user_deleted' ? CloseCode.FORBIDDEN : CloseCode.SESSION_ENDED;
      for (const client of this.hub.socketsOf(revocation.userId)) {
        if (client.claims.sid === revocation.sessionId) client.close(code, 'The session ended.');
      }
    });
  }

  /** For `server.on('upgrade')`. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', (error) => this.options.logger.debug('upgrade connection failed', { error }));
    this.upgrade(req, socket, head).catch((error: unknown) => {
      this.options.logger.error('upgrade failed', { error });
      refuseUpgrade(socket, 500, 'INTERNAL', 'Something went wrong on our side.');
    });
  };

  get isDraining(): boolean {
    return this.draining;
  }

  stats(): SocketStats {
    let peak = this.peakSocketBytes;
    let dropped = this.droppedEvents;
    for (const client of this.hub.all()) {
      const outbound = client.outbound();
      peak = Math.max(peak, outbound.peakBytes);
      dropped += outbound.dropped;
    }
    return {
      sockets: this.hub.size,
      subscribedRooms: this.hub.subscribedRooms().length,
      peakSocketBytes: peak,
      droppedEvents: dropped,
    };
  }

  /**
   * Refuses new sockets (503) and closes the open ones with 1012, spread evenly over `spreadMs` so their
   * clients do not all reconnect at once; sockets still open at `deadlineMs` are cut.
   */
  async drain(spreadMs: number, deadlineMs: number): Promise<void> {
    this.draining = true;
    const clients = this.hub.all();
    if (clients.length === 0) return;
    const closed = Promise.all(
      clients.map(
        (client) =>
          new Promise<void>((resolve) => {
            if (client.ws.readyState === WebSocket.CLOSED) resolve();
            else client.ws.once('close', () => resolve());
          }),
      ),
    );
    const timers = clients.map((client, index) =>
      setTimeout(
        () => client.close(CloseCode.RESTARTING, 'This chat instance is restarting; reconnect.'),
        (spreadMs * index) / clients.length,
      ),
    );
    let deadline: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      deadline = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([closed, late]);
    clearTimeout(deadline);
    for (const timer of timers) clearTimeout(timer);
    for (const client of this.hub.all()) client.terminate();
  }

  /** Stops presence (releasing users after their grace), the ping loop and every subscription. */
  async stop(): Promise<void> {
    this.draining = true;
    clearInterval(this.heartbeat);
    this.stopRevocations?.();
    for (const client of this.hub.all()) client.terminate();
    await this.presence.stop();
    await this.hub.close();
    this.wss.close();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { logger, config } = this.options;
    const requestId = acceptRequestId(req.headers[REQUEST_ID_HEADER]);
    const refuse = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      // Never the URL: it may carry the token.
      logger.http('socket refused', { path: SOCKET_PATH, status, code, requestId });
      refuseUpgrade(socket, status, code, message, { [REQUEST_ID_HEADER]: requestId, ...headers });
    };
    // A request target such as `//` or `//:99999/ws` is not a path on this base: treat it as any unknown path.
    const url =
      URL.parse(req.url ?? '/', 'http://chat.invalid') ?? new URL('/invalid', 'http://chat.invalid');
    if (url.pathname !== SOCKET_PATH) return refuse(404, 'NOT_FOUND', `${url.pathname} was not found.`);
    if (this.draining)
      return refuse(503, 'UPSTREAM_UNAVAILABLE', 'This chat instance is restarting.', { 'Retry-After': '1' });
    if (!originAllowed(req, config.WS_ALLOWED_ORIGINS))
      return refuse(403, 'FORBIDDEN', 'This origin may not open a socket.');
    const token = upgradeToken(req, url);
    if (!token) return refuse(401, 'UNAUTHENTICATED', 'A valid access token is required.');
    let claims: AccessClaims;
    let user: UserPublic | undefined;
    try {
      claims = await this.options.verification.verifier.verify(token);
      if (!idSchema.safeParse(claims.sub).success)
        return refuse(401, 'UNAUTHENTICATED', 'The access token is not valid.');
      user = await this.options.users.get(claims.sub);
    } catch (error) {
      if (error instanceof AppError && error.code === 'UNAUTHENTICATED')
        return refuse(401, error.code, error.message);
      logger.warn('socket refused: a dependency failed', { error, requestId });
      return refuse(503, 'UPSTREAM_UNAVAILABLE', 'A service this socket needs is unavailable.');
    }
    if (!user) return refuse(401, 'UNAUTHENTICATED', 'This user no longer exists.');
    if (this.draining)
      return refuse(503, 'UPSTREAM_UNAVAILABLE', 'This chat instance is restarting.', { 'Retry-After': '1' });
    if (socket.destroyed) return;
    const profile = user;
    // The 101 carries the request id like every other answer (the `headers` listener reads it back).
    req.headers[REQUEST_ID_HEADER] = requestId;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      logger.http('socket opened', { path: SOCKET_PATH, status: 101, userId: claims.sub, requestId });
      this.open(ws, claims, profile);
    });
  }

  private open(ws: WebSocket, claims: AccessClaims, user: UserPublic): void {
    const { config, logger } = this.options;
    const client = new ClientSocket(ws, user, claims, {
      maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
      maxFrameBytes: config.WS_MAX_PAYLOAD_BYTES,
      stallMs: OUTBOUND_STALL_MS,
      scheduler: this.scheduler,
      limiter: new TokenBucket(
        config.WS_RATE_LIMIT_PER_SECOND,
        config.WS_RATE_LIMIT_BURST,
        STRIKES_PER_BURST * config.WS_RATE_LIMIT_BURST,
      ),
      onOverflow: (overflowing, reason) => {
        logger.warn('socket fell too far behind; closing', { userId: overflowing.userId, reason });
        overflowing.close(CloseCode.TRY_AGAIN_LATER, 'Too far behind: outbound buffer full.');
      },
    });
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => handleFrame(this.frames, client, data, isBinary));
    // `ws` reports protocol errors (a frame over maxPayload, bad UTF-8) here and closes with the right code.
    ws.on('error', (error) => logger.debug('socket error', { userId: client.userId, error }));
    ws.once('close', () => this.closed(client));
    try {
      this.hub.add(client);
      this.presence.socketOpened(user.id);
    } catch (error) {
      logger.error('socket could not be registered', { error });
      client.close(CloseCode.INTERNAL, 'The session could not be set up.');
      return;
    }
    // A revocation that arrived while the upgrade awaited the user lookup found no socket to close.
    if (this.options.verification.revocations.isRevoked(client.claims)) {
      client.close(CloseCode.SESSION_ENDED, 'The session ended.');
      return;
    }
    this.scheduleExpiry(client);
    client.chain = this.setUp(client);
  }

  private async setUp(client: ClientSocket): Promise<void> {
    try {
      const rooms = await this.options.chat.roomsOf(client.userId);
      for (const room of rooms) this.hub.enter(client, room.id);
      const online = await this.onlineAmong(
        client.userId,
        rooms.map((room) => room.id),
      );
      client.open({ type: 'hello', user: client.user, sessionId: client.claims.sid, rooms, online });
    } catch (error) {
      const errorId = randomUUID();
      this.options.logger.error('socket session could not be set up', {
        errorId,
        userId: client.userId,
        error,
      });
      client.close(CloseCode.INTERNAL, 'The session could not be set up.');
    }
  }

  private closed(client: ClientSocket): void {
    const outbound = client.outbound();
    this.peakSocketBytes = Math.max(this.peakSocketBytes, outbound.peakBytes);
    this.droppedEvents += outbound.dropped;
    client.dispose();
    this.hub.remove(client);
    this.presence.socketClosed(client.userId);
  }

  private scheduleExpiry(client: ClientSocket): void {
    client.scheduleExpiry(client.claims, () => client.close(CloseCode.SESSION_ENDED, 'The session expired.'));
  }

  private pingAll(): void {
    for (const client of this.hub.all()) {
      if (!client.alive) {
        this.options.logger.debug('socket did not answer a ping; dropping it', { userId: client.userId });
        client.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }

  /** The online users sharing at least one of `roomIds` with `userId`. */
  private async onlineAmong(userId: string, roomIds: string[]): Promise<UserPublic[]> {
    const candidates = this.presence.tracker.onlineUserIds().filter((id) => id !== userId);
    const ids = await this.membersAmong(roomIds, candidates);
    if (ids.length === 0) return [];
    const profiles = await this.options.users.find(ids);
    return ids.flatMap((id) => profiles.get(id) ?? []);
  }

  /** Those of `userIds` who belong to at least one of `roomIds`, asked in chunks. */
  private async membersAmong(roomIds: readonly string[], userIds: readonly string[]): Promise<string[]> {
    if (roomIds.length === 0 || userIds.length === 0) return [];
    const ids: string[] = [];
    for (let i = 0; i < userIds.length; i += ONLINE_CHUNK) {
      ids.push(...(await this.options.store.membersAmong(roomIds, userIds.slice(i, i + ONLINE_CHUNK))));
    }
    return ids;
  }

  /**
   * Delivers one presence window to local sockets: the transitions, then, for users who just started
   * sharing a room, who of them is online (they may have shared no room before, so no transition of
   * theirs reached the other). Statuses are read from the tracker now; a later change is in a later window,
   * delivered after this one. Re-telling a status a client already has is harmless (one small droppable
   * event), so whether a pair already shared another room is not looked up.
   */
  private async notifyPresence(batch: PresenceBatch): Promise<void> {
    if (this.hub.size === 0) return;
    await this.notifyChanges(batch.changes);
    this.showNewcomers(batch.membersJoined);
    await this.showOnlineMembers(batch.roomsAdded);
  }

  /** Tells each local socket about the users it shares a room with: one serialized event per change. */
  private async notifyChanges(changes: Map<string, PresenceStatus>): Promise<void> {
    if (changes.size === 0) return;
    const userIds = [...changes.keys()];
    const [profiles, roomsByUser] = await Promise.all([
      this.options.users.find(userIds),
      this.options.store.roomIdsOfUsers(userIds),
    ]);
    for (const [userId, status] of changes) {
      const user = profiles.get(userId);
      if (!user) continue;
      const recipients = new Set<ClientSocket>();
      for (const roomId of roomsByUser.get(userId) ?? []) {
        for (const client of this.hub.socketsIn(roomId)) if (client.userId !== userId) recipients.add(client);
      }
      if (recipients.size === 0) continue;
      const item = outgoing({ type: 'presence', user, status }, true);
      for (const client of recipients) client.push(item);
    }
  }

  /** Tells the local sockets of users who became members of rooms which of those rooms' members are online. */
  private async showOnlineMembers(roomsAdded: Map<string, Set<string>>): Promise<void> {
    const rooms = [...roomsAdded].flatMap(([roomId, userIds]) => {
      const here = [...userIds].filter((userId) => this.hub.socketsOf(userId).length > 0);
      return here.length > 0 ? [{ roomId, userIds: here }] : [];
    });
    if (rooms.length === 0) return;
    const online = this.presence.tracker.onlineUserIds();
    const membersByRoom = await Promise.all(rooms.map(({ roomId }) => this.membersAmong([roomId], online)));
    // Whom each newcomer hears about, once even when they joined several rooms with them in one window.
    const shown = new Map<string, Set<string>>();
    rooms.forEach(({ userIds }, index) => {
      for (const userId of userIds) {
        const members = shown.get(userId) ?? new Set<string>();
        for (const memberId of membersByRoom[index]!) if (memberId !== userId) members.add(memberId);
        shown.set(userId, members);
      }
    });
    const profiles = await this.options.users.find([...new Set(membersByRoom.flat())]);
    const items = new Map<string, Outgoing>();
    for (const [userId, members] of shown) {
      const sockets = this.hub.socketsOf(userId);
      for (const memberId of members) {
        const member = profiles.get(memberId);
        // Gone offline meanwhile: the transition is on its way in the next window.
        if (!member || !this.presence.tracker.isOnline(memberId)) continue;
        const item =
          items.get(memberId) ?? outgoing({ type: 'presence', user: member, status: 'online' }, true);
        items.set(memberId, item);
        for (const client of sockets) client.push(item);
      }
    }
  }

  /** Tells the local sockets of rooms that gained members which of the newcomers are online. */
  private showNewcomers(membersJoined: Map<string, Map<string, UserPublic>>): void {
    const recipients = new Map<string, { user: UserPublic; sockets: Set<ClientSocket> }>();
    for (const [roomId, newcomers] of membersJoined) {
      for (const user of newcomers.values()) {
        if (!this.presence.tracker.isOnline(user.id)) continue;
        const entry = recipients.get(user.id) ?? { user, sockets: new Set<ClientSocket>() };
        for (const client of this.hub.socketsIn(roomId))
          if (client.userId !== user.id) entry.sockets.add(client);
        recipients.set(user.id, entry);
      }
    }
    for (const { user, sockets } of recipients.values()) {
      if (sockets.size === 0) continue;
      const item = outgoing({ type: 'presence', user, status: 'online' }, true);
      for (const client of sockets) client.push(item);
    }
  }
}
