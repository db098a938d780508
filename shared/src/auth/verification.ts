import type { Bus, ConsumerSubscription } from '../bus/bus';
import type { Logger } from '../logger';
import { BusJwksResolver, type KeyResolver } from './keys';
import { followRevocations, RevocationList } from './revocations';
import { createTokenVerifier, type TokenVerifier } from './verifier';

export interface TokenVerification {
  verifier: TokenVerifier;
  revocations: RevocationList;
  /**
   * True while every revocation consumer follows the stream. A service that cannot learn of ended
   * sessions would accept their tokens, so its readiness check is this (see {@link busReadiness}).
   */
  isFollowing(): boolean;
  /** Stops following revocations. */
  stop(): Promise<void>;
}

/**
 * Everything a service needs to accept access tokens: keys from auth-service over the bus (or `keys`),
 * and the revocation list fed by the durable stream, replayed over `windowSeconds`.
 */
export async function startTokenVerification(options: {
  bus: Bus;
  logger: Logger;
  issuer: string;
  audience: string;
  windowSeconds: number;
  keys?: KeyResolver;
  /** JWT_KEY_THUMBPRINTS: when not empty, the only key ids accepted from the bus. */
  pinnedKids?: readonly string[];
}): Promise<TokenVerification> {
  const revocations = new RevocationList(options.windowSeconds);
  const subscriptions: ConsumerSubscription[] = await followRevocations(options.bus, revocations, options);
  const verifier = createTokenVerifier({
    keys:
      options.keys ??
      new BusJwksResolver(options.bus, { logger: options.logger, pinnedKids: options.pinnedKids }),
    issuer: options.issuer,
    audience: options.audience,
    revocations,
  });
  return {
    verifier,
    revocations,
    isFollowing: () => subscriptions.every((subscription) => subscription.isFollowing()),
    stop: async () => {
      await Promise.all(subscriptions.map((subscription) => subscription.unsubscribe()));
    },
  };
}
