import { UpstreamUnavailableError } from '@chat/shared';
import type { Message } from '@chat/protocol';
import {
  dedupeKeyOf,
  messageDocumentOf,
  toMessage,
  type MessageDocument,
  type NewMessage,
} from './chat.store';
import { backoffMs, sleep } from './retry';
import type { Revisions } from './revisions';

/** What an adapter provides for {@link MessageAppender}: primitives over its messages collection. */
export interface MessageLog {
  /** The highest seq stored for the room, 0 if none. */
  lastSeq(roomId: string): Promise<number>;
  /** Inserts the documents in order; 'duplicate' when a unique index (room+seq or dedupe key) refused one. */
  insert(documents: MessageDocument[]): Promise<'inserted' | 'duplicate'>;
  /** Those of `ids` that are stored. */
  storedIds(ids: string[]): Promise<Set<string>>;
  findByDedupeKey(dedupeKey: string): Promise<MessageDocument | undefined>;
}

export type Appended = { message: Message; created: boolean };

interface Waiting {
  message: NewMessage;
  resolve: (appended: Appended) => void;
  reject: (error: unknown) => void;
}

const MAX_ATTEMPTS = 30;
/** Messages of one room written together at most. */
const MAX_BATCH = 100;
/** Rooms whose last seq is remembered; the rest are read again on their next message. */
const CACHED_ROOMS = 10_000;

/**
 * Assigns each message the next seq of its room, with no gap and no repeat across processes (and the room's
 * next revision, from {@link Revisions}, taken before the insert).
 *
 * The unique index on (roomId, seq) is the arbiter: a message is inserted with the last seq + 1, and a
 * writer that loses the race to another process gets a duplicate-key error, reads the seq again and retries
 * with backoff and jitter. Nothing is reserved before the insert, so a crash cannot leave a gap.
 *
 * Within this process the messages of one room wait in one line, so only other processes cause retries;
 * whatever queued up while a write was in flight goes in the next write together (consecutive seqs, one
 * round trip), which keeps a busy room's throughput from being one round trip per message and lets its
 * events reach sockets in bursts that coalesce. The last seq is remembered, so the common case is one insert.
 */
export class MessageAppender {
  private readonly lines = new Map<string, Waiting[]>();
  private readonly lastSeqs = new Map<string, number>();

  constructor(
    private readonly log: MessageLog,
    private readonly revisions: Revisions,
  ) {}

  /** The room's newest seq as this process last wrote it, else read: a hint the unique index corrects. */
  private async lastSeq(roomId: string): Promise<number> {
    return this.lastSeqs.get(roomId) ?? this.log.lastSeq(roomId);
  }

  append(message: NewMessage): Promise<Appended> {
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { message, resolve, reject };
      const line = this.lines.get(message.roomId);
      if (line) {
        line.push(waiting);
        return;
      }
      this.lines.set(message.roomId, [waiting]);
      void this.work(message.roomId);
    });
  }

  private async work(roomId: string): Promise<void> {
    const line = this.lines.get(roomId)!;
    while (line.length > 0) {
      const batch = line.splice(0, MAX_BATCH);
      const results = await this.appendBatch(
        roomId,
        batch.map((waiting) => waiting.message),
      );
      batch.forEach((waiting, index) => {
        const result = results[index]!;
        if (result instanceof Error) waiting.reject(result);
        else waiting.resolve(result);
      });
    }
    this.lines.delete(roomId);
  }

  private async appendBatch(roomId: string, messages: NewMessage[]): Promise<(Appended | Error)[]> {
    if (messages.length === 1) return [await settle(this.appendOne(messages[0]!))];
    let documents: MessageDocument[];
    try {
      const firstRev = await this.revisions.take(
        roomId,
        messages.map((message) => message.id),
      );
      const first = (await this.lastSeq(roomId)) + 1;
      documents = messages.map((message, index) =>
        messageDocumentOf(message, first + index, firstRev + index),
      );
      if ((await this.log.insert(documents)) === 'inserted') {
        this.remember(roomId, documents.at(-1)!.seq);
        return documents.map((document) => ({ message: toMessage(document), created: true }));
      }
    } catch (error) {
      return messages.map(() => asError(error));
    }
    // Another process wrote to the room, or a clientMsgId repeats: keep what went in (an ordered insert may
    // have stored a first part), then append the rest one at a time.
    this.lastSeqs.delete(roomId);
    const stored = await settle(this.log.storedIds(documents.map((document) => document._id)));
    if (stored instanceof Error) return messages.map(() => stored);
    const results: (Appended | Error)[] = [];
    for (const [index, document] of documents.entries()) {
      results.push(
        stored.has(document._id)
          ? { message: toMessage(document), created: true }
          : await settle(this.appendOne(messages[index]!)),
      );
    }
    return results;
  }

  private async appendOne(message: NewMessage): Promise<Appended> {
    const dedupeKey = dedupeKeyOf(message.senderId, message.roomId, message.clientMsgId);
    const rev = await this.revisions.take(message.roomId, [message.id]);
    let seq = (await this.lastSeq(message.roomId)) + 1;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const document = messageDocumentOf(message, seq, rev);
      if ((await this.log.insert([document])) === 'inserted') {
        this.remember(message.roomId, seq);
        return { message: toMessage(document), created: true };
      }
      if (dedupeKey !== undefined) {
        const first = await this.log.findByDedupeKey(dedupeKey);
        if (first) return { message: toMessage(first), created: false };
      }
      // Another process took this seq: read the newest again, after a pause that grows with the attempts.
      if (attempt > 1) await sleep(backoffMs(attempt));
      seq = (await this.log.lastSeq(message.roomId)) + 1;
    }
    this.lastSeqs.delete(message.roomId);
    throw new UpstreamUnavailableError('The message could not be stored; try again.');
  }

  private remember(roomId: string, seq: number): void {
    this.lastSeqs.delete(roomId);
    this.lastSeqs.set(roomId, seq);
    if (this.lastSeqs.size > CACHED_ROOMS) this.lastSeqs.delete(this.lastSeqs.keys().next().value!);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

async function settle<T>(promise: Promise<T>): Promise<T | Error> {
  try {
    return await promise;
  } catch (error) {
    return asError(error);
  }
}
