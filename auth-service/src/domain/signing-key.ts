import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { ACCESS_TOKEN_ALGORITHM } from '@chat/shared';

/** A public key as published in the JWKS: the EC members plus `kid`, `alg` and `use`. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: typeof ACCESS_TOKEN_ALGORITHM;
  use: 'sig';
}

/** The key access tokens are signed with, its public half, and its key id. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: PublicJwk;
}

/**
 * RFC 7638 thumbprint of an EC public key: SHA-256 over the required members (`crv`, `kty`, `x`, `y`)
 * in lexicographic order with no whitespace, base64url. Two instances holding the same key derive the same kid.
 */
export function ecThumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** A signing key from an ES256 private key (P-256); throws for any other kind of key. */
export function signingKeyFrom(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('Access tokens are signed with ES256: the key must be an EC P-256 private key.');
  }
  const publicKey = createPublicKey(privateKey);
  const { x, y } = publicKey.export({ format: 'jwk' });
  if (typeof x !== 'string' || typeof y !== 'string')
    throw new Error('The EC public key has no coordinates.');
  const members = { kty: 'EC', crv: 'P-256', x, y } as const;
  return {
    kid: ecThumbprint(members),
    privateKey,
    publicKey,
    publicJwk: { ...members, kid: ecThumbprint(members), alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' },
  };
}

/** A signing key from PKCS#8 or SEC1 PEM text. */
export function signingKeyFromPem(pem: string): SigningKey {
  return signingKeyFrom(createPrivateKey(pem));
}

/** A fresh ES256 key as PKCS#8 PEM, the form it is stored in. */
export function generateSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The JWKS document (RFC 7517) for `keys`: what `GET /api/auth/jwks` and `auth.v1.jwks` answer. */
export function jwksOf(keys: readonly SigningKey[]): { keys: PublicJwk[] } {
  return { keys: keys.map((key) => key.publicJwk) };
}

/** Where a shared key is kept when none is configured (see SigningKeyStore). */
export interface SharedKeySource {
  getOrCreate(candidate: { privateKeyPem: string; createdAt: Date }): Promise<{ privateKeyPem: string }>;
}

/**
 * The key this instance signs with: the configured one, else the one stored for every instance (generated
 * by whichever instance got there first).
 */
export async function loadSigningKey(
  configured: KeyObject | undefined,
  shared: SharedKeySource,
): Promise<SigningKey> {
  if (configured) return signingKeyFrom(configured);
  const stored = await shared.getOrCreate({ privateKeyPem: generateSigningKeyPem(), createdAt: new Date() });
  return signingKeyFromPem(stored.privateKeyPem);
}
