import { subjects, type Bus, type Subscription } from '@chat/shared';
import type { KeyRing } from '../domain/key-ring';

/** Queue group shared by every auth instance: one of them answers each JWKS request. */
export const AUTH_QUEUE = 'auth-service';

/** Answers `auth.v1.jwks` with the ring's public keys, as other services' BusJwksResolver expects. */
export function serveJwks(bus: Bus, ring: KeyRing): Subscription {
  return bus.serve(subjects.jwks.subject, () => ring.jwks(), { queue: AUTH_QUEUE });
}
