import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type {
  Consumer,
  ConsumerConfig,
  ConsumerMessages,
  ConsumerNotification,
  JetStreamClient,
  JetStreamManager,
  JsMsg,
} from '@nats-io/jetstream';
import type { Logger } from '../logger';

/** Server error code when a durable exists with another configuration (e.g. a new filter subject). */
const CONSUMER_EXISTS = 10148;
/**
 * How long a pull request waits on the server; the server sends a heartbeat every half of it (nats.js), and
 * two missed ones (2-3 s here) are how a consumer lost with a cluster node is noticed while the connection
 * to another node stays up. A new pull every 2 s per consumer costs the server next to nothing.
 */
const PULL_EXPIRES_MS = 2_000;
const PULL_MAX_MESSAGES = 100;
/** An ordered consumer nobody pulls from (its process died) is removed by the server after this long. */
const ORDERED_INACTIVE_MS = 60_000;
const ACK_WAIT_MS = 30_000;
/** The payload of an acknowledgement (ADR-2). */
const ACK = '+ACK';
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;
/** How long a disconnected follower waits for the reconnect before it looks again. */
const DISCONNECTED_WAIT_MS = 5_000;

function retryDelayMs(attempt: number): number {
  return Math.min(RETRY_MIN_MS * 2 ** (attempt - 1), RETRY_MAX_MS) * (0.5 + Math.random());
}

function sleep(ms: number, signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const signal of signals) {
      if (signal.aborted) return done();
      signal.addEventListener('abort', done);
    }
  });
}

/**
 * A named consumer shared by every process using the name (a queue across instances), or an ordered one
 * of this process alone that starts at `startSeq`.
 */
export type FollowerTarget = { kind: 'durable'; name: string } | { kind: 'ordered'; startSeq: number };

export interface StreamFollowerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  /** The filter subject on the wire (prefixed). */
  filter: string;
  /** The subject as the caller named it, for logs. */
  subject: string;
  target: FollowerTarget;
  logger: Logger;
  /** Whether the connection is up now. */
  connected: () => boolean;
  /**
   * Handles one event; resolves true once it is finished with (acknowledged, or dropped as malformed),
   * false when it was given back (stopping, or a durable handler failed and the server redelivers it).
   */
  handle: (msg: JsMsg, signal: AbortSignal) => Promise<boolean>;
}

/**
 * Follows one JetStream consumer for as long as it is wanted: creates it, pulls from it, and recreates
 * it whenever the client loses it, which nats.js alone does not do in every case (issue 15): a
 * nats-server restart forgets ordered consumers (memory storage); a durable can be deleted; a cluster
 * node holding the consumer can die while the connection to another node stays up (only missed
 * heartbeats tell). An ordered consumer is recreated from the stream sequence after the last event
 * handled here, never from a start time, so the gap is replayed and nothing is handled twice; a durable
 * resumes from its own acknowledgements, or after the last one known here when it has to be created again.
 *
 * Every change of state is logged: following, not following (and why), each trouble nats.js reports.
 */
export class StreamFollower {
  private following = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private wakeup = new AbortController();
  private current: ConsumerMessages | undefined;
  private consumerName: string | undefined;
  /** The stream sequence after the last event finished here; where a recreated consumer starts. */
  private next: number | undefined;
  /** Where the last acknowledgement of a durable went, to repeat it after a reconnect. */
  private lastAckSubject: string | undefined;
  /** A heartbeat or an event arrived since the consumer was (re)created. */
  private confirmed = false;
  private failures = 0;

  constructor(private readonly options: StreamFollowerOptions) {
    if (options.target.kind === 'ordered') this.next = options.target.startSeq;
  }

  /** True while the consumer exists, is pulled from, and the connection is up. */
  isFollowing(): boolean {
    return this.following && !this.stopped && this.options.connected();
  }

  /**
   * Creates the consumer and starts pulling (rejects when the server refuses), then follows until
   * {@link stop}; the returned promise of the second step settles once following has ended.
   */
  async start(): Promise<{ following: Promise<void> }> {
    const messages = await this.open(true);
    return { following: this.follow(messages) };
  }

  /** The connection dropped: not following until the consumer is recreated after the reconnect. */
  disconnected(): void {
    this.setFollowing(false, 'disconnected');
  }

  /**
   * Drops the current pull subscription and creates the consumer again (from where this follower got to).
   * Used after a reconnect, since the server may have restarted and forgotten the consumer.
   */
  recreate(reason: string, details: Record<string, unknown> = {}): void {
    if (this.stopped) return;
    this.setFollowing(false, reason, details);
    if (reason === 'reconnected') this.failures = 0;
    const messages = this.current;
    this.current = undefined;
    if (messages) {
      this.close(messages);
      this.forgetOrdered();
    }
    this.wakeup.abort();
  }

  /** Stops pulling; events already received but not handled go back to the server (durables). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.setFollowing(false, 'stopped');
    this.stopped = true;
    this.abort.abort();
    this.wakeup.abort();
    const messages = this.current;
    this.current = undefined;
    if (messages) {
      this.close(messages);
      this.forgetOrdered();
    }
  }

  private async follow(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    while (!this.stopped) {
      if (!messages) {
        messages = await this.reopen();
        if (!messages) continue;
      }
      await this.drain(messages);
      messages = undefined;
      if (this.stopped) break;
      this.setFollowing(false, 'consumer ended');
      this.failures = this.confirmed ? 0 : this.failures + 1;
    }
  }

  /** One attempt to create the consumer again, after a backoff when earlier attempts failed. */
  private async reopen(): Promise<ConsumerMessages | undefined> {
    this.wakeup = new AbortController();
    if (!this.options.connected()) {
      await sleep(DISCONNECTED_WAIT_MS, [this.abort.signal, this.wakeup.signal]);
      return undefined;
    }
    if (this.failures > 0) {
      await sleep(retryDelayMs(this.failures), [this.abort.signal, this.wakeup.signal]);
      if (this.stopped) return undefined;
    }
    try {
      return await this.open(false);
    } catch (error) {
      if (this.stopped) return undefined;
      this.failures += 1;
      this.options.logger.warn('bus consumer could not be created; retrying', {
        ...this.describe(),
        attempt: this.failures,
        error,
      });
      return undefined;
    }
  }

  private async open(initial: boolean): Promise<ConsumerMessages> {
    const consumer =
      this.options.target.kind === 'durable'
        ? await this.durable(this.options.target.name, initial)
        : await this.ordered(this.next ?? this.options.target.startSeq);
    const messages = await consumer.consume({
      max_messages: PULL_MAX_MESSAGES,
      expires: PULL_EXPIRES_MS,
      // A lost consumer ends the pull loop, and this follower recreates it (nats.js would retry the lost
      // name forever for a durable, and recreate an ordered one with the config it was first given).
      abort_on_missing_resource: true,
    });
    const info = await consumer.info(true);
    if (this.stopped) {
      this.close(messages);
      throw new Error('The consumer was stopped while it was created.');
    }
    this.consumerName = info.name;
    this.current = messages;
    this.confirmed = false;
    // A server killed just after an acknowledgement may come back without it, and would hold the event
    // (max_ack_pending 1: and every later one) until ack_wait ran out. Acknowledging again is harmless.
    if (!initial && this.lastAckSubject && info.num_ack_pending > 0)
      this.options.nc.publish(this.lastAckSubject, ACK);
    this.setFollowing(true, initial ? 'created' : 'recreated', {
      startSeq: this.options.target.kind === 'ordered' ? this.next : info.ack_floor.stream_seq + 1,
    });
    return messages;
  }

  private ordered(startSeq: number): Promise<Consumer> {
    return this.options.js.consumers.get(this.options.stream, {
      filter_subjects: [this.options.filter],
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      inactive_threshold: ORDERED_INACTIVE_MS,
    });
  }

  /**
   * At start-up the durable is created or given the current settings. When it has to be created again
   * later (deleted, or lost with its node), it starts after the last event finished here, or from the
   * beginning of the stream when nothing was: handling an event twice is safe, skipping one is not.
   */
  private async durable(name: string, initial: boolean): Promise<Consumer> {
    const { jsm, js, stream, filter } = this.options;
    const settings = {
      filter_subject: filter,
      // One unacknowledged event per name: a failed event is redelivered before any later one, which
      // keeps the order across every process sharing the name.
      max_ack_pending: 1,
      ack_wait: nanos(ACK_WAIT_MS),
      max_deliver: -1,
    };
    if (!initial) {
      try {
        return await js.consumers.get(stream, name);
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound))
          throw error;
        this.options.logger.warn('bus durable consumer is gone; creating it again', {
          ...this.describe(),
          startSeq: this.next ?? 'first',
        });
      }
    }
    const start: Partial<ConsumerConfig> =
      !initial && this.next !== undefined
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.next }
        : { deliver_policy: DeliverPolicy.All };
    try {
      await jsm.consumers.add(stream, {
        ...settings,
        ...start,
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
      });
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === CONSUMER_EXISTS)) throw error;
      // Another process recreated it first, or (at start-up) its settings changed.
      if (initial) {
        this.options.logger.info('bus durable consumer reconfigured', this.describe());
        await jsm.consumers.update(stream, name, settings);
      }
    }
    return js.consumers.get(stream, name);
  }

  private async drain(messages: ConsumerMessages): Promise<void> {
    const watching = this.watch(messages);
    const durable = this.options.target.kind === 'durable';
    try {
      for await (const msg of messages) {
        // Events the server sent before it learnt we stopped go back at once instead of after ack_wait.
        if (this.stopped) {
          if (durable) msg.nak();
          continue;
        }
        // An ordered consumer recreated from `next` may meet events the old one had queued.
        if (!durable && this.next !== undefined && msg.seq < this.next) continue;
        this.confirm();
        if (await this.options.handle(msg, this.abort.signal)) {
          this.next = Math.max(this.next ?? 0, msg.seq + 1);
          if (durable) this.lastAckSubject = ackSubject(msg);
        }
      }
    } catch (error) {
      if (!this.stopped)
        this.options.logger.warn('bus consumer stopped with an error', { ...this.describe(), error });
    }
    await watching;
  }

  /** Logs what nats.js reports and recreates the consumer when it is lost or silent. */
  private async watch(messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      if (messages !== this.current) continue;
      switch (status.type) {
        case 'heartbeat':
          this.confirm();
          break;
        case 'next':
        case 'discard':
        case 'flow_control':
          break;
        case 'debug':
          // 408: a pull request expired with nothing to deliver, every PULL_EXPIRES_MS when idle.
          if (status.code !== 408)
            this.options.logger.debug('bus consumer status', {
              ...this.describe(),
              ...statusDetails(status),
            });
          break;
        case 'heartbeats_missed':
        case 'consumer_not_found':
        case 'consumer_deleted':
        case 'stream_not_found':
        case 'no_responders':
          this.options.logger.warn('bus consumer trouble', { ...this.describe(), ...statusDetails(status) });
          this.recreate(status.type);
          break;
        case 'reset':
          // nats.js found a gap in an ordered consumer's deliveries and creates it again from its cursor.
          this.setFollowing(false, 'reset', statusDetails(status));
          break;
        case 'ordered_consumer_recreated':
          this.consumerName = status.name;
          this.setFollowing(true, 'recreated by the client');
          break;
        default:
          this.options.logger.info('bus consumer status', { ...this.describe(), ...statusDetails(status) });
          break;
      }
    }
  }

  private confirm(): void {
    this.confirmed = true;
    this.failures = 0;
    if (!this.following && this.current) this.setFollowing(true, 'heard from the server');
  }

  private setFollowing(following: boolean, reason: string, details: Record<string, unknown> = {}): void {
    if (this.stopped || this.following === following) return;
    this.following = following;
    const entry = { ...this.describe(), reason, ...details };
    if (following) this.options.logger.info('bus consumer following', entry);
    else if (reason === 'stopped') this.options.logger.info('bus consumer stopped', entry);
    else this.options.logger.warn('bus consumer not following', entry);
  }

  private close(messages: ConsumerMessages): void {
    // Not awaited: it settles only once the pull loop moves on, and this may run inside a handler.
    void messages.close().then((error) => {
      if (error && !this.stopped)
        this.options.logger.warn('bus consumer closed with an error', { ...this.describe(), error });
    });
  }

  /**
   * An ordered consumer left behind (the server may still hold it) is deleted rather than left to its
   * inactivity threshold; when the server is gone with it, there is nothing to delete.
   */
  private forgetOrdered(): void {
    const name = this.consumerName;
    if (this.options.target.kind !== 'ordered' || name === undefined || !this.options.connected()) return;
    void this.options.jsm.consumers.delete(this.options.stream, name).catch((error: unknown) => {
      this.options.logger.debug('bus ordered consumer was not deleted', { ...this.describe(), error });
    });
  }

  private describe(): Record<string, unknown> {
    const { subject, target, stream } = this.options;
    return {
      subject,
      stream,
      consumer: target.kind === 'durable' ? target.name : this.consumerName,
      kind: target.kind,
    };
  }
}

/**
 * Where `msg`'s acknowledgement goes: its reply subject, which nats.js's JsMsg has but does not declare
 * (it acknowledges once only, so repeating an acknowledgement needs the subject itself).
 */
function ackSubject(msg: JsMsg): string | undefined {
  const reply = (msg as JsMsg & { reply?: unknown }).reply;
  return typeof reply === 'string' && reply.length > 0 ? reply : undefined;
}

function statusDetails(status: ConsumerNotification): Record<string, unknown> {
  const { type, ...rest } = status;
  return { status: type, ...rest };
}
