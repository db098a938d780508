import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError, UpstreamUnavailableError } from '../errors';
import { currentRequestId, REQUEST_ID_HEADER, runWithContext, acceptRequestId } from '../context';
import type { Logger } from '../logger';
import type {
  Bus,
  BusHandler,
  BusMessage,
  ConsumeOptions,
  ConsumerSubscription,
  PublishOptions,
  RequestOptions,
  Subscription,
} from './bus';
import { DURABLE_PREFIX, errorReply, subjectMatches, unwrapReply } from './bus';

interface CoreSub {
  subject: string;
  queue?: string;
  handler: BusHandler;
}

/**
 * Core subscriptions found by subject: exact subjects by lookup (most are: `chat.room.<id>`,
 * `chat.user.<id>`), patterns with `*` or `>` by matching, so a publish costs little however many
 * subscriptions there are.
 */
class Subscriptions {
  private readonly exact = new Map<string, Set<CoreSub>>();
  private readonly patterns = new Set<CoreSub>();

  add(sub: CoreSub): void {
    if (!isPattern(sub.subject)) {
      const subs = this.exact.get(sub.subject);
      if (subs) subs.add(sub);
      else this.exact.set(sub.subject, new Set([sub]));
      return;
    }
    this.patterns.add(sub);
  }

  delete(sub: CoreSub): void {
    if (this.patterns.delete(sub)) return;
    const subs = this.exact.get(sub.subject);
    subs?.delete(sub);
    if (subs?.size === 0) this.exact.delete(sub.subject);
  }

  has(sub: CoreSub): boolean {
    return this.patterns.has(sub) || (this.exact.get(sub.subject)?.has(sub) ?? false);
  }

  /** The subscriptions `subject` reaches, exact ones first, each in the order it subscribed. */
  *matching(subject: string): Iterable<CoreSub> {
    yield* this.exact.get(subject) ?? [];
    for (const sub of this.patterns) if (subjectMatches(sub.subject, subject)) yield sub;
  }

  clear(): void {
    this.exact.clear();
    this.patterns.clear();
  }
}

function isPattern(subject: string): boolean {
  return subject.split('.').some((token) => token === '*' || token === '>');
}

interface Responder {
  subject: string;
  respond: (message: BusMessage) => Promise<unknown>;
}

interface StoredEvent {
  seq: number;
  time: number;
  message: BusMessage;
}

/** A cursor over the durable log shared by every consumer of one durable name (or one ephemeral consumer). */
interface Cursor {
  filter: string;
  next: number;
  members: BusHandler[];
  turn: number;
  running: boolean;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;
const DEFAULT_MAX_EVENTS = 100_000;

export interface MemoryBusOptions {
  logger: Logger;
  /** The durable log keeps at most this many events, oldest dropped first. */
  maxEvents?: number;
  /**
   * A file that keeps the durable log across restarts, as JetStream's file storage does: consumers that
   * replay from `since` (revocation lists) see events from before the restart. Without it the log lives
   * as long as the process.
   */
  file?: string;
}

/**
 * The bus for the one-process run: the same semantics as NatsBus (JSON copies, queue groups,
 * request/reply with errors and timeouts, a durable log with named and replaying consumers),
 * held in memory. Durable events live as long as the process, or in `file`, capped at `maxEvents`.
 *
 * Named durable consumers start after the events read back from `file`: in the one-process run every
 * consumer stopped with the process that wrote them, and handled them then.
 */
export class MemoryBus implements Bus {
  private readonly subs = new Subscriptions();
  private readonly responders = new Set<Responder>();
  private readonly queueTurns = new Map<string, number>();
  private readonly log: StoredEvent[] = [];
  private seq = 0;
  private readonly durables = new Map<string, Cursor>();
  private readonly cursors = new Set<Cursor>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  /** The last seq read back from `file`; where named durable consumers start. */
  private readonly restoredSeq: number;
  /** Lines in `file`, superseded ones included; the file is rewritten when they pass twice the cap. */
  private fileLines = 0;
  /** The file ends in a torn line: the next event must start a line of its own. */
  private tornEnd = false;

  constructor(private readonly options: MemoryBusOptions) {
    if (options.file) this.restore(options.file);
    this.restoredSeq = this.seq;
  }

  publish(subject: string, data: unknown, options?: PublishOptions): void {
    this.assertOpen();
    const subs = [...this.subs.matching(subject)];
    if (subs.length === 0) return;
    const message = this.envelope(subject, data, options);
    const groups = new Map<string, CoreSub[]>();
    for (const sub of subs) {
      if (sub.queue === undefined) {
        this.dispatch(sub, message);
      } else {
        const key = `${sub.queue}\u0000${sub.subject}`;
        groups.set(key, [...(groups.get(key) ?? []), sub]);
      }
    }
    for (const [key, members] of groups) {
      const turn = this.queueTurns.get(key) ?? 0;
      this.queueTurns.set(key, turn + 1);
      this.dispatch(members[turn % members.length]!, message);
    }
  }

  subscribe(subject: string, handler: BusHandler, options: { queue?: string } = {}): Subscription {
    const sub: CoreSub = { subject, handler, queue: options.queue };
    this.subs.add(sub);
    return { unsubscribe: async () => void this.subs.delete(sub) };
  }

  async request(subject: string, data: unknown, options: RequestOptions = {}): Promise<unknown> {
    this.assertOpen();
    const responder = [...this.responders].find((candidate) => subjectMatches(candidate.subject, subject));
    if (!responder) throw new UpstreamUnavailableError(`No service answers ${subject}.`);
    const message = this.envelope(subject, data, options);
    const timeoutMs = options.timeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const reply = new Promise<unknown>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new UpstreamUnavailableError(`${subject} did not answer in ${timeoutMs} ms.`)),
        timeoutMs,
      );
      setImmediate(() => {
        responder.respond(message).then(resolve, reject);
      });
    });
    try {
      return unwrapReply(JSON.parse(JSON.stringify(await reply)));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Queue groups need no bookkeeping here: a request always goes to exactly one responder. */
  serve(subject: string, handler: (message: BusMessage) => unknown): Subscription {
    const respond = async (message: BusMessage) =>
      runWithContext({ requestId: acceptRequestId(message.headers[REQUEST_ID_HEADER]) }, async () => {
        try {
          return { ok: true, data: (await handler(message)) ?? null };
        } catch (error) {
          if (!(error instanceof AppError))
            this.options.logger.error('bus responder failed', { subject, error });
          return errorReply(error);
        }
      });
    const responder: Responder = { subject, respond };
    this.responders.add(responder);
    return { unsubscribe: async () => void this.responders.delete(responder) };
  }

  async publishDurable(subject: string, data: unknown, options?: PublishOptions): Promise<void> {
    this.assertOpen();
    if (!subject.startsWith(DURABLE_PREFIX))
      throw new Error(`Durable subjects start with ${DURABLE_PREFIX}: ${subject}`);
    const event: StoredEvent = {
      seq: ++this.seq,
      time: Date.now(),
      message: this.envelope(subject, data, options),
    };
    this.log.push(event);
    const overflow = this.log.length - this.maxEvents;
    if (overflow > 0) this.log.splice(0, overflow);
    // Written synchronously, so the file holds events in order and the event is stored once this resolves.
    if (this.options.file) this.persist(this.options.file, event);
    for (const cursor of this.cursors) this.pump(cursor);
  }

  async consume(
    subject: string,
    handler: BusHandler,
    options: ConsumeOptions = {},
  ): Promise<ConsumerSubscription> {
    this.assertOpen();
    let cursor: Cursor;
    if (options.durable !== undefined) {
      const existing = this.durables.get(options.durable);
      cursor = existing ?? {
        filter: subject,
        next: this.restoredSeq + 1,
        members: [],
        turn: 0,
        running: false,
      };
      this.durables.set(options.durable, cursor);
    } else {
      const since = options.since?.getTime();
      const first = since === undefined ? undefined : this.log.find((event) => event.time >= since);
      cursor = { filter: subject, next: first?.seq ?? this.seq + 1, members: [], turn: 0, running: false };
    }
    cursor.members.push(handler);
    this.cursors.add(cursor);
    this.pump(cursor);
    let subscribed = true;
    return {
      unsubscribe: async () => {
        subscribed = false;
        cursor.members = cursor.members.filter((member) => member !== handler);
        if (cursor.members.length === 0) this.cursors.delete(cursor);
      },
      // The log is this process's memory: a consumer follows it for as long as it is subscribed.
      isFollowing: () => subscribed && !this.closed,
    };
  }

  async flush(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
  }

  isConnected(): boolean {
    return !this.closed;
  }

  async isReady(): Promise<boolean> {
    return !this.closed;
  }

  /** In process nothing is ever lost in transit, so there is nothing to hear. */
  onReconnect(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subs.clear();
    this.responders.clear();
    this.cursors.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  private get maxEvents(): number {
    return this.options.maxEvents ?? DEFAULT_MAX_EVENTS;
  }

  /** Reads the log back; a torn last line (a crash mid-write) is skipped. */
  private restore(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    this.tornEnd = text.length > 0 && !text.endsWith('\n');
    const lines = text.split('\n').filter(Boolean);
    this.fileLines = lines.length;
    for (const line of lines) {
      try {
        const event = JSON.parse(line) as StoredEvent;
        if (typeof event.seq === 'number' && event.seq > this.seq) {
          this.log.push(event);
          this.seq = event.seq;
        }
      } catch {
        this.options.logger.warn('skipped an unreadable line of the bus event log', { file });
      }
    }
    this.log.splice(0, Math.max(0, this.log.length - this.maxEvents));
  }

  private persist(file: string, event: StoredEvent): void {
    if (this.fileLines === 0) mkdirSync(path.dirname(file), { recursive: true });
    if (this.fileLines >= 2 * this.maxEvents) {
      const temporary = `${file}.tmp`;
      writeFileSync(temporary, this.log.map((stored) => `${JSON.stringify(stored)}\n`).join(''), {
        mode: 0o600,
      });
      renameSync(temporary, file);
      this.fileLines = this.log.length;
      this.tornEnd = false;
      return;
    }
    // Owner-only, like the embedded store's files: events carry users' profiles.
    appendFileSync(file, `${this.tornEnd ? '\n' : ''}${JSON.stringify(event)}\n`, { mode: 0o600 });
    this.tornEnd = false;
    this.fileLines += 1;
  }

  private envelope(subject: string, data: unknown, options?: PublishOptions): BusMessage {
    const requestId = currentRequestId();
    const headers = { ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}), ...options?.headers };
    return { subject, data: data === undefined ? null : JSON.parse(JSON.stringify(data)), headers };
  }

  private dispatch(sub: CoreSub, message: BusMessage): void {
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        // unsubscribe() promises that no handler starts once it has resolved, even for a message sent before.
        if (!this.subs.has(sub)) return;
        return runWithContext({ requestId: acceptRequestId(message.headers[REQUEST_ID_HEADER]) }, () =>
          sub.handler(message),
        );
      })
      .catch((error: unknown) =>
        this.options.logger.error('bus handler failed', { subject: message.subject, error }),
      );
    this.track(run);
  }

  /** Delivers the cursor's pending events one at a time, in order, retrying a failed one with backoff. */
  private pump(cursor: Cursor): void {
    if (cursor.running || cursor.members.length === 0 || this.closed) return;
    cursor.running = true;
    const run = (async () => {
      let delay = RETRY_MIN_MS;
      while (!this.closed && cursor.members.length > 0) {
        const event = this.nextFor(cursor);
        if (!event) break;
        const handler = cursor.members[cursor.turn++ % cursor.members.length]!;
        try {
          await runWithContext({ requestId: acceptRequestId(event.message.headers[REQUEST_ID_HEADER]) }, () =>
            handler(event.message),
          );
          cursor.next = event.seq + 1;
          delay = RETRY_MIN_MS;
        } catch (error) {
          this.options.logger.warn('durable handler failed; retrying', {
            subject: event.message.subject,
            error,
          });
          await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())));
          delay = Math.min(delay * 2, RETRY_MAX_MS);
        }
      }
      cursor.running = false;
    })();
    this.track(run);
  }

  /**
   * The cursor's next event its filter matches; the cursor moves past the events it skips. The log is in
   * order of seq, so the search starts where the cursor is instead of at the oldest event.
   */
  private nextFor(cursor: Cursor): StoredEvent | undefined {
    let low = 0;
    let high = this.log.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.log[middle]!.seq < cursor.next) low = middle + 1;
      else high = middle;
    }
    for (let i = low; i < this.log.length; i++) {
      const event = this.log[i]!;
      if (subjectMatches(cursor.filter, event.message.subject)) return event;
      cursor.next = event.seq + 1;
    }
    return undefined;
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private assertOpen(): void {
    if (this.closed) throw new UpstreamUnavailableError('The bus is closed.');
  }
}
