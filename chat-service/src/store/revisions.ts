import { UpstreamUnavailableError } from '@chat/shared';
import { revisionId, type RevisionDocument } from './chat.store';
import { backoffMs, sleep } from './retry';

/** What an adapter provides for {@link Revisions}: primitives over its revisions collection. */
export interface RevisionLog {
  /** The highest revision taken in the room, 0 if none. */
  lastRev(roomId: string): Promise<number>;
  /** Inserts the documents in order; 'duplicate' when one's `_id` (room + rev) is taken. */
  insert(documents: RevisionDocument[]): Promise<'inserted' | 'duplicate'>;
}

const MAX_ATTEMPTS = 30;
/** Rooms whose last revision is remembered; the rest are read again on their next change. */
const CACHED_ROOMS = 10_000;

/**
 * Takes each room's next revisions (contract v1.1: every stored change in a room, a new message included,
 * takes the next `rev`), with no gap and no repeat across processes, by the discipline of `seq`: a revision
 * is inserted as the last + 1, its unique `_id` is the arbiter, and a writer that loses the race reads again
 * and retries with backoff. A revision is taken before the change it numbers is written, so one whose writer
 * died, or whose message turned out to be a resend, numbers nothing: readers skip it.
 */
export class Revisions {
  private readonly last = new Map<string, number>();
  /** Within this process one room's revisions are taken one call after another. */
  private readonly lines = new Map<string, Promise<unknown>>();

  constructor(private readonly log: RevisionLog) {}

  /** Takes one revision per message id, consecutive, and answers the first. */
  take(roomId: string, messageIds: readonly string[]): Promise<number> {
    const previous = this.lines.get(roomId) ?? Promise.resolve();
    const taken = previous.then(
      () => this.takeNow(roomId, messageIds),
      () => this.takeNow(roomId, messageIds),
    );
    const settled = taken.then(
      () => undefined,
      () => undefined,
    );
    this.lines.set(roomId, settled);
    void settled.then(() => {
      if (this.lines.get(roomId) === settled) this.lines.delete(roomId);
    });
    return taken;
  }

  private async takeNow(roomId: string, messageIds: readonly string[]): Promise<number> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempt > 2) await sleep(backoffMs(attempt));
      const first = (this.last.get(roomId) ?? (await this.log.lastRev(roomId))) + 1;
      const documents = messageIds.map((messageId, index) => ({
        _id: revisionId(roomId, first + index),
        roomId,
        rev: first + index,
        messageId,
      }));
      if ((await this.log.insert(documents)) === 'inserted') {
        this.remember(roomId, first + messageIds.length - 1);
        return first;
      }
      // Another process took it: read the newest again.
      this.last.delete(roomId);
    }
    throw new UpstreamUnavailableError('The change could not be stored; try again.');
  }

  private remember(roomId: string, rev: number): void {
    this.last.delete(roomId);
    this.last.set(roomId, rev);
    if (this.last.size > CACHED_ROOMS) this.last.delete(this.last.keys().next().value!);
  }
}
