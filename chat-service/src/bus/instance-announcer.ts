import type { Bus, Logger } from '@chat/shared';
import { instancesSubject, type InstanceAnnouncement } from './chat.subjects';

/**
 * Announces this instance on `chat.instances` every `intervalMs` (and at once on a change), for the
 * gateway's balancing by fewest sockets. An announcement is valid for three intervals.
 */
export class InstanceAnnouncer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      bus: Bus;
      logger: Logger;
      intervalMs: number;
      describe: () => Omit<InstanceAnnouncement, 'ttlMs'>;
    },
  ) {}

  start(): void {
    this.announce();
    this.timer = setInterval(() => this.announce(), this.options.intervalMs);
  }

  announce(): void {
    try {
      this.options.bus.publish(
        instancesSubject.subject,
        instancesSubject.schema.parse({ ...this.options.describe(), ttlMs: 3 * this.options.intervalMs }),
      );
    } catch (error) {
      this.options.logger.warn('instance announcement not published', { error });
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
