import type { z } from 'zod';
import { subjects, type Bus, type RevocationList } from '@chat/shared';
import type { SessionEndedNotice } from '../domain/auth.service';

/**
 * Announces an ended session: this instance's own verifier refuses it at once, and the durable
 * `events.auth.session.ended` event reaches every other verifier (and replays to those that start later).
 */
export function sessionEndedAnnouncer(
  bus: Bus,
  revocations: RevocationList,
): (notice: SessionEndedNotice) => Promise<void> {
  return async (notice) => {
    const { sessionId, userId, reason, endedAt } = notice;
    revocations.add({ kind: 'session', sessionId, userId, reason }, endedAt.getTime());
    const event: z.infer<typeof subjects.sessionEnded.schema> = {
      sessionId,
      userId,
      reason,
      endedAt: endedAt.toISOString(),
    };
    await bus.publishDurable(subjects.sessionEnded.subject, event);
  };
}
