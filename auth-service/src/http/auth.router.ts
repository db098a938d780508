import { Router } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { authOf, parseInput, requireAuth, type TokenVerifier } from '@chat/shared';
import type { AuthService } from '../domain/auth.service';
import type { KeyRing } from '../domain/key-ring';
import { loginBodySchema, refreshBodySchema } from './auth.schemas';

/** Browsers may cache the JWKS briefly; a rotated key is found anyway through an unknown `kid`. */
const JWKS_MAX_AGE_SECONDS = 300;

/** `/api/auth/*` (docs/openapi.json, tag auth). */
export function authRouter(deps: { auth: AuthService; verifier: TokenVerifier; keys: KeyRing }): Router {
  const router = Router();

  router.post('/api/auth/login', async (req, res) => {
    const body = parseInput(loginBodySchema, req.body);
    // req.ip is the client as TRUST_PROXY allows: the peer itself by default, the gateway's X-Forwarded-For
    // only from the proxies TRUST_PROXY names. One IPv6 client holds a whole /64 or more, so it is counted
    // by its /56 (an IPv4-mapped one as IPv4).
    const result = await deps.auth.login({
      ...body,
      address: ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown'),
    });
    // Tokens must not sit in any cache (RFC 6749 §5.1).
    res.set('Cache-Control', 'no-store').json(result);
  });

  router.post('/api/auth/refresh', async (req, res) => {
    const { refreshToken } = parseInput(refreshBodySchema, req.body);
    res.set('Cache-Control', 'no-store').json(await deps.auth.refresh(refreshToken));
  });

  router.post('/api/auth/logout', requireAuth(deps.verifier), async (req, res) => {
    await deps.auth.logout(authOf(req));
    res.status(204).end();
  });

  router.get('/api/auth/jwks', (_req, res) => {
    res.set('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`).json(deps.keys.jwks());
  });

  return router;
}
