import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What follows one request through every async hop, HTTP or bus, in one process. */
export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Header that carries the request id over HTTP and NATS. */
export const REQUEST_ID_HEADER = 'x-request-id';

const validRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/** A client's request id when it is safe to echo and log, else a fresh one. */
export function acceptRequestId(candidate: unknown): string {
  return typeof candidate === 'string' && validRequestId.test(candidate) ? candidate : randomUUID();
}

export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
