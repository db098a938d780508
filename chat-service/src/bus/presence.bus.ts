import type { z } from 'zod';
import type { Bus, BusMessage, Logger, Subscription } from '@chat/shared';
import { presenceHeartbeatSubject, presenceSubject, presenceSyncSubject } from './chat.subjects';

export type PresenceNotice = z.infer<typeof presenceSubject.schema>;
export type PresenceHeartbeat = z.infer<typeof presenceHeartbeatSubject.schema>;

/** What presence hears from the other instances (its own messages are filtered out here). */
export interface PresenceListener {
  notice(notice: PresenceNotice): void;
  heartbeat(heartbeat: PresenceHeartbeat): void;
  /** Another instance started and asks for everyone's heartbeat. */
  syncRequested(): void;
}

/**
 * The presence subjects, both ways: `chat.presence` (a user held or let go by one instance),
 * `chat.presence.heartbeat` (everyone an instance holds) and `chat.presence.sync` (send yours now).
 * Publishing never fails the caller: heartbeats repair whatever a lost notice left wrong.
 */
export class PresenceBus {
  constructor(
    private readonly bus: Bus,
    private readonly instanceId: string,
    private readonly logger: Logger,
  ) {}

  listen(listener: PresenceListener): Subscription[] {
    const own = (from: string) => from === this.instanceId;
    return [
      this.bus.subscribe(presenceSubject.subject, (message) => {
        const parsed = presenceSubject.schema.safeParse(message.data);
        if (!parsed.success) return this.malformed(message);
        if (!own(parsed.data.instanceId)) listener.notice(parsed.data);
      }),
      this.bus.subscribe(presenceHeartbeatSubject.subject, (message) => {
        const parsed = presenceHeartbeatSubject.schema.safeParse(message.data);
        if (!parsed.success) return this.malformed(message);
        if (!own(parsed.data.instanceId)) listener.heartbeat(parsed.data);
      }),
      this.bus.subscribe(presenceSyncSubject.subject, (message) => {
        const parsed = presenceSyncSubject.schema.safeParse(message.data);
        if (!parsed.success) return this.malformed(message);
        if (!own(parsed.data.instanceId)) listener.syncRequested();
      }),
    ];
  }

  notice(userId: string, status: PresenceNotice['status']): void {
    this.publish(presenceSubject.subject, { instanceId: this.instanceId, userId, status });
  }

  heartbeat(userIds: string[], ttlMs: number): void {
    this.publish(presenceHeartbeatSubject.subject, { instanceId: this.instanceId, userIds, ttlMs });
  }

  requestSync(): void {
    this.publish(presenceSyncSubject.subject, { instanceId: this.instanceId });
  }

  private publish(subject: string, data: unknown): void {
    try {
      this.bus.publish(subject, data);
    } catch (error) {
      this.logger.warn('presence not published', { subject, error });
    }
  }

  private malformed(message: BusMessage): void {
    this.logger.warn('ignored a malformed presence message', { subject: message.subject });
  }
}
