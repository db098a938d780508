import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from './errors';

/** Express `trust proxy`: a number of hops, or the addresses and subnets of the proxies to believe. */
export type TrustProxy = number | string[];

/** The names Express (proxy-addr) gives to ranges: 127.0.0.1/8 and ::1, 169.254/16 and fe80::/10, private. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGE_NAMES.has(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const max = family === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}

/**
 * TRUST_PROXY: `0` (the default: believe no `X-Forwarded-For`, the peer is the client), a hop count, or
 * comma-separated addresses, CIDR subnets and the names `loopback`, `linklocal`, `uniquelocal` of the
 * proxies (the gateway) whose `X-Forwarded-For` is believed.
 */
export const trustProxySchema = z
  .string()
  .trim()
  .transform((value, context): TrustProxy => {
    if (/^\d+$/.test(value)) return Number(value);
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    const bad = entries.filter((entry) => !isProxyAddress(entry));
    if (entries.length === 0 || bad.length > 0) {
      context.addIssue({
        code: 'custom',
        message: `must be a hop count or addresses, subnets, loopback, linklocal or uniquelocal${bad.length > 0 ? ` (not ${bad.join(', ')})` : ''}`,
      });
      return z.NEVER;
    }
    return entries;
  });

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
   * How this service proves itself to NATS (issue 9, finding 7): a user and password, a token, or a
   * credentials file (a user JWT and nkey seed, for NATS decentralized auth). At most one of the three.
   * NATS_PASSWORD and NATS_TOKEN may come from a file instead (NATS_PASSWORD_FILE, NATS_TOKEN_FILE).
   */
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  NATS_TOKEN: z.string().min(1).optional(),
  NATS_CREDS_FILE: z.string().min(1).optional(),
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
  /**
   * Key ids (RFC 7638 thumbprints, as auth-service logs them at start-up and `GET /api/auth/jwks` lists them)
   * that verifiers accept from the bus; empty, any ES256 key auth-service's reply holds.
   */
  JWT_KEY_THUMBPRINTS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a key thumbprint (43 base64url characters)')),
    )
    .default([]),
  /** How far back a verifier replays session revocations at start-up; at least the access-token lifetime. */
  REVOCATION_WINDOW_SECONDS: z.coerce.number().int().positive().default(3600),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Whose `X-Forwarded-For` to believe for the client address (see {@link trustProxySchema}); default none. */
  TRUST_PROXY: trustProxySchema.default(0),
  /** When set, `GET /metrics` requires it as a bearer token; unset, `/metrics` is open. */
  METRICS_TOKEN: z
    .string()
    .regex(/^[A-Za-z0-9._~+/=-]+$/, 'must be a bearer token: letters, digits and ._~+/=- only')
    .optional(),
};

/**
 * Secrets that may also be given as a file (Docker and Kubernetes secrets): `<NAME>_FILE` names a file
 * whose content (without the trailing newline) is the value. Setting both is an error.
 */
export const SECRETS_FROM_FILES = ['MONGO_URL', 'NATS_PASSWORD', 'NATS_TOKEN', 'METRICS_TOKEN'] as const;

/** `env` with each `<SECRET>_FILE` of `shape` read into `<SECRET>`; the problems found, one line each. */
function withSecretFiles(
  shape: z.ZodRawShape,
  env: Record<string, string>,
): { env: Record<string, string>; problems: string[] } {
  const out = { ...env };
  const problems: string[] = [];
  for (const name of SECRETS_FROM_FILES) {
    const file = env[`${name}_FILE`];
    if (!(name in shape) || file === undefined) continue;
    delete out[`${name}_FILE`];
    if (env[name] !== undefined) {
      problems.push(`  ${name}_FILE: set either ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      out[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      problems.push(
        `  ${name}_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  return { env: out, problems };
}

/** The NATS credentials settings that contradict each other, one line each. */
function natsAuthProblems(config: Record<string, unknown>): string[] {
  const given = ['NATS_USER', 'NATS_TOKEN', 'NATS_CREDS_FILE'].filter((key) => config[key] !== undefined);
  const problems: string[] = [];
  if (given.length > 1) problems.push(`  ${given.join(', ')}: give only one way to authenticate to NATS`);
  if ((config.NATS_USER === undefined) !== (config.NATS_PASSWORD === undefined))
    problems.push('  NATS_USER: NATS_USER and NATS_PASSWORD go together');
  return problems;
}

/** Parses one service's settings from `env`; a bad setting throws a ConfigError naming every bad one. */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  env: Record<string, string | undefined>,
): Readonly<z.infer<z.ZodObject<S>>> {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env))
    if (value !== undefined && value !== '') cleaned[key] = value;
  const secrets = withSecretFiles(shape, cleaned);
  const result = z.object(shape).safeParse(secrets.env);
  const lines = [
    ...secrets.problems,
    ...(result.success
      ? natsAuthProblems(result.data)
      : result.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`)),
  ];
  if (!result.success || lines.length > 0)
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  return Object.freeze(result.data);
}

/** How a bus connects to NATS: the servers and, when configured, the credentials. */
export interface NatsConnectionSettings {
  natsUrl?: string;
  natsAuth?: NatsAuth;
  streamReplicas?: number;
}

/** Credentials for NATS: user and password, a token, or a credentials file. */
export type NatsAuth = { user: string; pass: string } | { token: string } | { credsFile: string };

/** The NATS settings of a service's configuration, as `createBus` takes them. */
export function natsConnectionOf(config: {
  NATS_URL?: string;
  NATS_USER?: string;
  NATS_PASSWORD?: string;
  NATS_TOKEN?: string;
  NATS_CREDS_FILE?: string;
  NATS_STREAM_REPLICAS?: number;
}): NatsConnectionSettings {
  const natsAuth: NatsAuth | undefined =
    config.NATS_USER !== undefined && config.NATS_PASSWORD !== undefined
      ? { user: config.NATS_USER, pass: config.NATS_PASSWORD }
      : config.NATS_TOKEN !== undefined
        ? { token: config.NATS_TOKEN }
        : config.NATS_CREDS_FILE !== undefined
          ? { credsFile: config.NATS_CREDS_FILE }
          : undefined;
  return {
    natsUrl: config.NATS_URL,
    ...(natsAuth ? { natsAuth } : {}),
    streamReplicas: config.NATS_STREAM_REPLICAS,
  };
}

/** A comma-separated list in one variable. */
export const csv = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);
