import type { Bus, Logger, Subscription } from '@chat/shared';
import { presenceHeartbeatSubject, presenceSubject, presenceSyncSubject } from '../bus/chat.subjects';
import { PresenceTracker, type PresenceChange } from './presence-tracker';

/** Changes within this window reach clients together: a burst of connections is one frame per recipient. */
const BATCH_WINDOW_MS = 50;

export type PresenceStatus = PresenceChange['status'];

export interface PresenceOptions {
  bus: Bus;
  logger: Logger;
  instanceId: string;
  /** How long a user's last local socket may be gone before this instance lets them go. */
  graceMs: number;
  /** Heartbeats go out every ttlMs / 3; an instance silent for ttlMs is gone. */
  ttlMs: number;
  /** Tells local sockets: the net changes of one window, in order of first change. */
  notify: (changes: Map<string, PresenceStatus>) => Promise<void>;
}

/**
 * Presence across chat instances (api-contract.md: online when a user's first socket opens anywhere,
 * offline when the last one closes).
 *
 * Each instance counts its own sockets per user and says on `chat.presence` when it starts holding a user
 * (their first socket here) and when it stops (their last socket here closed PRESENCE_GRACE_MS ago and none
 * came back, so a reconnect does not flap). It says so whether or not the user is online elsewhere, since
 * the others need to know every holder to tell when the last one lets go. Every ttlMs / 3 it sends the
 * full list it holds (`chat.presence.heartbeat`), which repairs lost notices; an instance whose heartbeat
 * is older than its TTL is taken as crashed, and its users go offline unless held elsewhere. Every instance
 * runs the same {@link PresenceTracker} over these facts and notifies its own sockets of the transitions.
 */
export class Presence {
  readonly tracker: PresenceTracker;
  private readonly local = new Map<string, number>();
  private readonly grace = new Map<string, NodeJS.Timeout>();
  private graceSettled: (() => void)[] = [];
  private pending = new Map<string, PresenceStatus>();
  private batchTimer: NodeJS.Timeout | undefined;
  private delivering: Promise<void> = Promise.resolve();
  private subscriptions: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(private readonly options: PresenceOptions) {
    this.tracker = new PresenceTracker(options.instanceId, options.ttlMs);
  }

  start(): void {
    const { bus, instanceId } = this.options;
    this.subscriptions = [
      bus.subscribe(presenceSubject.subject, (message) => {
        const parsed = presenceSubject.schema.safeParse(message.data);
        if (!parsed.success) return this.malformed(message.subject);
        const { instanceId: from, userId, status } = parsed.data;
        if (from === instanceId) return;
        const now = Date.now();
        this.changed(
          status === 'online'
            ? this.tracker.online(from, userId, now)
            : this.tracker.offline(from, userId, now),
        );
      }),
      bus.subscribe(presenceHeartbeatSubject.subject, (message) => {
        const parsed = presenceHeartbeatSubject.schema.safeParse(message.data);
        if (!parsed.success) return this.malformed(message.subject);
        const { instanceId: from, userIds, ttlMs } = parsed.data;
        if (from !== instanceId) this.changed(this.tracker.heartbeat(from, userIds, ttlMs, Date.now()));
      }),
      bus.subscribe(presenceSyncSubject.subject, (message) => {
        const parsed = presenceSyncSubject.schema.safeParse(message.data);
        if (!parsed.success) return this.malformed(message.subject);
        if (parsed.data.instanceId !== instanceId) this.sendHeartbeat();
      }),
    ];
    const heartbeat = setInterval(
      () => this.sendHeartbeat(),
      Math.max(1, Math.floor(this.options.ttlMs / 3)),
    );
    const expiry = setInterval(
      () => this.changed(this.tracker.expire(Date.now())),
      Math.min(1_000, Math.max(20, Math.floor(this.options.ttlMs / 10))),
    );
    this.timers = [heartbeat, expiry];
    this.publish(presenceSyncSubject.subject, { instanceId });
    this.sendHeartbeat();
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
    this.publish(presenceSubject.subject, { instanceId: this.options.instanceId, userId, status: 'online' });
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
    this.publish(presenceHeartbeatSubject.subject, {
      instanceId: this.options.instanceId,
      userIds: [],
      ttlMs: this.options.ttlMs,
    });
    await Promise.all(this.subscriptions.map((subscription) => subscription.unsubscribe()));
    this.subscriptions = [];
    await this.delivering;
  }

  private release(userId: string): void {
    this.publish(presenceSubject.subject, { instanceId: this.options.instanceId, userId, status: 'offline' });
    this.changed(this.tracker.offline(this.options.instanceId, userId, Date.now()));
  }

  private deleteGrace(userId: string): void {
    this.grace.delete(userId);
    if (this.grace.size > 0) return;
    for (const resolve of this.graceSettled.splice(0)) resolve();
  }

  private sendHeartbeat(): void {
    if (this.stopped) return;
    this.publish(presenceHeartbeatSubject.subject, {
      instanceId: this.options.instanceId,
      userIds: this.tracker.heldBy(this.options.instanceId),
      ttlMs: this.options.ttlMs,
    });
  }

  private changed(changes: PresenceChange[]): void {
    if (changes.length === 0 || this.stopped) return;
    for (const { userId, status } of changes) {
      // A user who went and came back within one window changed nothing anyone needs to hear.
      if (this.pending.has(userId) && this.pending.get(userId) !== status) this.pending.delete(userId);
      else this.pending.set(userId, status);
    }
    if (this.batchTimer || this.pending.size === 0) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = undefined;
      const batch = this.pending;
      this.pending = new Map();
      if (batch.size === 0) return;
      this.delivering = this.delivering
        .then(() => this.options.notify(batch))
        .catch((error: unknown) => {
          this.options.logger.warn('presence changes not delivered', { error });
        });
    }, BATCH_WINDOW_MS);
  }

  private publish(subject: string, data: unknown): void {
    try {
      this.options.bus.publish(subject, data);
    } catch (error) {
      this.options.logger.warn('presence not published', { subject, error });
    }
  }

  private malformed(subject: string): void {
    this.options.logger.warn('ignored a malformed presence message', { subject });
  }
}
