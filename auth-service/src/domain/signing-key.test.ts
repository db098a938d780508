import { createHash, generateKeyPairSync, verify, sign } from 'node:crypto';
import { ecThumbprint, generateSigningKeyPem, signingKeyFrom, signingKeyFromPem } from './signing-key';

describe('signing keys', () => {
  it('derives the kid as the RFC 7638 thumbprint: SHA-256 of the sorted required members', () => {
    const key = signingKeyFromPem(generateSigningKeyPem());
    const { x, y } = key.publicJwk;
    const expected = createHash('sha256')
      .update(`{"crv":"P-256","kty":"EC","x":"${x}","y":"${y}"}`)
      .digest('base64url');
    expect(key.kid).toBe(expected);
    expect(key.publicJwk).toEqual({ kty: 'EC', crv: 'P-256', x, y, kid: expected, alg: 'ES256', use: 'sig' });
  });

  it('gives the same kid for the same key regardless of member order or extra members', () => {
    const { x, y } = signingKeyFromPem(generateSigningKeyPem()).publicJwk;
    expect(ecThumbprint({ y, x, kty: 'EC', crv: 'P-256' })).toBe(
      ecThumbprint({ crv: 'P-256', kty: 'EC', x, y }),
    );
  });

  it('publishes the public half of the key it signs with', () => {
    const key = signingKeyFromPem(generateSigningKeyPem());
    const signature = sign('sha256', Buffer.from('payload'), key.privateKey);
    expect(verify('sha256', Buffer.from('payload'), key.publicKey, signature)).toBe(true);
    expect(key.publicJwk).not.toHaveProperty('d');
  });

  it('refuses keys other than P-256', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(() => signingKeyFrom(privateKey)).toThrow(/P-256/);
  });
});
