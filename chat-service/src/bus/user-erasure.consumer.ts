import { subjects, type Bus, type Logger, type Subscription } from '@chat/shared';
import type { PeopleService } from '../domain/people.service';

/** The durable consumer name every chat instance shares: each deletion is erased once per deployment. */
export const USER_ERASURE_DURABLE = 'chat-service-erasure';

/**
 * A deleted user leaves every room and nothing that names them stays (`PeopleService.userDeleted`). A
 * failure (say, the database) rejects, so the event comes again; the erasure is safe to repeat.
 */
export function consumeUserDeletions(bus: Bus, people: PeopleService, logger: Logger): Promise<Subscription> {
  return bus.consume(
    subjects.userDeleted.subject,
    async (message) => {
      const parsed = subjects.userDeleted.schema.safeParse(message.data);
      // A malformed event would fail the same way on every redelivery: acknowledge it and say so.
      if (!parsed.success) {
        logger.warn('ignored a malformed user event', { subject: message.subject });
        return;
      }
      await people.userDeleted(parsed.data.userId);
    },
    { durable: USER_ERASURE_DURABLE },
  );
}
