import { readFile } from 'node:fs/promises';
import {
  ClosedConnectionError,
  connect,
  credsAuthenticator,
  DrainingConnectionError,
  headers as natsHeaders,
  nanos,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import type {
  Msg,
  MsgHdrs,
  NatsConnection,
  NodeConnectionOptions,
  Subscription as NatsSubscription,
} from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, JsMsg, StreamConfig } from '@nats-io/jetstream';
import type { NatsAuth } from '../config';
import { AppError, UpstreamUnavailableError } from '../errors';
import { acceptRequestId, currentRequestId, REQUEST_ID_HEADER, runWithContext } from '../context';
import type { Logger } from '../logger';
import type {
  Bus,
  BusHandler,
  BusMessage,
  ConsumeOptions,
  ConsumerSubscription,
  PublishOptions,
  ReplyEnvelope,
  RequestOptions,
  Subscription,
} from './bus';
import { DURABLE_PREFIX, errorReply, unwrapReply } from './bus';
import { StreamFollower } from './nats-follower';

export interface NatsBusOptions {
  /** One server URL, or several separated by commas. */
  servers: string;
  /** Credentials, when the server requires them. */
  auth?: NatsAuth;
  /** The connection name the server shows in its monitoring. */
  name: string;
  /**
   * Where replies to this connection's requests (and its consumers' deliveries) arrive; default
   * `_INBOX.<name>`, so NATS permissions can let each service read its own replies only.
   */
  inboxPrefix?: string;
  logger: Logger;
  /** Prepended to every subject on the wire and to the stream name, so tenants of one server never meet. */
  subjectPrefix?: string;
  /** The JetStream stream holding durable events (default `EVENTS`, prefixed like subjects). */
  streamName?: string;
  /** How long the stream keeps an event (default 7 days). */
  eventMaxAgeSeconds?: number;
  /**
   * Copies of each stream kept in a NATS cluster. Default (`undefined`): 3 when the cluster has 3 or more
   * servers, else 1; an existing stream with fewer is raised to that, never lowered. A number is applied
   * as given, to a new stream and to an existing one with another count.
   */
  streamReplicas?: number;
}

const DEFAULT_STREAM = 'EVENTS';
const DEFAULT_EVENT_MAX_AGE_SECONDS = 7 * 24 * 60 * 60;
/** The server's default duplicate window; it may not exceed the stream's max age. */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
const JETSTREAM_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 5_000;
const CLOSE_DEADLINE_MS = 10_000;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;
/** How long a readiness answer about the stream is reused: probes may come often, the answer is cheap. */
const STREAM_CHECK_TTL_MS = 1_500;
/** A stream that does not answer a readiness probe this quickly counts as unavailable. */
const STREAM_CHECK_TIMEOUT_MS = 1_500;
/** A consumer created only to learn where a start time falls in the stream; deleted at once. */
const PROBE_INACTIVE_MS = 10_000;
/** Server error code when the stream exists with another configuration. */
const STREAM_NAME_IN_USE = 10058;
/** Server error codes for replicas it cannot place: not clustered; not enough servers. */
const REPLICAS_NOT_SUPPORTED = 10074;
const INSUFFICIENT_RESOURCES = 10023;
/** The replica count streams get by default on a cluster of at least this many servers. */
const CLUSTER_REPLICAS = 3;
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

/**
 * The bus over NATS: core subjects for publish/subscribe and request/reply, JetStream for durable events.
 * Create it with {@link connectNatsBus}, which also creates or updates the event stream.
 */
export class NatsBus implements Bus {
  private readonly js: JetStreamClient;
  private readonly logger: Logger;
  private readonly prefix: string;
  private readonly coreSubs = new Set<NatsSubscription>();
  private readonly followers = new Set<StreamFollower>();
  private readonly reconnectListeners = new Set<() => void>();
  private readonly inFlight = new Set<Promise<void>>();
  private connected = true;
  private closing: Promise<void> | undefined;
  private streamCheck: { at: number; ok: boolean } | undefined;
  private streamChecking: Promise<boolean> | undefined;

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

  async consume(
    subject: string,
    handler: BusHandler,
    options: ConsumeOptions = {},
  ): Promise<ConsumerSubscription> {
    this.assertOpen();
    const durable = options.durable !== undefined;
    const follower = new StreamFollower({
      nc: this.nc,
      js: this.js,
      jsm: this.jsm,
      stream: this.stream,
      filter: this.wire(subject),
      subject,
      target:
        options.durable !== undefined
          ? { kind: 'durable', name: toJetStreamName(options.durable) }
          : { kind: 'ordered', startSeq: await this.startSequence(subject, options.since) },
      logger: this.logger,
      connected: () => this.isConnected(),
      handle: durable
        ? (msg) => this.handleDurable(msg, handler)
        : (msg, signal) => this.handleOrdered(msg, handler, signal),
    });
    const { following } = await follower.start();
    this.followers.add(follower);
    this.track(following);
    let stopped: Promise<void> | undefined;
    return {
      unsubscribe: () => {
        stopped ??= (async () => {
          this.followers.delete(follower);
          await follower.stop();
          // Acks and the end of our pull requests reach the server before another member takes over.
          if (!this.nc.isClosed()) await this.nc.flush();
        })();
        return stopped;
      },
      isFollowing: () => follower.isFollowing(),
    };
  }

  async flush(): Promise<void> {
    this.assertOpen();
    await this.nc.flush();
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  private callListener(listener: () => void): void {
    try {
      listener();
    } catch (error) {
      this.logger.error('bus reconnect listener failed', { error });
    }
  }

  isConnected(): boolean {
    return this.closing === undefined && this.connected && !this.nc.isClosed();
  }

  /**
   * Connected, and the event stream answers (its leader, on a cluster): what every durable publish and
   * consumer needs. The answer is reused for a second and a half, and concurrent probes share one request.
   */
  isReady(): Promise<boolean> {
    if (!this.isConnected()) return Promise.resolve(false);
    if (this.streamCheck && Date.now() - this.streamCheck.at < STREAM_CHECK_TTL_MS)
      return Promise.resolve(this.streamCheck.ok);
    this.streamChecking ??= this.checkStream().then((ok) => {
      this.streamCheck = { at: Date.now(), ok };
      this.streamChecking = undefined;
      return ok;
    });
    return this.streamChecking;
  }

  /** Whether the stream's leader answers within STREAM_CHECK_TIMEOUT_MS; logs when that changes. */
  private async checkStream(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer about the stream in ${STREAM_CHECK_TIMEOUT_MS} ms`)),
        STREAM_CHECK_TIMEOUT_MS,
      );
    });
    const wasOk = this.streamCheck?.ok !== false;
    try {
      await Promise.race([this.jsm.streams.info(this.stream), late]);
    } catch (error) {
      if (wasOk) this.logger.warn('bus event stream unavailable', { stream: this.stream, error });
      return false;
    } finally {
      clearTimeout(timer);
    }
    if (!wasOk) this.logger.info('bus event stream available again', { stream: this.stream });
    return true;
  }

  /** The server this connection is on now (`host:port`). */
  server(): string {
    return this.nc.getServer();
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  /** Stops taking work, lets handlers finish, then drains the connection; closes it outright when late. */
  private async shutDown(): Promise<void> {
    const graceful = (async () => {
      await Promise.all([...this.followers].map((follower) => follower.stop()));
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

  /**
   * Where a consumer without a durable name starts: after the last stored event, or at the first event at
   * or after `since`. The server answers the latter: a consumer that only looks is created with the start
   * time and deleted at once. Consumers that follow always start from a sequence, because nats.js
   * recreates an ordered consumer with the config it was given plus a start sequence, which the server
   * refuses for a start time, forever (error 10094, issue 15).
   */
  private async startSequence(subject: string, since: Date | undefined): Promise<number> {
    if (!since) return (await this.jsm.streams.info(this.stream)).state.last_seq + 1;
    const probe = await this.jsm.consumers.add(this.stream, {
      filter_subject: this.wire(subject),
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: since.toISOString(),
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(PROBE_INACTIVE_MS),
    });
    await this.jsm.consumers.delete(this.stream, probe.name).catch((error: unknown) => {
      this.logger.debug('bus start probe was not deleted; it expires by itself', { error });
    });
    return probe.delivered.stream_seq + 1;
  }

  private async handleDurable(msg: JsMsg, handler: BusHandler): Promise<boolean> {
    let message: BusMessage;
    try {
      message = this.fromWire(msg.subject, msg.data, msg.headers);
    } catch (error) {
      this.logger.error('durable event is not JSON; dropped', { subject: msg.subject, seq: msg.seq, error });
      msg.term();
      return true;
    }
    try {
      await this.withRequestContext(message, () => handler(message));
    } catch (error) {
      const attempt = msg.info.deliveryCount;
      this.logger.warn('durable handler failed; retrying', { subject: message.subject, attempt, error });
      msg.nak(retryDelayMs(attempt));
      return false;
    }
    msg.ack();
    return true;
  }

  /** Ordered consumers cannot nak, so a failed event is retried here before the next one is taken. */
  private async handleOrdered(msg: JsMsg, handler: BusHandler, signal: AbortSignal): Promise<boolean> {
    let message: BusMessage;
    try {
      message = this.fromWire(msg.subject, msg.data, msg.headers);
    } catch (error) {
      this.logger.error('durable event is not JSON; dropped', { subject: msg.subject, seq: msg.seq, error });
      return true;
    }
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.withRequestContext(message, () => handler(message));
        return true;
      } catch (error) {
        this.logger.warn('durable handler failed; retrying', { subject: message.subject, attempt, error });
        await sleep(retryDelayMs(attempt), signal);
      }
    }
    return false;
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

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.connected = false;
          this.logger.warn('bus disconnected', { server: status.server });
          for (const follower of this.followers) follower.disconnected();
          break;
        case 'reconnect':
          this.connected = true;
          this.streamCheck = undefined;
          this.logger.info('bus reconnected', { server: status.server });
          // The server may have restarted and forgotten consumers held in memory: create them again.
          for (const follower of this.followers) follower.recreate('reconnected', { server: status.server });
          for (const listener of this.reconnectListeners) this.callListener(listener);
          break;
        case 'ldm':
          this.logger.warn('bus server entering lame duck mode; moving to another', {
            server: status.server,
          });
          break;
        case 'update': {
          const added = status.added ?? [];
          const deleted = status.deleted ?? [];
          if (added.length + deleted.length === 0) break;
          this.logger.info('bus cluster servers changed', { added, deleted });
          // A server left: consumers it held are gone with it, and waiting for missed heartbeats is slower.
          if (deleted.length > 0)
            for (const follower of this.followers) follower.recreate('cluster server left', { deleted });
          break;
        }
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
 * Connects to NATS (reconnecting forever once connected), trying the servers in the order given (a
 * service lists its local node first), and creates or updates the event stream, which captures
 * `${subjectPrefix}events.>` in file storage with the replica count of {@link NatsBusOptions.streamReplicas}.
 */
export async function connectNatsBus(options: NatsBusOptions): Promise<NatsBus> {
  const prefix = options.subjectPrefix ?? '';
  const stream = toJetStreamName(prefix + (options.streamName ?? DEFAULT_STREAM));
  const maxAgeMs = (options.eventMaxAgeSeconds ?? DEFAULT_EVENT_MAX_AGE_SECONDS) * 1000;
  const nc = await connect({
    servers: options.servers.split(',').map((server) => server.trim()),
    name: options.name,
    maxReconnectAttempts: -1,
    // nats.js shuffles the list unless told not to (issue 15).
    noRandomize: true,
    inboxPrefix: options.inboxPrefix ?? `_INBOX.${options.name}`,
    ...(await authOptions(options.auth)),
  });
  try {
    options.logger.info('bus connected', { server: nc.getServer(), cluster: nc.info?.cluster });
    const jsm = await jetstreamManager(nc, { timeout: JETSTREAM_TIMEOUT_MS });
    await ensureStream(jsm, stream, {
      config: {
        subjects: [`${prefix}${DURABLE_PREFIX}>`],
        max_age: nanos(maxAgeMs),
        duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, maxAgeMs)),
      },
      replicas: options.streamReplicas,
      clusterSize: clusterSize(nc),
      logger: options.logger,
    });
    return new NatsBus(nc, jsm, stream, { logger: options.logger, subjectPrefix: prefix });
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/** The nats.js connect options for `auth`; a credentials file is read here, at connect time. */
async function authOptions(auth: NatsAuth | undefined): Promise<Partial<NodeConnectionOptions>> {
  if (!auth) return {};
  if ('credsFile' in auth) return { authenticator: credsAuthenticator(await readFile(auth.credsFile)) };
  return 'token' in auth ? { token: auth.token } : { user: auth.user, pass: auth.pass };
}

/**
 * How many servers the cluster has, as the server tells its clients: `connect_urls` lists every server's
 * client address (its own included) unless the cluster hides them (`no_advertise`), when it is unknown.
 */
function clusterSize(nc: NatsConnection): number | undefined {
  const info = nc.info;
  if (!info?.cluster) return 1;
  const urls = new Set(info.connect_urls ?? []);
  return urls.size > 0 ? urls.size : undefined;
}

/**
 * Creates the stream, or brings an existing one to `config` and the wanted replica count. Without a
 * configured count: 3 on a cluster of 3 or more servers (or of unknown size), else 1; if the server cannot
 * place that many it gets 1, with a warning, rather than no stream; an existing stream is raised to the
 * default but never lowered (an operator may have raised it on purpose).
 */
async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  options: {
    config: Partial<StreamConfig>;
    replicas: number | undefined;
    clusterSize: number | undefined;
    logger: Logger;
  },
): Promise<void> {
  const { config, replicas, clusterSize: size, logger } = options;
  const configured = replicas !== undefined;
  const wanted = replicas ?? ((size ?? CLUSTER_REPLICAS) >= CLUSTER_REPLICAS ? CLUSTER_REPLICAS : 1);
  const unplaceable = (error: unknown) =>
    !configured &&
    wanted > 1 &&
    error instanceof JetStreamApiError &&
    (error.code === REPLICAS_NOT_SUPPORTED || error.code === INSUFFICIENT_RESOURCES);
  try {
    await jsm.streams.add({ name, storage: StorageType.File, ...config, num_replicas: wanted });
    logger.info('bus event stream ready', { stream: name, replicas: wanted });
    return;
  } catch (error) {
    if (unplaceable(error)) {
      logger.warn('bus event stream cannot have the default replicas here; keeping one', {
        stream: name,
        replicas: wanted,
        error,
      });
      await ensureStream(jsm, name, { ...options, replicas: 1 });
      return;
    }
    if (!(error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE)) throw error;
  }
  const current = (await jsm.streams.info(name)).config.num_replicas;
  const target = configured || current < wanted ? wanted : current;
  try {
    await jsm.streams.update(name, { ...config, num_replicas: target });
  } catch (error) {
    if (!unplaceable(error)) throw error;
    logger.warn('bus event stream keeps its replicas: the cluster cannot place more', {
      stream: name,
      replicas: current,
      wanted,
      error,
    });
    await jsm.streams.update(name, { ...config, num_replicas: current });
    return;
  }
  if (target !== current)
    logger.info('bus event stream replicas changed', { stream: name, from: current, to: target });
}
