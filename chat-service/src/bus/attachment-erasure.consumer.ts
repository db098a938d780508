import { subjects, type Bus, type Logger, type Subscription } from '@chat/shared';
import type { AttachmentService } from '../domain/attachments.service';

/** The durable consumer every chat instance shares: each deletion's files are removed once per deployment. */
export const ATTACHMENT_ERASURE_DURABLE = 'chat-service-attachments';

/**
 * A deleted user's uploads that no message uses are removed (`AttachmentService.userDeleted`). A failure
 * rejects, so the event comes again; removing twice is harmless.
 */
export function consumeUserDeletionsForAttachments(
  bus: Bus,
  attachments: AttachmentService,
  logger: Logger,
): Promise<Subscription> {
  return bus.consume(
    subjects.userDeleted.subject,
    async (message) => {
      const parsed = subjects.userDeleted.schema.safeParse(message.data);
      if (!parsed.success) {
        logger.warn('ignored a malformed user event', { subject: message.subject });
        return;
      }
      await attachments.userDeleted(parsed.data.userId);
    },
    { durable: ATTACHMENT_ERASURE_DURABLE },
  );
}
