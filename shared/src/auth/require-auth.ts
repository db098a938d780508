import type { Request, RequestHandler } from 'express';
import { UnauthenticatedError } from '../errors';
import type { AccessClaims } from '../schemas';
import { bearerToken, type TokenVerifier } from './verifier';

const claimsByRequest = new WeakMap<Request, AccessClaims>();

/** Express middleware: a valid bearer token or 401; the claims are then available through `authOf`. */
export function requireAuth(verifier: TokenVerifier): RequestHandler {
  return async (req, _res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (!token) throw new UnauthenticatedError();
    claimsByRequest.set(req, await verifier.verify(token));
    next();
  };
}

/** The verified claims of a request that passed `requireAuth`. */
export function authOf(req: Request): AccessClaims {
  const claims = claimsByRequest.get(req);
  if (!claims) throw new UnauthenticatedError();
  return claims;
}
