import jwt from 'jsonwebtoken';
import { AppError, UnauthenticatedError } from '../errors';
import { accessClaimsSchema, type AccessClaims } from '../schemas';
import type { KeyResolver } from './keys';
import type { RevocationList } from './revocations';

/** The one algorithm access tokens are signed with; verifiers accept nothing else (no `none`, no HS*). */
export const ACCESS_TOKEN_ALGORITHM = 'ES256';

export interface TokenVerifier {
  /** The token's claims, or UnauthenticatedError: malformed, forged, wrong iss/aud, expired, or revoked. */
  verify(token: string): Promise<AccessClaims>;
}

export interface TokenVerifierOptions {
  keys: KeyResolver;
  issuer: string;
  audience: string;
  revocations: RevocationList;
  /** Seconds of clock skew tolerated on `exp`/`iat`. */
  clockToleranceSeconds?: number;
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  return {
    async verify(token) {
      const kid = keyIdOf(token);
      const key = await options.keys.getKey(kid);
      let payload: unknown;
      try {
        payload = jwt.verify(token, key, {
          algorithms: [ACCESS_TOKEN_ALGORITHM],
          issuer: options.issuer,
          audience: options.audience,
          clockTolerance: options.clockToleranceSeconds ?? 5,
        });
      } catch (error) {
        if (error instanceof AppError) throw error;
        const expired = error instanceof jwt.TokenExpiredError;
        throw new UnauthenticatedError(
          expired ? 'The access token has expired.' : 'The access token is not valid.',
          error,
        );
      }
      const claims = accessClaimsSchema.safeParse(payload);
      if (!claims.success) throw new UnauthenticatedError('The access token is not valid.');
      if (options.revocations.isRevoked(claims.data))
        throw new UnauthenticatedError('The session has ended.');
      return claims.data;
    },
  };
}

/**
 * The `kid` of a token that is a well-formed ES256 JWT, else UnauthenticatedError. `jwt.decode` throws
 * (rather than answering null) for a header that says `typ: JWT` over a payload that is not JSON
 * (issue 9, finding 4): every way of being malformed must be a 401, never a 500 or a 503.
 */
function keyIdOf(token: string): string {
  let decoded: jwt.Jwt | null;
  try {
    decoded = jwt.decode(token, { complete: true });
  } catch (error) {
    throw new UnauthenticatedError('The access token is malformed.', error);
  }
  const header: unknown = decoded?.header;
  const payload: unknown = decoded?.payload;
  if (
    !header ||
    typeof header !== 'object' ||
    typeof (header as { kid?: unknown }).kid !== 'string' ||
    (header as { alg?: unknown }).alg !== ACCESS_TOKEN_ALGORITHM ||
    !payload ||
    typeof payload !== 'object'
  ) {
    throw new UnauthenticatedError('The access token is malformed.');
  }
  return (header as { kid: string }).kid;
}

/** The token in an `Authorization: Bearer <token>` header, if that is what the header holds. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header ?? '');
  return match?.[1];
}
