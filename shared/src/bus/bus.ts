import type { z } from 'zod';
import { AppError, InternalError, toErrorCode } from '../errors';
import { storeUnavailable } from '../store/mongo';

/** One message as a handler sees it: JSON data already decoded, headers as plain strings. */
export interface BusMessage {
  subject: string;
  data: unknown;
  headers: Readonly<Record<string, string>>;
}

export type BusHandler = (message: BusMessage) => void | Promise<void>;

export interface Subscription {
  /** Stops delivery; resolves once no handler of this subscription will start again. */
  unsubscribe(): Promise<void>;
}

/** A subscription to durable events, which can say whether it keeps up with the stream. */
export interface ConsumerSubscription extends Subscription {
  /**
   * True while the consumer follows the stream: it exists on the server, the connection is up and the
   * server's heartbeats arrive. False while it is being recreated (after a server restart, a lost consumer
   * or missed heartbeats), and for good once unsubscribed. A service whose safety depends on a consumer
   * (revocations) is not ready while this is false.
   */
  isFollowing(): boolean;
}

export interface PublishOptions {
  headers?: Record<string, string>;
}

export interface RequestOptions extends PublishOptions {
  timeoutMs?: number;
}

export interface ConsumeOptions {
  /**
   * A durable name: every consumer with the same name shares one cursor, so each event is handled once
   * per name (a queue across instances) and a consumer that was down resumes where its name left off.
   * Without it, this process alone receives every event published from `since` (or from now) on.
   */
  durable?: string;
  /** For a consumer without a durable name: replay events published at or after this time. */
  since?: Date;
}

/**
 * What services use to talk to each other. Two implementations keep the same semantics:
 * NATS (core subjects + JetStream for durable events) and an in-process bus for the one-process run.
 *
 * Subjects are NATS subjects (`.`-separated tokens, `*` one token, `>` the rest). Data is JSON.
 * The current request id travels in the `x-request-id` header and is restored around handlers.
 */
export interface Bus {
  /** Fire-and-forget to everyone subscribed now (at most once). */
  publish(subject: string, data: unknown, options?: PublishOptions): void;
  /** Receives core publishes; with `queue`, one member of the queue group gets each message. */
  subscribe(subject: string, handler: BusHandler, options?: { queue?: string }): Subscription;
  /**
   * Sends a request and resolves with the responder's reply data. Rejects with the responder's AppError
   * (same code), or UpstreamUnavailableError on no responder or timeout (default 5 s).
   */
  request(subject: string, data: unknown, options?: RequestOptions): Promise<unknown>;
  /** Answers requests on `subject` with what `handler` returns; a thrown AppError reaches the caller. */
  serve(
    subject: string,
    handler: (message: BusMessage) => unknown,
    options?: { queue?: string },
  ): Subscription;
  /** Stores an event in the durable stream; resolves once it is stored. Subject starts with `events.`. */
  publishDurable(subject: string, data: unknown, options?: PublishOptions): Promise<void>;
  /**
   * Handles durable events matching `subject`, in order per consumer. The handler's promise settling is
   * the acknowledgement; a handler that throws gets the event again after a backoff. The consumer outlives
   * server restarts and lost consumers: it is recreated after the last event it handled, so none is
   * skipped.
   */
  consume(subject: string, handler: BusHandler, options?: ConsumeOptions): Promise<ConsumerSubscription>;
  /** Resolves when everything published so far has reached the server. */
  flush(): Promise<void>;
  /** True while connected (always true in process). */
  isConnected(): boolean;
  /**
   * For readiness probes: connected and the durable event stream answers (NATS asks the server, at most
   * about once a second; in process, true until closed).
   */
  isReady(): Promise<boolean>;
  /**
   * Calls `listener` each time the connection comes back after it was lost (subscriptions are in place
   * again by then): core messages published meanwhile never arrived. Never called in process. Returns
   * the function that stops listening.
   */
  onReconnect(listener: () => void): () => void;
  /** Lets in-flight handlers finish, then disconnects. */
  close(): Promise<void>;
}

/** The subject prefix durable events live under; the stream captures `events.>`. */
export const DURABLE_PREFIX = 'events.';

/** The reply envelope both bus implementations use for request/reply. */
export type ReplyEnvelope =
  { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

/**
 * What a responder sends when its handler threw: AppErrors keep their code, a database out of reach is
 * UPSTREAM_UNAVAILABLE, anything else is INTERNAL.
 */
export function errorReply(error: unknown): ReplyEnvelope {
  const known = error instanceof AppError ? error : storeUnavailable(error);
  if (known) return { ok: false, error: { code: known.code, message: known.message } };
  return { ok: false, error: { code: 'INTERNAL', message: 'The responder failed.' } };
}

/** Turns a reply envelope back into data or the responder's error. */
export function unwrapReply(envelope: unknown): unknown {
  const reply = envelope as ReplyEnvelope;
  if (reply && reply.ok === true) return reply.data;
  if (reply && reply.ok === false && reply.error)
    throw new AppError(toErrorCode(reply.error.code), reply.error.message);
  throw new InternalError('The responder sent a malformed reply.');
}

/** A subject with the zod schema of its payload, so publishers and consumers agree. */
export interface SubjectDef<S extends z.ZodType> {
  subject: string;
  schema: S;
}

export function defineSubject<S extends z.ZodType>(subject: string, schema: S): SubjectDef<S> {
  return { subject, schema };
}

/** Tests whether a concrete subject matches a NATS pattern with `*` and `>` wildcards. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split('.');
  const have = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    const token = want[i];
    if (token === '>') return have.length > i;
    if (i >= have.length) return false;
    if (token !== '*' && token !== have[i]) return false;
  }
  return want.length === have.length;
}
