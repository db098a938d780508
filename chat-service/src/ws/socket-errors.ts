import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError, httpStatusByCode, InternalError, storeUnavailable, type Logger } from '@chat/shared';
import type { ServerEventOf } from '@chat/protocol';

/**
 * The one place errors leave the socket edge: as `error` events on an open socket, or as a plain HTTP
 * answer to an upgrade that is refused (no socket opens). AppErrors keep their code and message, a
 * database out of reach is UPSTREAM_UNAVAILABLE; anything else is logged under an errorId and shown as
 * INTERNAL with that id only.
 */

/** `error` as the client may see it: an AppError, or undefined for a fault of ours. */
export function clientVisible(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error.code === 'INTERNAL' ? undefined : error;
  return storeUnavailable(error);
}

/** The `error` event answering the frame with `ref` (or no frame). */
export function errorEvent(
  logger: Logger,
  userId: string,
  ref: string | undefined,
  error: unknown,
): ServerEventOf<'error'> {
  const refField = ref === undefined ? {} : { ref };
  const visible = clientVisible(error);
  if (visible) {
    return {
      type: 'error',
      ...refField,
      code: visible.code,
      message: visible.message,
      ...(visible.details ? { details: visible.details } : {}),
    };
  }
  const errorId = randomUUID();
  logger.error('socket frame failed', { errorId, userId, error });
  return { type: 'error', ...refField, code: 'INTERNAL', message: new InternalError().message, errorId };
}

/**
 * Answers an upgrade request with a plain HTTP error in the contract's shape and closes the connection:
 * no socket opens. The status comes from the error code; 401s carry `WWW-Authenticate: Bearer` as
 * everywhere else, 429 and 503 a `Retry-After`.
 */
export function refuseUpgrade(socket: Duplex, error: AppError, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const status = httpStatusByCode[error.code];
  const details = error.details ? { details: error.details } : {};
  const body = JSON.stringify({ error: { code: error.code, message: error.message, ...details } });
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(status === 401 ? ['WWW-Authenticate: Bearer'] : []),
    ...(status === 503 || status === 429 ? ['Retry-After: 1'] : []),
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
