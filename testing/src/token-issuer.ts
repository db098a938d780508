import { generateKeyPairSync, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import {
  ACCESS_TOKEN_ALGORITHM,
  jwkThumbprint,
  subjects,
  type Bus,
  type Role,
  type Subscription,
} from '@chat/shared';

/** For tests of services that verify tokens without running auth-service: answers JWKS and mints tokens. */
export interface TestTokenIssuer {
  /** A signed access token; `overrides` change claims or the lifetime (negative = already expired). */
  mint(
    claims: { sub: string; username: string; role?: Role; sid?: string },
    overrides?: { expiresInSeconds?: number; issuer?: string; audience?: string },
  ): string;
  /** The private key, for tests that forge tokens on purpose. */
  privateKeyPem: string;
  publicKeyPem: string;
  kid: string;
  stop(): Promise<void>;
}

export function startTestTokenIssuer(
  bus: Bus,
  options: { issuer?: string; audience?: string } = {},
): TestTokenIssuer {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty = 'EC', crv = 'P-256', x = '', y = '' } = publicKey.export({ format: 'jwk' });
  // Named as auth-service names its keys (verifiers accept no other kid): the RFC 7638 thumbprint.
  const kid = jwkThumbprint({ kty, crv, x, y });
  const jwk = { kty, crv, x, y, kid, alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' };
  const served: Subscription = bus.serve(subjects.jwks.subject, () => ({ keys: [jwk] }));
  const issuer = options.issuer ?? 'chat-auth';
  const audience = options.audience ?? 'chat';
  return {
    mint(claims, overrides = {}) {
      return jwt.sign(
        { username: claims.username, role: claims.role ?? 'user', sid: claims.sid ?? randomUUID() },
        privateKey,
        {
          algorithm: ACCESS_TOKEN_ALGORITHM,
          keyid: kid,
          subject: claims.sub,
          issuer: overrides.issuer ?? issuer,
          audience: overrides.audience ?? audience,
          expiresIn: overrides.expiresInSeconds ?? 900,
        },
      );
    },
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    kid,
    stop: () => served.unsubscribe(),
  };
}
