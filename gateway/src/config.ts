import path from 'node:path';
import { z } from 'zod';
import { baseConfigShape, csv, loadConfig } from '@chat/shared';

/** An upstream or a CORS origin: `http(s)://host[:port]` and nothing after it, kept as the bare origin. */
const origin = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .refine((value) => {
    // zod runs this check even after the URL check failed; that failure is the one to report.
    if (!URL.canParse(value)) return true;
    const url = new URL(value);
    return url.pathname === '/' && !url.search && !url.hash && !url.username;
  }, 'must be an origin: scheme, host and port only')
  .transform((value) => new URL(value).origin);

/** Where the lead's generated OpenAPI document lives: docs/openapi.json at the repository root. */
const DEFAULT_OPENAPI_FILE = path.resolve(__dirname, '../../docs/openapi.json');

const gatewayConfigShape = {
  ...baseConfigShape,
  PORT: baseConfigShape.PORT.default(8080),
  USERS_URL: origin.default('http://127.0.0.1:3001'),
  AUTH_URL: origin.default('http://127.0.0.1:3002'),
  /** Chat instances; see chat-upstreams.ts for which one a request goes to. */
  CHAT_URLS: csv.pipe(z.array(origin)).default([]),
  /**
   * Origins of chat instances the gateway may use when they announce themselves on `chat.instances`
   * without being in CHAT_URLS: `*` for any, or patterns such as `http://chat-*:3003` (see
   * chat-upstreams.ts). Empty (the default): only the instances of CHAT_URLS.
   */
  CHAT_URL_ALLOW: csv
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^(\*|https?:\/\/([^/:]+|\[[^\]]+\])(:(\d+|\*))?\/?)$/i,
            'must be * or an origin pattern such as http://chat-*:3003',
          ),
      ),
    )
    .default([]),
  /** Origins allowed to call the API from a browser; empty means same-origin pages only. */
  CORS_ORIGINS: csv.pipe(z.array(origin)).default([]),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(65_536),
  /**
   * chat-service's file cap (the same variable): `/api/attachments` takes bodies that large, plus a multipart
   * envelope; chat-service holds the file itself to the exact cap.
   */
  ATTACHMENT_MAX_BYTES: z.coerce.number().int().min(1).default(10_485_760),
  /** users-service's avatar cap (the same variable): `/api/users/me/avatar` takes bodies that large, plus an envelope. */
  AVATAR_MAX_BYTES: z.coerce.number().int().min(1).default(2_097_152),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Proxies in front of the gateway whose X-Forwarded-* headers are believed (Express `trust proxy` hops). */
  TRUST_PROXY: z.coerce.number().int().min(0).default(0),
  OPENAPI_FILE: z.string().min(1).default(DEFAULT_OPENAPI_FILE),
  /** A directory of static files (the browser client) served at `/`; unset, nothing is served there. */
  WEB_DIR: z.string().min(1).optional(),
};

/** The gateway's settings, parsed once and frozen. */
export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

/** Parses the gateway's settings from `env`; throws a ConfigError naming every bad variable. */
export function loadGatewayConfig(env: Record<string, string | undefined>) {
  return loadConfig(gatewayConfigShape, env);
}
