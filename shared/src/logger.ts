import winston from 'winston';
import { currentRequestId } from './context';

export type Logger = winston.Logger;
export type LogLevel = 'error' | 'warn' | 'info' | 'http' | 'debug';

/** Keys whose values never reach a log line, wherever they sit in the logged object. */
const SECRET_KEYS = new Set([
  'password',
  'currentpassword',
  'passwordhash',
  'token',
  'accesstoken',
  'refreshtoken',
  'authorization',
  'cookie',
  'privatekey',
  'secret',
]);

/** Replaces secrets in the way a query string carries them (`?token=...`). */
const TOKEN_IN_URL = /([?&](?:token|access_token|refresh_token)=)[^&\s]*/gi;

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(TOKEN_IN_URL, '$1[REDACTED]');
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message, depth + 1), stack: value.stack };
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEYS.has(key.toLowerCase()) ? '[REDACTED]' : redact(inner, depth + 1);
  }
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'service') continue;
    info[key] = SECRET_KEYS.has(key.toLowerCase()) ? '[REDACTED]' : redact(info[key]);
  }
  return info;
});

const requestIdFormat = winston.format((info) => {
  const requestId = currentRequestId();
  if (requestId && info.requestId === undefined) info.requestId = requestId;
  return info;
});

/**
 * A JSON logger for one service: every line has `service`, `timestamp`, and the current request id,
 * and secrets (passwords, tokens, authorization headers) are replaced before anything is written.
 */
export function createLogger(
  service: string,
  level: LogLevel = 'info',
  transports?: winston.transport[],
): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service },
    format: winston.format.combine(
      requestIdFormat(),
      redactFormat(),
      winston.format.timestamp(),
      winston.format.json(),
    ),
    transports: transports ?? [new winston.transports.Console()],
  });
}
