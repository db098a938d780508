import type { WebSocket } from 'ws';
import type { AccessClaims } from '@chat/shared';
import { CloseCode, type ServerEvent, type ServerEventOf, type UserPublic } from '@chat/protocol';
import { OutboundQueue, outgoing, type OutboundQueueOptions, type Outgoing } from './outbound-queue';
import type { TokenBucket } from './rate-limiter';
import type { SessionClock } from './session-clock';

/**
 * What every socket of a server shares (one object, not one per socket: an idle socket's memory is
 * mostly its own objects). `onOverflow` is called once when the socket is given up, with the reason for
 * the 1013 close; `maxBytes` also bounds what waits before the hello.
 */
export type ClientSocketOptions = OutboundQueueOptions<ClientSocket> & {
  /** Where every socket's session deadlines wait. */
  clock: SessionClock<ClientSocket>;
};

/** What a socket keeps of its token: who, in which session, until when (not its issuer, audience, iat). */
export type SocketClaims = Pick<AccessClaims, 'sub' | 'username' | 'role' | 'sid' | 'exp'>;

const keptOf = ({ sub, username, role, sid, exp }: SocketClaims): SocketClaims => ({
  sub,
  username,
  role,
  sid,
  exp,
});

/** `session.expiring` goes out this long before the token expires. */
const EXPIRING_NOTICE_MS = 60_000;
/** The chain of a socket that has not sent a frame yet: one settled promise for all of them. */
const SETTLED: Promise<void> = Promise.resolve();

/**
 * One open socket: who it is (claims and profile), the rooms it receives, its outbound queue, and its
 * session deadlines (on the server's {@link SessionClock}). Events pushed before the hello is sent wait
 * behind it, so a client always hears `hello` first and misses nothing that happened while its session was
 * being set up.
 */
export class ClientSocket {
  readonly rooms = new Set<string>();
  /** Answered the last ping (or has not been pinged yet). */
  alive = true;
  /** Client frames are handled one after another, in order; this is the tail of that line. */
  chain: Promise<void> = SETTLED;
  /** Frames accepted and not yet answered. */
  pending = 0;
  private readonly queue: OutboundQueue<ClientSocket>;
  private early: Outgoing[] | undefined = [];
  private earlyBytes = 0;
  private closing = false;
  /** The second the socket's next session deadline is due ({@link SessionClock}). */
  dueSecond: number | undefined;
  private expiringNoticeDue = true;
  private kept: SocketClaims;

  constructor(
    readonly ws: WebSocket,
    readonly user: UserPublic,
    claims: AccessClaims,
    readonly limiter: TokenBucket,
    private readonly options: ClientSocketOptions,
  ) {
    this.kept = keptOf(claims);
    this.queue = new OutboundQueue<ClientSocket>(ws, options, this);
  }

  get claims(): SocketClaims {
    return this.kept;
  }

  /** The socket goes on under a fresh token of the same user (a `refresh` frame); see {@link scheduleExpiry}. */
  renew(claims: AccessClaims): void {
    this.kept = keptOf(claims);
  }

  get userId(): string {
    return this.user.id;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /** Queued plus buffered outbound bytes, and the most it ever held. */
  outbound(): { bytes: number; peakBytes: number; dropped: number } {
    return {
      bytes: this.queue.pressure(),
      peakBytes: this.queue.peakBytes,
      dropped: this.queue.droppedEvents,
    };
  }

  /** Queues one serialized event (shared between sockets). */
  push(item: Outgoing): void {
    if (this.closing) return;
    if (!this.early) return this.queue.push(item);
    this.early.push(item);
    this.earlyBytes += item.bytes;
    if (this.earlyBytes > this.options.maxBytes) {
      this.options.onOverflow(this, 'too many events before the session was ready');
    }
  }

  send(event: ServerEvent): void {
    this.push(outgoing(event));
  }

  /** Sends the hello, then whatever arrived while the session was being set up. */
  open(hello: ServerEventOf<'hello'>): void {
    const early = this.early ?? [];
    this.early = undefined;
    if (this.closing) return;
    this.queue.pushOwed(outgoing(hello));
    for (const item of early) this.queue.push(item);
  }

  /** (Re)schedules `session.expiring` a minute before `exp` and the 4001 close at `exp`. */
  scheduleExpiry(): void {
    this.expiringNoticeDue = true;
    this.onDue();
  }

  /**
   * When the clock finds the socket's deadline come (and on scheduling): the notice, the close, or a wait on
   * the clock for either; nothing once the socket is disposed.
   */
  onDue(): void {
    if (this.queue.isClosed) return;
    const expiresAt = this.kept.exp * 1000;
    const noticeAt = expiresAt - EXPIRING_NOTICE_MS;
    const now = Date.now();
    if (this.expiringNoticeDue && now >= noticeAt) {
      this.send({ type: 'session.expiring', expiresAt: new Date(expiresAt).toISOString() });
      this.expiringNoticeDue = false;
    }
    if (!this.expiringNoticeDue && now >= expiresAt)
      return this.close(CloseCode.SESSION_ENDED, 'The session expired.');
    this.options.clock.schedule(this, this.expiringNoticeDue ? noticeAt : expiresAt);
  }

  /** Closes with `code` once; nothing more is sent after the close frame. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.dispose();
    this.ws.close(code, reason);
  }

  /** Closes without a handshake (dead peer, or a drain past its deadline). */
  terminate(): void {
    this.closing = true;
    this.dispose();
    this.ws.terminate();
  }

  /** Stops the timers and empties the queue; the socket is gone or going. */
  dispose(): void {
    this.early = undefined;
    this.queue.close();
    this.options.clock.cancel(this);
  }
}
