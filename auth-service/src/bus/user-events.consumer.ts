import { subjects, type Bus, type BusMessage, type Logger, type Subscription } from '@chat/shared';
import type { AuthService } from '../domain/auth.service';

/** The durable consumer name every auth instance shares: each user event is handled once per deployment. */
export const USER_EVENTS_DURABLE = 'auth-service';

/**
 * One consumer for all user events, so a user's update and deletion are handled in the order they happened
 * and one durable name is enough. (users-service's subjects are `events.users.user.<what>`.)
 */
export const USER_EVENTS_FILTER = 'events.users.user.*';

/**
 * Keeps sessions in step with users: a deleted user's sessions end, an updated user's live sessions carry
 * the new username and role, and a changed password ends the user's sessions but the one that changed it.
 * A handler failure (say, the database) rejects, so the event comes again.
 */
export function consumeUserEvents(bus: Bus, auth: AuthService, logger: Logger): Promise<Subscription> {
  return bus.consume(USER_EVENTS_FILTER, (message) => handleUserEvent(message, auth, logger), {
    durable: USER_EVENTS_DURABLE,
  });
}

async function handleUserEvent(message: BusMessage, auth: AuthService, logger: Logger): Promise<void> {
  if (message.subject === subjects.userDeleted.subject) {
    const parsed = subjects.userDeleted.schema.safeParse(message.data);
    if (parsed.success) return auth.userDeleted(parsed.data.userId);
  } else if (message.subject === subjects.userUpdated.subject) {
    const parsed = subjects.userUpdated.schema.safeParse(message.data);
    if (parsed.success) {
      await auth.userUpdated(parsed.data.user);
      const { passwordChanged } = parsed.data;
      if (passwordChanged) await auth.passwordChanged(parsed.data.user.id, passwordChanged.keepSessionId);
      return;
    }
  } else {
    return;
  }
  // A malformed event would fail the same way on every redelivery: acknowledge it and say so.
  logger.warn('ignored a malformed user event', { subject: message.subject });
}
