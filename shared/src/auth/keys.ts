import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { Bus } from '../bus/bus';
import { subjects } from '../bus/subjects';
import { UnauthenticatedError, UpstreamUnavailableError } from '../errors';
import type { Logger } from '../logger';

/** Finds the public key that verifies a token signed with key id `kid`. */
export interface KeyResolver {
  getKey(kid: string): Promise<KeyObject>;
}

/** How often at most an unknown `kid` may trigger a fresh JWKS fetch (a forged kid must not flood auth). */
const REFETCH_INTERVAL_MS = 5_000;

/** More keys than this in one JWKS is not what auth-service sends (one key, two during a rotation). */
const MAX_KEYS = 10;

/** An unpadded base64url P-256 coordinate: 32 bytes. */
const coordinate = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a 32-byte base64url coordinate');

/**
 * What a verifier accepts in a JWKS (issue 9, finding 7): an ES256 public key and nothing else, exactly the
 * members auth-service publishes. No `d` (no private key material travels), no other key type or curve
 * (no RSA or `oct` key to confuse an algorithm with), and a `kid` that is the key's RFC 7638 thumbprint,
 * so a kid always names the same key.
 */
const publicJwkSchema = z
  .strictObject({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: coordinate,
    y: coordinate,
    kid: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be the key thumbprint'),
    alg: z.literal('ES256').optional(),
    use: z.literal('sig').optional(),
  })
  .refine((jwk) => jwk.kid === jwkThumbprint(jwk), { message: 'kid is not the key thumbprint' });

const jwksReplySchema = z.object({ keys: z.array(publicJwkSchema).min(1).max(MAX_KEYS) });

/**
 * RFC 7638 thumbprint of an EC public key: SHA-256 over the required members (`crv`, `kty`, `x`, `y`) in
 * lexicographic order with no whitespace, base64url. auth-service names its keys by it.
 */
export function jwkThumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

export interface BusJwksResolverOptions {
  logger?: Logger;
  /**
   * JWT_KEY_THUMBPRINTS: when not empty, only keys with these kids (thumbprints) are accepted, whatever a
   * reply on the bus holds; a key that is not listed is never used.
   */
  pinnedKids?: readonly string[];
}

/**
 * Public keys fetched from auth-service over the bus (`auth.v1.jwks`, request/reply: nothing else on the bus
 * can add a key) and cached by `kid`; an unknown kid (a rotated key) refetches at most every few seconds.
 * A reply is taken whole or not at all: one key that is not an ES256 public key named by its thumbprint
 * (or not pinned, with JWT_KEY_THUMBPRINTS) and the keys held so far stay. Who may answer that subject is
 * for NATS to decide: with per-service users, only auth-service may subscribe to it (README, "Running
 * distributed").
 */
export class BusJwksResolver implements KeyResolver {
  private keys = new Map<string, KeyObject>();
  private lastFetch = 0;
  private pending: Promise<void> | undefined;
  private readonly pinned: ReadonlySet<string>;

  constructor(
    private readonly bus: Bus,
    private readonly options: BusJwksResolverOptions = {},
  ) {
    this.pinned = new Set(options.pinnedKids ?? []);
  }

  async getKey(kid: string): Promise<KeyObject> {
    const cached = this.keys.get(kid);
    if (cached) return cached;
    if (this.pending) await this.pending;
    else if (Date.now() - this.lastFetch >= REFETCH_INTERVAL_MS) await this.refresh();
    const key = this.keys.get(kid);
    if (!key) throw new UnauthenticatedError('The token was signed with an unknown key.');
    return key;
  }

  private refresh(): Promise<void> {
    this.pending = (async () => {
      try {
        const reply = await this.bus.request(subjects.jwks.subject, {}, { timeoutMs: 3_000 });
        this.lastFetch = Date.now();
        this.keys = this.accepted(reply);
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  /**
   * The keys of a reply, or UpstreamUnavailableError (the keys held so far stay) when it is refused: a key
   * that is not an ES256 public key named by its thumbprint refuses the whole reply; with pins, keys that
   * are not pinned are left out, and a reply with no pinned key is refused.
   */
  private accepted(reply: unknown): Map<string, KeyObject> {
    const parsed = jwksReplySchema.safeParse(reply);
    if (!parsed.success) {
      return this.refuse(
        parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
      );
    }
    const unpinned = parsed.data.keys.filter((jwk) => this.pinned.size > 0 && !this.pinned.has(jwk.kid));
    if (unpinned.length > 0) {
      this.options.logger?.warn('left out JWKS keys that are not in JWT_KEY_THUMBPRINTS', {
        kids: unpinned.map((jwk) => jwk.kid),
      });
    }
    const keys = new Map<string, KeyObject>();
    for (const jwk of parsed.data.keys) {
      if (unpinned.includes(jwk)) continue;
      try {
        keys.set(
          jwk.kid,
          createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' }),
        );
      } catch {
        return this.refuse(`key ${jwk.kid} is not a point on P-256`);
      }
    }
    if (keys.size === 0) return this.refuse('no key in JWT_KEY_THUMBPRINTS');
    return keys;
  }

  private refuse(reason: string): never {
    this.options.logger?.warn('refused a JWKS reply on the bus', { subject: subjects.jwks.subject, reason });
    throw new UpstreamUnavailableError('The keys that verify access tokens could not be fetched.');
  }
}
