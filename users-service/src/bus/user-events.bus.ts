import { subjects, type Bus } from '@chat/shared';
import type { UserEvents } from '../domain/user-events';

/**
 * Publishes user events to the durable stream. Each payload goes through its subject's schema first,
 * which keeps only the `User` fields: nothing else a record might carry can reach an event.
 */
export function busUserEvents(bus: Bus): UserEvents {
  return {
    created: (user) =>
      bus.publishDurable(subjects.userCreated.subject, subjects.userCreated.schema.parse({ user })),
    updated: (user, change) =>
      bus.publishDurable(
        subjects.userUpdated.subject,
        subjects.userUpdated.schema.parse(
          change?.passwordChanged ? { user, passwordChanged: change.passwordChanged } : { user },
        ),
      ),
    deleted: (userId, deletedAt) =>
      bus.publishDurable(
        subjects.userDeleted.subject,
        subjects.userDeleted.schema.parse({ userId, deletedAt: deletedAt.toISOString() }),
      ),
  };
}
