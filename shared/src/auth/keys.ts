import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Bus } from '../bus/bus';
import { subjects } from '../bus/subjects';
import { UnauthenticatedError } from '../errors';

/** Finds the public key that verifies a token signed with key id `kid`. */
export interface KeyResolver {
  getKey(kid: string): Promise<KeyObject>;
}

/** How often at most an unknown `kid` may trigger a fresh JWKS fetch (a forged kid must not flood auth). */
const REFETCH_INTERVAL_MS = 5_000;

/**
 * Public keys fetched from auth-service over the bus (`auth.v1.jwks`) and cached by `kid`;
 * an unknown kid (a rotated key) refetches at most every few seconds.
 */
export class BusJwksResolver implements KeyResolver {
  private keys = new Map<string, KeyObject>();
  private lastFetch = 0;
  private pending: Promise<void> | undefined;

  constructor(private readonly bus: Bus) {}

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
        const reply = subjects.jwks.schema.parse(
          await this.bus.request(subjects.jwks.subject, {}, { timeoutMs: 3_000 }),
        );
        this.keys = new Map(
          reply.keys.map((jwk) => [jwk.kid, createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })]),
        );
        this.lastFetch = Date.now();
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}
