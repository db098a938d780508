import type { IncomingMessage, ServerResponse } from 'node:http';
import { finished, Transform, type Readable } from 'node:stream';
import type { NextFunction, Request, Response } from 'express';
import { Pool, type Dispatcher } from 'undici';
import { PayloadTooLargeError, UpstreamUnavailableError, type Logger } from '@chat/shared';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers';

export interface UpstreamProxyOptions {
  /** Connect, response-headers and between-body-chunks deadline for every upstream call. */
  timeoutMs: number;
  /** Largest request body forwarded; larger answers 413 PAYLOAD_TOO_LARGE. */
  bodyLimitBytes: number;
  logger: Logger;
}

/** Errors that mean no connection to the upstream was made, so the request never reached it. */
const CONNECT_FAILURES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Streams requests to upstream services over keep-alive undici pools (bench/README.md says why undici)
 * and streams their answers back unchanged but for hop-by-hop headers. Bodies are never buffered:
 * a declared Content-Length over the limit is refused before any upstream is contacted, a chunked body is
 * counted as it passes and cut at the limit.
 */
export class UpstreamProxy {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly options: UpstreamProxyOptions) {}

  /**
   * Forwards `req` to `origin`. While nothing has been sent to the client, a failure reaches `next` as
   * PAYLOAD_TOO_LARGE or UPSTREAM_UNAVAILABLE; after that the client's connection is cut. When no
   * connection to `origin` could be made, `unreachable` is asked first, told whether the request can be
   * sent again (it has no body); it answers true when it sent the request elsewhere.
   */
  forward(
    req: Request,
    res: Response,
    next: NextFunction,
    upstream: {
      origin: string;
      service: string;
      unreachable?: (resendable: boolean) => boolean;
      /** This request's body limit, when it is not the proxy's own. */
      bodyLimitBytes?: number;
    },
  ): void {
    const { origin, service } = upstream;
    const { timeoutMs } = this.options;
    const bodyLimitBytes = upstream.bodyLimitBytes ?? this.options.bodyLimitBytes;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > bodyLimitBytes) {
      refuseBody(res, next, bodyLimitBytes);
      return;
    }
    let overLimit = false;
    const body = !hasBody(req)
      ? null
      : declared !== undefined
        ? req // Node's parser already stops a body at its declared length.
        : limitBody(req, bodyLimitBytes, () => (overLimit = true));
    const clientGone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) clientGone.abort();
    });
    this.pool(origin).stream(
      {
        method: req.method as Dispatcher.HttpMethod,
        path: originForm(req),
        headers: upstreamRequestHeaders(req.headers, { for: req.ip, proto: req.protocol, host: req.host }),
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: clientGone.signal,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, clientResponseHeaders(headers));
        return res;
      },
      (error) => {
        if (!error) return;
        if (clientGone.signal.aborted) return;
        if (res.headersSent || res.destroyed) {
          this.options.logger.warn('upstream response cut short', { service, origin, error });
          res.destroy();
        } else if (overLimit) {
          refuseBody(res, next, bodyLimitBytes);
        } else if (
          CONNECT_FAILURES.has((error as NodeJS.ErrnoException).code ?? '') &&
          upstream.unreachable?.(body === null)
        ) {
          return;
        } else {
          next(new UpstreamUnavailableError(`The ${service} service is unavailable.`, error));
        }
      },
    );
  }

  /**
   * True when `origin` answers `GET /readyz` with 200 within `timeoutMs`: ready, not merely alive, so the
   * gateway is not ready while a service it routes to cannot do its work (its store or bus is down, or it
   * cannot follow revocations; issue 15).
   */
  async probe(origin: string, timeoutMs: number): Promise<boolean> {
    const { statusCode, body } = await this.pool(origin).request({
      method: 'GET',
      path: '/readyz',
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await body.dump();
    return statusCode === 200;
  }

  /** Closes every upstream connection; call once the HTTP server has stopped. */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      const { timeoutMs } = this.options;
      pool = new Pool(origin, {
        connectTimeout: timeoutMs,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}

/**
 * The request target in origin form (RFC 9112 §3.2.1): path and query as the client wrote them, without
 * the scheme and authority a client may send in absolute form; those are the gateway's to choose.
 */
function originForm(req: Request): string {
  const query = req.originalUrl.indexOf('?');
  return query === -1 ? req.path : req.path + req.originalUrl.slice(query);
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** The client's body stays unread, so this connection cannot carry another request: close it. */
function refuseBody(res: ServerResponse, next: NextFunction, limit: number): void {
  res.setHeader('connection', 'close');
  next(new PayloadTooLargeError(`${limit} bytes`));
}

/**
 * The body as it arrives, failing once it passes `limit` bytes. `pipe`, not `pipeline`: the request must
 * stay open after the cut so the 413 can still be written on its socket.
 */
function limitBody(req: IncomingMessage, limit: number, onOverLimit: () => void): Readable {
  let seen = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > limit) {
        onOverLimit();
        callback(new PayloadTooLargeError(`${limit} bytes`));
        return;
      }
      callback(null, chunk);
    },
  });
  // An aborted upload fails the upstream request through `counted`; that is where it is reported.
  finished(req, (error) => {
    if (error) counted.destroy(error);
  });
  return req.pipe(counted);
}
