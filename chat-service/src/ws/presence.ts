import type { Logger, Subscription } from '@chat/shared';
import type { UserPublic } from '@chat/protocol';
import type { PresenceBus } from '../bus/presence.bus';
import { PresenceTracker, type PresenceChange } from './presence-tracker';

/** Changes within this window reach clients together: a burst of connections is one frame per recipient. */
const BATCH_WINDOW_MS = 50;

export type PresenceStatus = PresenceChange['status'];

/** What one window gathered for this instance's sockets. */
export interface PresenceBatch {
  /** The net changes (online somewhere ↔ nowhere), in order of first change. */
  changes: Map<string, PresenceStatus>;
  /** Room id → users with sockets here who became its members: they hear which of its members are online. */
  roomsAdded: Map<string, Set<string>>;
  /** Room id → users who became its members (`member.joined`): its sockets here hear those who are online. */
  membersJoined: Map<string, Map<string, UserPublic>>;
}

function emptyBatch(): PresenceBatch {
  return { changes: new Map(), roomsAdded: new Map(), membersJoined: new Map() };
}

function isEmpty(batch: PresenceBatch): boolean {
  return batch.changes.size + batch.roomsAdded.size + batch.membersJoined.size === 0;
}

export interface PresenceOptions {
  bus: PresenceBus;
  logger: Logger;
  instanceId: string;
  /** How long a user's last local socket may be gone before this instance lets them go. */
  graceMs: number;
  /** Heartbeats go out every ttlMs / 3; an instance silent for ttlMs is gone. */
  ttlMs: number;
  /** Tells local sockets what one window gathered; one call at a time, in order. */
  notify: (batch: PresenceBatch) => Promise<void>;
}

/**
 * Presence across chat instances (docs/asyncapi.md, `presence`: online when a user's first socket opens anywhere,
 * offline when the last one closes).
 *
 * Each instance counts its own sockets per user and says on `chat.presence` when it starts holding a user
 * (their first socket here) and when it stops (their last socket here closed PRESENCE_GRACE_MS ago and none
 * came back, so a reconnect does not flap). It says so whether or not the user is online elsewhere, since
 * the others need to know every holder to tell when the last one lets go. Every ttlMs / 3 it sends the
 * full list it holds (`chat.presence.heartbeat`), which repairs lost notices; an instance whose heartbeat
 * is older than its TTL is taken as crashed, and its users go offline unless held elsewhere. Every instance
 * runs the same {@link PresenceTracker} over these facts and notifies its own sockets of the transitions.
 *
 * Transitions alone miss users who start sharing a room while both are online (an invitation, a join, a
 * new direct room): neither changed, so neither would hear of the other. The membership notices every
 * instance already receives fill that in ({@link roomAdded}, {@link memberJoined}), through the same
 * window, so they are coalesced with the transitions and delivered in order with them.
 */
export class Presence {
  readonly tracker: PresenceTracker;
  private readonly local = new Map<string, number>();
  private readonly grace = new Map<string, NodeJS.Timeout>();
  private graceSettled: (() => void)[] = [];
  private batch = emptyBatch();
  private batchTimer: NodeJS.Timeout | undefined;
  private delivering: Promise<void> = Promise.resolve();
  private subscriptions: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(private readonly options: PresenceOptions) {
    this.tracker = new PresenceTracker(options.instanceId, options.ttlMs);
  }

  start(): void {
    const { bus } = this.options;
    this.subscriptions = bus.listen({
      notice: ({ instanceId: from, userId, status }) => {
        const now = Date.now();
        this.changed(
          status === 'online'
            ? this.tracker.online(from, userId, now)
            : this.tracker.offline(from, userId, now),
        );
      },
      heartbeat: ({ instanceId: from, userIds, ttlMs }) =>
        this.changed(this.tracker.heartbeat(from, userIds, ttlMs, Date.now())),
      syncRequested: () => this.sendHeartbeat(),
    });
    const heartbeat = setInterval(
      () => this.sendHeartbeat(),
      Math.max(1, Math.floor(this.options.ttlMs / 3)),
    );
    const expiry = setInterval(
      () => this.changed(this.tracker.expire(Date.now())),
      Math.min(1_000, Math.max(20, Math.floor(this.options.ttlMs / 10))),
    );
    this.timers = [heartbeat, expiry];
    bus.requestSync();
    this.sendHeartbeat();
  }

  /**
   * `userId`, who has sockets here, became a member of `roomId` (`room.added`): with the next window their
   * sockets hear which of its members are online.
   */
  roomAdded(userId: string, roomId: string): void {
    if (this.stopped) return;
    const userIds = this.batch.roomsAdded.get(roomId) ?? new Set();
    this.batch.roomsAdded.set(roomId, userIds.add(userId));
    this.schedule();
  }

  /**
   * `user` became a member of `roomId`, which sockets here receive (`member.joined`): with the next window
   * those sockets hear that the newcomer is online, if they are.
   */
  memberJoined(roomId: string, user: UserPublic): void {
    if (this.stopped) return;
    const users = this.batch.membersJoined.get(roomId) ?? new Map<string, UserPublic>();
    this.batch.membersJoined.set(roomId, users.set(user.id, user));
    this.schedule();
  }

  /** A socket of `userId` opened on this instance. */
  socketOpened(userId: string): void {
    const count = this.local.get(userId) ?? 0;
    this.local.set(userId, count + 1);
    if (count > 0) return;
    const pendingRelease = this.grace.get(userId);
    if (pendingRelease) {
      // Back within the grace period: this instance never let go, so nobody needs to hear anything.
      clearTimeout(pendingRelease);
      this.deleteGrace(userId);
      return;
    }
    this.options.bus.notice(userId, 'online');
    this.changed(this.tracker.online(this.options.instanceId, userId, Date.now()));
  }

  /** A socket of `userId` on this instance closed. */
  socketClosed(userId: string): void {
    const count = (this.local.get(userId) ?? 1) - 1;
    if (count > 0) {
      this.local.set(userId, count);
      return;
    }
    this.local.delete(userId);
    if (this.stopped) return this.release(userId);
    const timer = setTimeout(() => {
      this.deleteGrace(userId);
      this.release(userId);
    }, this.options.graceMs);
    this.grace.set(userId, timer);
  }

  /**
   * Stops after the users still in their grace period are released (at most graceMs), then tells the
   * others this instance holds nobody, and stops listening.
   */
  async stop(): Promise<void> {
    if (this.grace.size > 0) await new Promise<void>((resolve) => this.graceSettled.push(resolve));
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.batchTimer);
    this.options.bus.heartbeat([], this.options.ttlMs);
    await Promise.all(this.subscriptions.map((subscription) => subscription.unsubscribe()));
    this.subscriptions = [];
    await this.delivering;
  }

  private release(userId: string): void {
    this.options.bus.notice(userId, 'offline');
    this.changed(this.tracker.offline(this.options.instanceId, userId, Date.now()));
  }

  private deleteGrace(userId: string): void {
    this.grace.delete(userId);
    if (this.grace.size > 0) return;
    for (const resolve of this.graceSettled.splice(0)) resolve();
  }

  private sendHeartbeat(): void {
    if (this.stopped) return;
    this.options.bus.heartbeat(this.tracker.heldBy(this.options.instanceId), this.options.ttlMs);
  }

  private changed(changes: PresenceChange[]): void {
    if (changes.length === 0 || this.stopped) return;
    const pending = this.batch.changes;
    for (const { userId, status } of changes) {
      // A user who went and came back within one window changed nothing anyone needs to hear.
      if (pending.has(userId) && pending.get(userId) !== status) pending.delete(userId);
      else pending.set(userId, status);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.batchTimer || isEmpty(this.batch)) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = undefined;
      const batch = this.batch;
      this.batch = emptyBatch();
      if (isEmpty(batch)) return;
      this.delivering = this.delivering
        .then(() => this.options.notify(batch))
        .catch((error: unknown) => {
          this.options.logger.warn('presence changes not delivered', { error });
        });
    }, BATCH_WINDOW_MS);
  }
}
