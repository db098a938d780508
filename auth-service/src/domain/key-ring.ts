import type { KeyObject } from 'node:crypto';
import { UnauthenticatedError, type KeyResolver } from '@chat/shared';
import { jwksOf, type PublicJwk, type SigningKey } from './signing-key';

/**
 * The keys this instance signs and verifies with (one today; a rotation would add the outgoing key here
 * until its last token expires). It resolves keys for this service's own verifier without the bus;
 * other services fetch the same JWKS over the bus.
 */
export class KeyRing implements KeyResolver {
  constructor(readonly current: SigningKey) {}

  async getKey(kid: string): Promise<KeyObject> {
    if (kid !== this.current.kid) throw new UnauthenticatedError('The token was signed with an unknown key.');
    return this.current.publicKey;
  }

  jwks(): { keys: PublicJwk[] } {
    return jwksOf([this.current]);
  }
}
