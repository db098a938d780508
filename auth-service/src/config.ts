import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { baseConfigShape, ConfigError, loadConfig } from '@chat/shared';

const positiveInt = z.coerce.number().int().positive();

/** The environment auth-service reads, on top of what every service reads. */
export const authConfigShape = {
  ...baseConfigShape,
  PORT: baseConfigShape.PORT.default(3002),
  /** At most an hour: verifiers keep revocations for REVOCATION_WINDOW_SECONDS, which must outlive every token. */
  ACCESS_TOKEN_TTL_SECONDS: positiveInt.max(3600).default(900),
  REFRESH_TOKEN_TTL_SECONDS: positiveInt.default(30 * 24 * 3600),
  /** ES256 (P-256) private key as PEM; literal `\n` sequences are accepted for one-line env files. */
  JWT_PRIVATE_KEY: z.string().optional(),
  JWT_PRIVATE_KEY_FILE: z.string().optional(),
  /**
   * Failed logins to one account from one client address before each further attempt from there must wait
   * (issue 9, finding 8). The account, not the login as typed: its username and email forms count together.
   */
  LOGIN_FAILURES_BEFORE_BACKOFF: positiveInt.default(5),
  /** The first wait; each further failure doubles it, up to LOGIN_BACKOFF_MAX_SECONDS. */
  LOGIN_BACKOFF_BASE_SECONDS: positiveInt.default(30),
  LOGIN_BACKOFF_MAX_SECONDS: positiveInt.default(900),
  /** How long an account-and-address pair's failures are remembered (a success forgets them at once). */
  LOGIN_BACKOFF_WINDOW_SECONDS: positiveInt.default(24 * 3600),
  /** Failed logins from one client address, whatever the account, per window before 429. */
  LOGIN_MAX_FAILURES_PER_ADDRESS: positiveInt.default(20),
  LOGIN_FAILURE_WINDOW_SECONDS: positiveInt.default(900),
};

type ParsedAuthConfig = z.infer<z.ZodObject<typeof authConfigShape>>;

/** auth-service settings; `signingKey` is the configured private key, if one was given. */
export type AuthConfig = Readonly<
  Omit<ParsedAuthConfig, 'JWT_PRIVATE_KEY' | 'JWT_PRIVATE_KEY_FILE'> & { signingKey: KeyObject | undefined }
>;

/**
 * Parses auth-service settings from `env`. A key given by JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE is read
 * and checked here, so a wrong key stops start-up as a configuration error rather than at the first login.
 */
export function loadAuthConfig(env: Record<string, string | undefined>): AuthConfig {
  const { JWT_PRIVATE_KEY, JWT_PRIVATE_KEY_FILE, ...config } = loadConfig(authConfigShape, env);
  if (config.REVOCATION_WINDOW_SECONDS < config.ACCESS_TOKEN_TTL_SECONDS) {
    throw new ConfigError(
      'Invalid configuration:\n  REVOCATION_WINDOW_SECONDS: must be at least ACCESS_TOKEN_TTL_SECONDS, or revoked tokens outlive their revocation',
    );
  }
  return Object.freeze({ ...config, signingKey: configuredKey(JWT_PRIVATE_KEY, JWT_PRIVATE_KEY_FILE) });
}

function configuredKey(pem: string | undefined, file: string | undefined): KeyObject | undefined {
  if (pem !== undefined && file !== undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  JWT_PRIVATE_KEY: set either JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE, not both',
    );
  }
  let text = pem?.replace(/\\n/g, '\n');
  const setting = pem !== undefined ? 'JWT_PRIVATE_KEY' : 'JWT_PRIVATE_KEY_FILE';
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `Invalid configuration:\n  JWT_PRIVATE_KEY_FILE: cannot read ${file} (${(error as Error).message})`,
      );
    }
  }
  if (text === undefined) return undefined;
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    // The parser's message may quote the key material, so it is not repeated here.
    throw new ConfigError(`Invalid configuration:\n  ${setting}: is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigError(`Invalid configuration:\n  ${setting}: must be an EC P-256 key (ES256)`);
  }
  return key;
}
