import {
  ClosedConnectionError,
  connect,
  DrainingConnectionError,
  headers as natsHeaders,
  nanos,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import type { Msg, MsgHdrs, NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import type {
  Consumer,
  ConsumerMessages,
  JetStreamClient,
  JetStreamManager,
  JsMsg,
} from '@nats-io/jetstream';
import { AppError, UpstreamUnavailableError } from '../errors';
import { acceptRequestId, currentRequestId, REQUEST_ID_HEADER, runWithContext } from '../context';
import type { Logger } from '../logger';
import type {
  Bus,
  BusHandler,
  BusMessage,
  ConsumeOptions,
  PublishOptions,
  ReplyEnvelope,
  RequestOptions,
  Subscription,
} from './bus';
import { DURABLE_PREFIX, errorReply, unwrapReply } from './bus';

export interface NatsBusOptions {
  /** One server URL, or several separated by commas. */
  servers: string;
  /** The connection name the server shows in its monitoring. */
  name: string;
  logger: Logger;
  /** Prepended to every subject on the wire and to the stream name, so tenants of one server never meet. */
  subjectPrefix?: string;
  /** The JetStream stream holding durable events (default `EVENTS`, prefixed like subjects). */
  streamName?: string;
  /** How long the stream keeps an event (default 7 days). */
  eventMaxAgeSeconds?: number;
}

const DEFAULT_STREAM = 'EVENTS';
const DEFAULT_EVENT_MAX_AGE_SECONDS = 7 * 24 * 60 * 60;
/** The server's default duplicate window; it may not exceed the stream's max age. */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
const JETSTREAM_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 5_000;
const ACK_WAIT_MS = 30_000;
const CLOSE_DEADLINE_MS = 10_000;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;
/** Server error code when a durable exists with another configuration (e.g. a new filter subject). */
const CONSUMER_EXISTS = 10148;
/** Server error code when the stream exists with another configuration. */
const STREAM_NAME_IN_USE = 10058;
/**
 * Responders without a queue still share one group, so each request runs one handler as in MemoryBus;
 * `q` is the group the NATS services API uses by default (ADR-32).
 */
const RESPONDER_QUEUE = 'q';

/** Stream and consumer names may not hold `.`, `*`, `>`, whitespace or path separators. */
function toJetStreamName(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_');
}

function retryDelayMs(attempt: number): number {
  return Math.min(RETRY_MIN_MS * 2 ** (attempt - 1), RETRY_MAX_MS) * (0.5 + Math.random());
}

function encode(data: unknown): string {
  return JSON.stringify(data === undefined ? null : data);
}

function decode(payload: Uint8Array): unknown {
  return payload.length === 0 ? null : JSON.parse(Buffer.from(payload).toString('utf8'));
}

function readHeaders(headers: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers) for (const key of headers.keys()) out[key] = headers.get(key);
  return out;
}

/** Errors that mean the server or the other side could not be reached in time. */
function isUnreachable(error: unknown): boolean {
  return (
    error instanceof RequestError ||
    error instanceof TimeoutError ||
    error instanceof ClosedConnectionError ||
    error instanceof DrainingConnectionError ||
    // How the JetStream client reports that no stream answered a publish, e.g. after the stream was deleted.
    (error instanceof Error && error.cause instanceof RequestError)
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

interface RunningConsumer {
  stop(): Promise<void>;
}

/**
 * The bus over NATS: core subjects for publish/subscribe and request/reply, JetStream for durable events.
 * Create it with {@link connectNatsBus}, which also creates or updates the event stream.
 */
export class NatsBus implements Bus {
  private readonly js: JetStreamClient;
  private readonly logger: Logger;
  private readonly prefix: string;
  private readonly coreSubs = new Set<NatsSubscription>();
  private readonly consumers = new Set<RunningConsumer>();
  private readonly inFlight = new Set<Promise<void>>();
  private connected = true;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    options: { logger: Logger; subjectPrefix?: string },
  ) {
    this.js = jsm.jetstream();
    this.logger = options.logger;
    this.prefix = options.subjectPrefix ?? '';
    void this.watchStatus().catch((error: unknown) =>
      this.logger.error('bus status watch failed', { error }),
    );
  }

  publish(subject: string, data: unknown, options?: PublishOptions): void {
    this.assertOpen();
    this.nc.publish(this.wire(subject), encode(data), { headers: this.outgoingHeaders(options?.headers) });
  }

  subscribe(subject: string, handler: BusHandler, options: { queue?: string } = {}): Subscription {
    this.assertOpen();
    const sub = this.nc.subscribe(this.wire(subject), {
      queue: options.queue,
      callback: (error, msg) => {
        if (error) this.logger.error('bus subscription failed', { subject, error });
        else this.track(this.deliver(msg, handler));
      },
    });
    return this.coreSubscription(sub);
  }

  async request(subject: string, data: unknown, options: RequestOptions = {}): Promise<unknown> {
    this.assertOpen();
    const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    let reply: Msg;
    try {
      reply = await this.nc.request(this.wire(subject), encode(data), {
        timeout: timeoutMs,
        headers: this.outgoingHeaders(options.headers),
      });
    } catch (error) {
      if (error instanceof RequestError && error.isNoResponders()) {
        throw new UpstreamUnavailableError(`No service answers ${subject}.`, error);
      }
      if (error instanceof TimeoutError) {
        throw new UpstreamUnavailableError(`${subject} did not answer in ${timeoutMs} ms.`, error);
      }
      if (isUnreachable(error)) throw new UpstreamUnavailableError(`${subject} could not be reached.`, error);
      throw error;
    }
    let envelope: unknown;
    try {
      envelope = decode(reply.data);
    } catch (error) {
      throw new AppError('INTERNAL', 'The responder sent a malformed reply.', { cause: error });
    }
    return unwrapReply(envelope);
  }

  serve(
    subject: string,
    handler: (message: BusMessage) => unknown,
    options: { queue?: string } = {},
  ): Subscription {
    this.assertOpen();
    const sub = this.nc.subscribe(this.wire(subject), {
      queue: options.queue ?? RESPONDER_QUEUE,
      callback: (error, msg) => {
        if (error) this.logger.error('bus responder subscription failed', { subject, error });
        else this.track(this.respond(subject, msg, handler));
      },
    });
    return this.coreSubscription(sub);
  }

  async publishDurable(subject: string, data: unknown, options?: PublishOptions): Promise<void> {
    this.assertOpen();
    if (!subject.startsWith(DURABLE_PREFIX))
      throw new Error(`Durable subjects start with ${DURABLE_PREFIX}: ${subject}`);
    const headers = this.outgoingHeaders(options?.headers);
    try {
      await this.js.publish(this.wire(subject), encode(data), headers ? { headers } : undefined);
    } catch (error) {
      if (isUnreachable(error))
        throw new UpstreamUnavailableError(`The event store did not take ${subject}.`, error);
      throw error;
    }
  }

  async consume(subject: string, handler: BusHandler, options: ConsumeOptions = {}): Promise<Subscription> {
    this.assertOpen();
    const durable = options.durable !== undefined;
    const consumer =
      options.durable !== undefined
        ? await this.durableConsumer(subject, options.durable)
        : await this.orderedConsumer(subject, options.since);
    const messages = await consumer.consume();
    const abort = new AbortController();
    const handle = durable
      ? (msg: JsMsg) => this.handleDurable(msg, handler)
      : (msg: JsMsg) => this.handleOrdered(msg, handler, abort.signal);
    this.track(this.watchConsumer(subject, messages));
    this.track(
      (async () => {
        for await (const msg of messages) {
          // Events the server sent before it learnt we stopped go back at once instead of after ack_wait.
          if (abort.signal.aborted) {
            if (durable) msg.nak();
            continue;
          }
          await handle(msg);
        }
      })(),
    );
    let stopped: Promise<void> | undefined;
    const running: RunningConsumer = {
      stop: () => {
        stopped ??= (async () => {
          abort.abort();
          this.consumers.delete(running);
          // Not awaited: it settles only once the loop above moves on, and stop() may run inside a handler.
          void messages.close();
          // Acks and the end of our pull requests reach the server before another member takes over.
          if (!this.nc.isClosed()) await this.nc.flush();
        })();
        return stopped;
      },
    };
    this.consumers.add(running);
    return { unsubscribe: () => running.stop() };
  }

  async flush(): Promise<void> {
    this.assertOpen();
    await this.nc.flush();
  }

  isConnected(): boolean {
    return this.closing === undefined && this.connected && !this.nc.isClosed();
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  /** Stops taking work, lets handlers finish, then drains the connection; closes it outright when late. */
  private async shutDown(): Promise<void> {
    const graceful = (async () => {
      await Promise.all([...this.consumers].map((consumer) => consumer.stop()));
      await Promise.all([...this.coreSubs].map((sub) => sub.drain()));
      await Promise.all([...this.inFlight]);
      await this.nc.drain();
      return 'drained' as const;
    })().catch((error: unknown) => {
      this.logger.error('bus drain failed; closing', { error });
      return 'failed' as const;
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), CLOSE_DEADLINE_MS);
    });
    const outcome = await Promise.race([graceful, deadline]);
    clearTimeout(timer);
    if (outcome === 'drained') return;
    if (outcome === 'late')
      this.logger.warn('bus did not drain in time; closing', { deadlineMs: CLOSE_DEADLINE_MS });
    await this.nc.close();
  }

  private async durableConsumer(subject: string, durable: string): Promise<Consumer> {
    const name = toJetStreamName(durable);
    const shared = {
      filter_subject: this.wire(subject),
      // One unacknowledged event per name: a failed event is redelivered before any later one, which
      // keeps the order across every process sharing the name.
      max_ack_pending: 1,
      ack_wait: nanos(ACK_WAIT_MS),
      max_deliver: -1,
    };
    try {
      await this.jsm.consumers.add(this.stream, {
        ...shared,
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
      });
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === CONSUMER_EXISTS)) throw error;
      this.logger.info('bus durable consumer reconfigured', { durable: name, subject });
      await this.jsm.consumers.update(this.stream, name, shared);
    }
    return this.js.consumers.get(this.stream, name);
  }

  private async orderedConsumer(subject: string, since: Date | undefined): Promise<Consumer> {
    // Starting after the last stored sequence, rather than DeliverPolicy.New, counts from this call and not
    // from whenever the client gets round to creating the server-side consumer.
    const start = since
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: since.toISOString() }
      : {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: (await this.jsm.streams.info(this.stream)).state.last_seq + 1,
        };
    return this.js.consumers.get(this.stream, { filter_subjects: [this.wire(subject)], ...start });
  }

  private async handleDurable(msg: JsMsg, handler: BusHandler): Promise<void> {
    let message: BusMessage;
    try {
      message = this.fromWire(msg.subject, msg.data, msg.headers);
    } catch (error) {
      this.logger.error('durable event is not JSON; dropped', { subject: msg.subject, seq: msg.seq, error });
      msg.term();
      return;
    }
    try {
      await this.withRequestContext(message, () => handler(message));
    } catch (error) {
      const attempt = msg.info.deliveryCount;
      this.logger.warn('durable handler failed; retrying', { subject: message.subject, attempt, error });
      msg.nak(retryDelayMs(attempt));
      return;
    }
    msg.ack();
  }

  /** Ordered consumers cannot nak, so a failed event is retried here before the next one is taken. */
  private async handleOrdered(msg: JsMsg, handler: BusHandler, signal: AbortSignal): Promise<void> {
    let message: BusMessage;
    try {
      message = this.fromWire(msg.subject, msg.data, msg.headers);
    } catch (error) {
      this.logger.error('durable event is not JSON; dropped', { subject: msg.subject, seq: msg.seq, error });
      return;
    }
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.withRequestContext(message, () => handler(message));
        return;
      } catch (error) {
        this.logger.warn('durable handler failed; retrying', { subject: message.subject, attempt, error });
        await sleep(retryDelayMs(attempt), signal);
      }
    }
  }

  private async deliver(msg: Msg, handler: BusHandler): Promise<void> {
    try {
      const message = this.fromWire(msg.subject, msg.data, msg.headers);
      await this.withRequestContext(message, () => handler(message));
    } catch (error) {
      this.logger.error('bus handler failed', { subject: msg.subject, error });
    }
  }

  private async respond(subject: string, msg: Msg, handler: (message: BusMessage) => unknown): Promise<void> {
    let reply: string;
    try {
      const message = this.fromWire(msg.subject, msg.data, msg.headers);
      reply = await this.withRequestContext(message, async () => {
        try {
          return encode({ ok: true, data: (await handler(message)) ?? null } satisfies ReplyEnvelope);
        } catch (error) {
          if (!(error instanceof AppError)) this.logger.error('bus responder failed', { subject, error });
          return encode(errorReply(error));
        }
      });
    } catch (error) {
      this.logger.error('bus responder failed', { subject, error });
      reply = encode(errorReply(error));
    }
    try {
      msg.respond(reply);
    } catch (error) {
      this.logger.error('bus reply failed', { subject, error });
    }
  }

  private async watchConsumer(subject: string, messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      switch (status.type) {
        case 'heartbeats_missed':
        case 'consumer_not_found':
        case 'stream_not_found':
        case 'consumer_deleted':
        case 'exceeded_limits':
        case 'no_responders':
          this.logger.warn('bus consumer trouble', { subject, ...status });
          break;
        default:
          break;
      }
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.connected = false;
          this.logger.warn('bus disconnected', { server: status.server });
          break;
        case 'reconnect':
          this.connected = true;
          this.logger.info('bus reconnected', { server: status.server });
          break;
        case 'error':
          this.logger.error('bus connection error', { error: status.error });
          break;
        case 'slowConsumer':
          this.logger.warn('bus subscription falls behind', {
            subject: status.sub.getSubject(),
            pending: status.pending,
          });
          break;
        default:
          break;
      }
    }
  }

  private coreSubscription(sub: NatsSubscription): Subscription {
    this.coreSubs.add(sub);
    return {
      unsubscribe: async () => {
        this.coreSubs.delete(sub);
        if (!sub.isClosed()) sub.unsubscribe();
      },
    };
  }

  private withRequestContext<T>(message: BusMessage, fn: () => T): T {
    return runWithContext({ requestId: acceptRequestId(message.headers[REQUEST_ID_HEADER]) }, fn);
  }

  private fromWire(wireSubject: string, data: Uint8Array, headers: MsgHdrs | undefined): BusMessage {
    return {
      subject: wireSubject.slice(this.prefix.length),
      data: decode(data),
      headers: readHeaders(headers),
    };
  }

  private wire(subject: string): string {
    return this.prefix + subject;
  }

  private outgoingHeaders(extra: Record<string, string> | undefined): MsgHdrs | undefined {
    const requestId = currentRequestId();
    const entries = Object.entries({ ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}), ...extra });
    if (entries.length === 0) return undefined;
    const headers = natsHeaders();
    for (const [key, value] of entries) headers.set(key, value);
    return headers;
  }

  /** Remembers background work so close() can wait for it; its failures are logged, never lost. */
  private track(work: Promise<void>): void {
    const settled = work.catch((error: unknown) => {
      this.logger.error('bus background work failed', { error });
    });
    this.inFlight.add(settled);
    void settled.finally(() => this.inFlight.delete(settled));
  }

  private assertOpen(): void {
    if (this.closing !== undefined || this.nc.isClosed())
      throw new UpstreamUnavailableError('The bus is closed.');
  }
}

/**
 * Connects to NATS (reconnecting forever once connected) and creates or updates the event stream,
 * which captures `${subjectPrefix}events.>` in file storage.
 */
export async function connectNatsBus(options: NatsBusOptions): Promise<NatsBus> {
  const prefix = options.subjectPrefix ?? '';
  const stream = toJetStreamName(prefix + (options.streamName ?? DEFAULT_STREAM));
  const maxAgeMs = (options.eventMaxAgeSeconds ?? DEFAULT_EVENT_MAX_AGE_SECONDS) * 1000;
  const nc = await connect({
    servers: options.servers.split(',').map((server) => server.trim()),
    name: options.name,
    maxReconnectAttempts: -1,
  });
  try {
    const jsm = await jetstreamManager(nc, { timeout: JETSTREAM_TIMEOUT_MS });
    const config = {
      subjects: [`${prefix}${DURABLE_PREFIX}>`],
      max_age: nanos(maxAgeMs),
      duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, maxAgeMs)),
    };
    try {
      await jsm.streams.add({ name: stream, storage: StorageType.File, ...config });
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE)) throw error;
      await jsm.streams.update(stream, config);
    }
    return new NatsBus(nc, jsm, stream, { logger: options.logger, subjectPrefix: prefix });
  } catch (error) {
    await nc.close();
    throw error;
  }
}
