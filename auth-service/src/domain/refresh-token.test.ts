import { formatRefreshToken, hashSecret, newSecret, parseRefreshToken } from './refresh-token';

describe('refresh tokens', () => {
  it('round-trips a session id and a 256-bit secret', () => {
    const secret = newSecret();
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    const token = formatRefreshToken({ sessionId: 'b3c1e0d2-0000-4000-8000-000000000000', secret });
    expect(parseRefreshToken(token)).toEqual({ sessionId: 'b3c1e0d2-0000-4000-8000-000000000000', secret });
  });

  it('refuses anything that is not one of ours', () => {
    for (const value of [
      '',
      'abc',
      `a.${newSecret()}.x`,
      `a.${newSecret().slice(1)}`,
      `.${newSecret()}`,
      `a b.${newSecret()}`,
    ]) {
      expect(parseRefreshToken(value)).toBeUndefined();
    }
  });

  it('stores a hash that differs per secret and never contains it', () => {
    const secret = newSecret();
    expect(hashSecret(secret)).toBe(hashSecret(secret));
    expect(hashSecret(secret)).not.toContain(secret);
    expect(hashSecret(newSecret())).not.toBe(hashSecret(secret));
  });
});
