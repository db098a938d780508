import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  acceptRequestId,
  AppError,
  InternalError,
  REQUEST_ID_HEADER,
  UpstreamUnavailableError,
  type AccessClaims,
  type Logger,
  type TokenVerification,
} from '@chat/shared';
import { CloseCode, type UserPublic } from '@chat/protocol';
import type { PresenceBus } from '../bus/presence.bus';
import type { ChatConfig } from '../config';
import type { ChatService } from '../domain/chat.service';
import type { PeopleService } from '../domain/people.service';
import type { UserDirectory } from '../domain/ports';
import { ClientSocket, type ClientSocketOptions } from './client-socket';
import { drainSockets } from './drain';
import { handleFrame, type FrameContext } from './frames';
import { FlushScheduler } from './outbound-queue';
import { Presence } from './presence';
import { PresenceDelivery } from './presence-delivery';
import { TokenBucket } from './rate-limiter';
import { SessionClock } from './session-clock';
import { SessionLifetime } from './session-lifetime';
import { clientVisible, refuseUpgrade } from './socket-errors';
import type { SocketHub } from './socket-hub';
import { authenticateUpgrade, SOCKET_PATH } from './upgrade';
import { UserQuotas } from './user-quotas';

/** A client is given up when it sends into an empty bucket this many times the burst in a row. */
const STRIKES_PER_BURST = 3;
/** How long a socket may stay over its outbound bound before it is closed with 1013. */
const OUTBOUND_STALL_MS = 2_000;

export type SocketServerConfig = Pick<
  ChatConfig,
  | 'CHAT_INSTANCE_ID'
  | 'WS_ALLOWED_ORIGINS'
  | 'HEARTBEAT_INTERVAL_MS'
  | 'WS_MAX_PAYLOAD_BYTES'
  | 'WS_RATE_LIMIT_PER_SECOND'
  | 'WS_RATE_LIMIT_BURST'
  | 'WS_MAX_PENDING_FRAMES'
  | 'WS_MAX_SOCKETS_PER_USER'
  | 'MESSAGES_PER_USER_PER_SECOND'
  | 'MESSAGES_PER_USER_BURST'
  | 'WS_MAX_BUFFERED_BYTES'
  | 'PRESENCE_GRACE_MS'
  | 'PRESENCE_MAX_ROOM_MEMBERS'
  | 'PRESENCE_TTL_MS'
>;

export interface SocketServerOptions {
  config: SocketServerConfig;
  logger: Logger;
  hub: SocketHub;
  presenceBus: PresenceBus;
  chat: ChatService;
  people: PeopleService;
  users: UserDirectory;
  verification: TokenVerification;
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
 * The WebSocket edge (docs/asyncapi.md): upgrades are authenticated before any socket opens
 * (`upgrade.ts`); each socket is set up with its rooms and `hello`, then its frames are handled
 * (`frames.ts`); `session-lifetime.ts` ends it on revocation or silence and `session-clock.ts` at expiry
 * (one timer for every socket); presence goes out through
 * `presence-delivery.ts`; `drain.ts` closes every socket when the instance stops.
 */
export class ChatSocketServer {
  readonly presence: Presence;
  private readonly wss: WebSocketServer;
  private readonly scheduler = new FlushScheduler();
  private readonly clock = new SessionClock<ClientSocket>();
  private readonly frames: FrameContext;
  private readonly lifetime: SessionLifetime;
  private readonly delivery: PresenceDelivery;
  private readonly quotas: UserQuotas;
  private draining = false;
  private peakSocketBytes = 0;
  private droppedEvents = 0;

  /** The client of each open `ws`, for the listeners every socket shares. */
  private readonly clients = new WeakMap<WebSocket, ClientSocket>();
  private readonly clientOptions: ClientSocketOptions;
  /**
   * One set of listeners for every socket (`this` is the socket): closures made per socket would cost each
   * idle socket a few hundred bytes.
   */
  private readonly listeners: {
    pong: (this: WebSocket) => void;
    message: (this: WebSocket, data: RawData, isBinary: boolean) => void;
    error: (this: WebSocket, error: Error) => void;
    close: (this: WebSocket) => void;
  };

  constructor(private readonly options: SocketServerOptions) {
    const { logger, config, hub } = options;
    this.clientOptions = {
      maxBytes: config.WS_MAX_BUFFERED_BYTES,
      maxFrameBytes: config.WS_MAX_PAYLOAD_BYTES,
      stallMs: OUTBOUND_STALL_MS,
      requestFlush: this.scheduler.request,
      frames: this.scheduler.frames,
      clock: this.clock,
      onOverflow: (client, reason) => {
        logger.warn('socket fell too far behind; closing', { userId: client.userId, reason });
        client.close(CloseCode.TRY_AGAIN_LATER, 'Too far behind: outbound buffer full.');
      },
    };
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.WS_MAX_PAYLOAD_BYTES,
      clientTracking: false,
    });
    this.wss.on('headers', (headers, req) => {
      headers.push(`${REQUEST_ID_HEADER}: ${String(req.headers[REQUEST_ID_HEADER])}`);
    });
    this.presence = new Presence({
      bus: options.presenceBus,
      logger,
      instanceId: config.CHAT_INSTANCE_ID,
      graceMs: config.PRESENCE_GRACE_MS,
      ttlMs: config.PRESENCE_TTL_MS,
      notify: (batch) => this.delivery.notify(batch),
    });
    this.delivery = new PresenceDelivery({
      hub,
      chat: options.chat,
      users: options.users,
      tracker: this.presence.tracker,
      maxRoomMembers: config.PRESENCE_MAX_ROOM_MEMBERS,
    });
    hub.observe(this.presence);
    hub.observe({
      memberJoined: (roomId) => options.chat.roomChanged(roomId),
      memberLeft: (roomId) => options.chat.roomChanged(roomId),
      roomChanged: (roomId) => options.chat.roomChanged(roomId),
    });
    this.lifetime = new SessionLifetime({
      hub,
      verification: options.verification,
      logger,
      heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    });
    this.quotas = new UserQuotas({
      maxSockets: config.WS_MAX_SOCKETS_PER_USER,
      messagesPerSecond: config.MESSAGES_PER_USER_PER_SECOND,
      messagesBurst: config.MESSAGES_PER_USER_BURST,
    });
    this.frames = {
      chat: options.chat,
      hub,
      verifier: options.verification.verifier,
      logger,
      quotas: this.quotas,
      maxPendingFrames: config.WS_MAX_PENDING_FRAMES,
      renewed: this.lifetime.renewed,
    };
    const clients = this.clients;
    const frames = this.frames;
    const closed = (client: ClientSocket) => this.closed(client);
    this.listeners = {
      pong() {
        const client = clients.get(this);
        if (client) client.alive = true;
      },
      message(data, isBinary) {
        const client = clients.get(this);
        if (client) handleFrame(frames, client, data, isBinary);
      },
      // `ws` reports protocol errors (a frame over maxPayload, bad UTF-8) here and closes with the right code.
      error(error) {
        logger.debug('socket error', { userId: clients.get(this)?.userId, error });
      },
      close() {
        const client = clients.get(this);
        if (client) closed(client);
      },
    };
  }

  /** Starts presence, the ping loop and the revocation listener. */
  start(): void {
    this.presence.start();
    this.lifetime.start();
  }

  /** Kept by every upgraded connection for its whole life: one function for all of them. */
  private readonly onConnectionError = (error: Error): void => {
    this.options.logger.debug('upgrade connection failed', { error });
  };

  /** For `server.on('upgrade')`. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', this.onConnectionError);
    this.upgrade(req, socket, head).catch((error: unknown) => {
      this.options.logger.error('upgrade failed', { error });
      refuseUpgrade(socket, new InternalError());
    });
  };

  get isDraining(): boolean {
    return this.draining;
  }

  stats(): SocketStats {
    let peak = this.peakSocketBytes;
    let dropped = this.droppedEvents;
    for (const client of this.options.hub.all()) {
      const outbound = client.outbound();
      peak = Math.max(peak, outbound.peakBytes);
      dropped += outbound.dropped;
    }
    return {
      sockets: this.options.hub.size,
      subscribedRooms: this.options.hub.subscribedRooms().length,
      peakSocketBytes: peak,
      droppedEvents: dropped,
    };
  }

  /** Refuses new sockets (503) and closes the open ones with 1012 (see {@link drainSockets}). */
  async drain(spreadMs: number, deadlineMs: number): Promise<void> {
    this.draining = true;
    await drainSockets(this.options.hub.all(), spreadMs, deadlineMs);
  }

  /** Stops presence (releasing users after their grace), the ping loop and every subscription. */
  async stop(): Promise<void> {
    this.draining = true;
    this.lifetime.stop();
    for (const client of this.options.hub.all()) client.terminate();
    this.clock.stop();
    await this.presence.stop();
    await this.options.hub.close();
    this.wss.close();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { logger, config } = this.options;
    const requestId = acceptRequestId(req.headers[REQUEST_ID_HEADER]);
    const refuse = (error: AppError) => {
      // Never the URL: it may carry the token.
      logger.http('socket refused', { path: SOCKET_PATH, code: error.code, requestId });
      if (error.code === 'UPSTREAM_UNAVAILABLE')
        logger.warn('socket refused: a dependency failed', { error: error.cause, requestId });
      refuseUpgrade(socket, error, { [REQUEST_ID_HEADER]: requestId });
    };
    const restarting = () => new UpstreamUnavailableError('This chat instance is restarting.');
    if (this.draining) return refuse(restarting());
    // Known to be down: refuse now rather than open a socket that cannot get its hello.
    if (!this.options.chat.storeConnected())
      return refuse(new UpstreamUnavailableError('The database is unavailable.'));
    let identity;
    try {
      identity = await authenticateUpgrade(req, {
        allowedOrigins: config.WS_ALLOWED_ORIGINS,
        verification: this.options.verification,
        users: this.options.users,
      });
    } catch (error) {
      if (error instanceof AppError) return refuse(error);
      throw error;
    }
    if (this.draining) return refuse(restarting());
    if (socket.destroyed) return;
    const { claims, user } = identity;
    // Checked and counted with no await between: the upgrade below completes synchronously into open().
    try {
      this.quotas.checkSocket(claims.sub);
    } catch (error) {
      if (error instanceof AppError) return refuse(error);
      throw error;
    }
    // The 101 carries the request id like every other answer (the `headers` listener reads it back).
    req.headers[REQUEST_ID_HEADER] = requestId;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      logger.http('socket opened', { path: SOCKET_PATH, status: 101, userId: claims.sub, requestId });
      this.open(ws, claims, user);
    });
  }

  private open(ws: WebSocket, claims: AccessClaims, user: UserPublic): void {
    const { config, logger, hub } = this.options;
    const limiter = new TokenBucket(
      config.WS_RATE_LIMIT_PER_SECOND,
      config.WS_RATE_LIMIT_BURST,
      STRIKES_PER_BURST * config.WS_RATE_LIMIT_BURST,
    );
    const client = new ClientSocket(ws, user, claims, limiter, this.clientOptions);
    this.clients.set(ws, client);
    ws.on('pong', this.listeners.pong);
    ws.on('message', this.listeners.message);
    ws.on('error', this.listeners.error);
    // `close` comes once; `once` would wrap the listener in a bound function and a state object per socket.
    ws.on('close', this.listeners.close);
    this.quotas.socketOpened(user.id);
    try {
      hub.add(client);
      this.presence.socketOpened(user.id);
    } catch (error) {
      logger.error('socket could not be registered', { error });
      client.close(CloseCode.INTERNAL, 'The session could not be set up.');
      return;
    }
    if (!this.lifetime.begin(client)) return;
    client.chain = this.setUp(client);
  }

  /**
   * Enters the socket into its user's rooms and sends `hello`. A store that fails here (after the 101)
   * closes the socket with 1013, so the client tries again after a backoff.
   */
  private async setUp(client: ClientSocket): Promise<void> {
    try {
      const [rooms, announcements] = await Promise.all([
        this.options.chat.helloRooms(client.userId),
        this.options.people.latestAnnouncements(),
      ]);
      for (const room of rooms) this.options.hub.enter(client, room.id);
      const online = await this.delivery.onlineAmong(client.userId, rooms);
      client.open({
        type: 'hello',
        user: client.user,
        sessionId: client.claims.sid,
        rooms,
        online,
        presenceMaxRoomMembers: this.options.config.PRESENCE_MAX_ROOM_MEMBERS,
        announcements,
      });
    } catch (error) {
      const unavailable = clientVisible(error)?.code === 'UPSTREAM_UNAVAILABLE';
      this.options.logger[unavailable ? 'warn' : 'error']('socket session could not be set up', {
        userId: client.userId,
        error,
      });
      client.close(
        unavailable ? CloseCode.TRY_AGAIN_LATER : CloseCode.INTERNAL,
        'The session could not be set up.',
      );
    }
  }

  private closed(client: ClientSocket): void {
    const outbound = client.outbound();
    this.peakSocketBytes = Math.max(this.peakSocketBytes, outbound.peakBytes);
    this.droppedEvents += outbound.dropped;
    client.dispose();
    this.options.hub.remove(client);
    this.presence.socketClosed(client.userId);
    this.quotas.socketClosed(client.userId);
  }
}
