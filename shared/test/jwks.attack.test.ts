import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import {
  AppError,
  createLogger,
  jwkThumbprint,
  MemoryBus,
  startTokenVerification,
  subjects,
  type TokenVerification,
} from '@chat/shared';

/**
 * Issue 9, finding 7: verifiers took whatever answered `auth.v1.jwks`. A responder on the bus (the real bus,
 * in process) answers with keys auth-service never publishes; tokens it signs must never verify. Only an
 * ES256 public key named by its thumbprint is taken, and with JWT_KEY_THUMBPRINTS only a pinned one.
 */

const logger = createLogger('jwks-attack', 'error');

function ecKey(curve = 'P-256'): { privateKey: KeyObject; jwk: JsonWebKey & { kid: string } } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const exported = publicKey.export({ format: 'jwk' });
  const kid = jwkThumbprint({ kty: 'EC', crv: exported.crv ?? '', x: exported.x ?? '', y: exported.y ?? '' });
  return { privateKey, jwk: { ...exported, kid, alg: 'ES256', use: 'sig' } };
}

function tokenSignedBy(
  privateKey: KeyObject | string,
  kid: string,
  algorithm: jwt.Algorithm = 'ES256',
): string {
  return jwt.sign({ username: 'mallory', role: 'admin', sid: 'forged' }, privateKey, {
    algorithm,
    keyid: kid,
    subject: 'mallory-id',
    issuer: 'chat-auth',
    audience: 'chat',
    expiresIn: 600,
  });
}

/** A verifier whose only JWKS answer on the bus is `reply`. */
async function verifierAnswered(
  reply: unknown,
  pinnedKids?: string[],
): Promise<{ verification: TokenVerification; close: () => Promise<void> }> {
  const bus = new MemoryBus({ logger });
  const served = bus.serve(subjects.jwks.subject, () => reply);
  const verification = await startTokenVerification({
    bus,
    logger,
    issuer: 'chat-auth',
    audience: 'chat',
    windowSeconds: 3600,
    ...(pinnedKids ? { pinnedKids } : {}),
  });
  return {
    verification,
    close: async () => {
      await verification.stop();
      await served.unsubscribe();
      await bus.close();
    },
  };
}

async function refusal(verification: TokenVerification, token: string): Promise<string> {
  try {
    await verification.verifier.verify(token);
  } catch (error) {
    return error instanceof AppError ? error.code : `not an AppError: ${String(error)}`;
  }
  return 'ACCEPTED';
}

describe('a JWKS reply on the bus that auth-service would never send (issue 9, finding 7)', () => {
  it('accepts an ES256 public key named by its thumbprint, as auth-service publishes it', async () => {
    const { privateKey, jwk } = ecKey();
    const { verification, close } = await verifierAnswered({ keys: [jwk] });
    try {
      await expect(verification.verifier.verify(tokenSignedBy(privateKey, jwk.kid))).resolves.toMatchObject({
        sub: 'mallory-id',
      });
    } finally {
      await close();
    }
  });

  const p256 = ecKey();
  const p384 = ecKey('P-384');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaJwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-key' };
  const secret = 'a shared secret anyone could sign with';
  const cases: Array<[string, unknown, string]> = [
    [
      'an HMAC secret as an `oct` key',
      { keys: [{ kty: 'oct', k: Buffer.from(secret).toString('base64url'), kid: 'hs' }] },
      tokenSignedBy(secret, 'hs', 'HS256'),
    ],
    ['an RSA key', { keys: [rsaJwk] }, tokenSignedBy(rsa.privateKey, 'rsa-key', 'RS256')],
    [
      'a P-384 key',
      { keys: [{ ...p384.jwk, alg: undefined }] },
      tokenSignedBy(p384.privateKey, p384.jwk.kid, 'ES384'),
    ],
    [
      'a P-256 key under a kid that is not its thumbprint',
      { keys: [{ ...p256.jwk, kid: 'chosen-kid' }] },
      tokenSignedBy(p256.privateKey, 'chosen-kid'),
    ],
    [
      'a P-256 key with its private part',
      { keys: [{ ...p256.privateKey.export({ format: 'jwk' }), kid: p256.jwk.kid }] },
      tokenSignedBy(p256.privateKey, p256.jwk.kid),
    ],
    [
      'a good key among too many',
      { keys: Array.from({ length: 11 }, () => p256.jwk) },
      tokenSignedBy(p256.privateKey, p256.jwk.kid),
    ],
    [
      'a key with an unknown member',
      { keys: [{ ...p256.jwk, x5u: 'https://evil.example/cert' }] },
      tokenSignedBy(p256.privateKey, p256.jwk.kid),
    ],
    ['no keys object at all', 'keys', tokenSignedBy(p256.privateKey, p256.jwk.kid)],
  ];

  it.each(cases)('refuses %s: its tokens never verify', async (_kind, reply, token) => {
    const { verification, close } = await verifierAnswered(reply);
    try {
      expect(['UNAUTHENTICATED', 'UPSTREAM_UNAVAILABLE']).toContain(await refusal(verification, token));
    } finally {
      await close();
    }
  });

  it('with JWT_KEY_THUMBPRINTS, refuses a well-formed ES256 key that is not pinned, and takes the pinned one', async () => {
    const pinned = ecKey();
    const intruder = ecKey();
    const { verification, close } = await verifierAnswered({ keys: [pinned.jwk, intruder.jwk] }, [
      pinned.jwk.kid,
    ]);
    try {
      expect(await refusal(verification, tokenSignedBy(intruder.privateKey, intruder.jwk.kid))).toBe(
        'UNAUTHENTICATED',
      );
      await expect(
        verification.verifier.verify(tokenSignedBy(pinned.privateKey, pinned.jwk.kid)),
      ).resolves.toMatchObject({ sub: 'mallory-id' });
    } finally {
      await close();
    }
  });
});
