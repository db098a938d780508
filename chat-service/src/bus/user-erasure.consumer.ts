import { subjects, type Bus, type Logger, type Subscription } from '@chat/shared';

/** The durable consumer names every chat instance shares: each deletion is handled once per deployment. */
export const USER_ERASURE_DURABLE = {
  /** Memberships and what names the user (`PeopleService.userDeleted`). */
  people: 'chat-service-erasure',
  /** Their uploads no message uses (`AttachmentService.userDeleted`). */
  attachments: 'chat-service-attachments',
} as const;

/**
 * Calls `erase` for each deleted user (users-service's `user.deleted`), under the durable name `durable`. A
 * failure (say, the database) rejects, so the event comes again: `erase` must be safe to repeat.
 */
export function consumeUserDeletions(
  bus: Bus,
  logger: Logger,
  durable: string,
  erase: (userId: string) => Promise<void>,
): Promise<Subscription> {
  return bus.consume(
    subjects.userDeleted.subject,
    async (message) => {
      const parsed = subjects.userDeleted.schema.safeParse(message.data);
      // A malformed event would fail the same way on every redelivery: acknowledge it and say so.
      if (!parsed.success) {
        logger.warn('ignored a malformed user event', { subject: message.subject });
        return;
      }
      await erase(parsed.data.userId);
    },
    { durable },
  );
}
