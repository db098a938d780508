import { z } from 'zod';
import { ConfigError } from './errors';

/** Settings every service reads (README, "Configuration"). */
export const baseConfigShape = {
  PORT: z.coerce.number().int().min(0).max(65535),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'debug']).default('info'),
  MONGO_URL: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URL')
    .optional(),
  /** One NATS server URL, or several separated by commas, tried in that order (list the nearest first). */
  NATS_URL: z.string().min(1).optional(),
  /**
   * Copies JetStream keeps of each stream on a NATS cluster (1-5). Unset: 3 when the cluster has 3 or more
   * servers, else 1, and an existing stream is raised to that but never lowered; set, it is applied as is,
   * also to an existing stream. Give every service the same value: each creates or updates the streams.
   */
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  /** Where auth-service answers; other services fetch JWKS from it over the bus, this is for humans. */
  JWT_ISSUER: z.string().min(1).default('chat-auth'),
  JWT_AUDIENCE: z.string().min(1).default('chat'),
  /** How far back a verifier replays session revocations at start-up; at least the access-token lifetime. */
  REVOCATION_WINDOW_SECONDS: z.coerce.number().int().positive().default(3600),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** When set, `GET /metrics` requires it as a bearer token; unset, `/metrics` is open. */
  METRICS_TOKEN: z
    .string()
    .regex(/^[A-Za-z0-9._~+/=-]+$/, 'must be a bearer token: letters, digits and ._~+/=- only')
    .optional(),
};

/** Parses one service's settings from `env`; a bad setting throws a ConfigError naming every bad one. */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  env: Record<string, string | undefined>,
): Readonly<z.infer<z.ZodObject<S>>> {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env))
    if (value !== undefined && value !== '') cleaned[key] = value;
  const result = z.object(shape).safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(result.data);
}

/** A comma-separated list in one variable. */
export const csv = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);
