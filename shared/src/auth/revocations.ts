import type { Bus, ConsumerSubscription } from '../bus/bus';
import { subjects } from '../bus/subjects';
import type { Logger } from '../logger';
import type { AccessClaims } from '../schemas';

export type Revocation =
  { kind: 'session'; sessionId: string; userId: string; reason: string } | { kind: 'user'; userId: string };

/**
 * Sessions and users whose access tokens no verifier may accept any more. Entries are kept for
 * `windowSeconds` (at least the longest access-token lifetime): after that every such token has expired anyway.
 */
export class RevocationList {
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, number>();
  private readonly listeners = new Set<(revocation: Revocation) => void>();

  constructor(private readonly windowSeconds: number) {}

  add(revocation: Revocation, at = Date.now()): void {
    const until = at + this.windowSeconds * 1000;
    if (revocation.kind === 'session') this.sessions.set(revocation.sessionId, until);
    else this.users.set(revocation.userId, until);
    this.prune();
    for (const listener of this.listeners) listener(revocation);
  }

  isRevoked(claims: Pick<AccessClaims, 'sid' | 'sub'>): boolean {
    return this.sessions.has(claims.sid) || this.users.has(claims.sub);
  }

  /** Calls `listener` for every revocation added from now on; returns the way to stop. */
  onRevoked(listener: (revocation: Revocation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private prune(): void {
    const now = Date.now();
    for (const map of [this.sessions, this.users]) {
      for (const [key, until] of map) if (until < now) map.delete(key);
    }
  }
}

/**
 * Feeds `list` from the durable stream: ended sessions and deleted users, replayed from `windowSeconds`
 * ago so a verifier that starts late still refuses tokens revoked before it started. The consumers are
 * recreated after server restarts and lost consumers from the last event they handled (the bus does it);
 * while one of them is not following, the service must not say it is ready (`isFollowing`).
 */
export async function followRevocations(
  bus: Bus,
  list: RevocationList,
  options: { windowSeconds: number; logger: Logger },
): Promise<ConsumerSubscription[]> {
  const since = new Date(Date.now() - options.windowSeconds * 1000);
  const ended = await bus.consume(
    subjects.sessionEnded.subject,
    (message) => {
      const parsed = subjects.sessionEnded.schema.safeParse(message.data);
      if (!parsed.success) {
        options.logger.warn('ignored a malformed session event', { subject: message.subject });
        return;
      }
      const { sessionId, userId, reason, endedAt } = parsed.data;
      list.add({ kind: 'session', sessionId, userId, reason }, Date.parse(endedAt));
    },
    { since },
  );
  const deleted = await bus.consume(
    subjects.userDeleted.subject,
    (message) => {
      const parsed = subjects.userDeleted.schema.safeParse(message.data);
      if (!parsed.success) {
        options.logger.warn('ignored a malformed user event', { subject: message.subject });
        return;
      }
      list.add({ kind: 'user', userId: parsed.data.userId }, Date.parse(parsed.data.deletedAt));
    },
    { since },
  );
  return [ended, deleted];
}
