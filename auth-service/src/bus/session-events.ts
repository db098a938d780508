import type { z } from 'zod';
import { subjects, type Bus, type RevocationList } from '@chat/shared';
import type { SessionEndedNotice } from '../domain/auth.service';

/**
 * Announces an ended session: the durable `events.auth.session.ended` event reaches every verifier (and
 * replays to those that start later), and once JetStream has stored it this instance's own verifier
 * refuses the session at once. Nothing changes when the event is not stored (the publish rejects with
 * UpstreamUnavailableError): the caller has not ended anything yet and may try again.
 */
export function sessionEndedAnnouncer(
  bus: Bus,
  revocations: RevocationList,
): (notice: SessionEndedNotice) => Promise<void> {
  return async (notice) => {
    const { sessionId, userId, reason, endedAt } = notice;
    const event: z.infer<typeof subjects.sessionEnded.schema> = {
      sessionId,
      userId,
      reason,
      endedAt: endedAt.toISOString(),
    };
    await bus.publishDurable(subjects.sessionEnded.subject, event);
    revocations.add({ kind: 'session', sessionId, userId, reason }, endedAt.getTime());
  };
}
