import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadAuthConfig } from './config';

function pem(type: 'ec' | 'rsa', curve = 'P-256'): string {
  const { privateKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: curve })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

describe('loadAuthConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadAuthConfig({});
    expect(config).toMatchObject({
      PORT: 3002,
      ACCESS_TOKEN_TTL_SECONDS: 900,
      REFRESH_TOKEN_TTL_SECONDS: 30 * 24 * 3600,
      LOGIN_FAILURES_BEFORE_BACKOFF: 5,
      LOGIN_BACKOFF_BASE_SECONDS: 30,
      LOGIN_BACKOFF_MAX_SECONDS: 900,
      LOGIN_BACKOFF_WINDOW_SECONDS: 86_400,
      LOGIN_MAX_FAILURES_PER_ADDRESS: 20,
      LOGIN_FAILURE_WINDOW_SECONDS: 900,
      JWT_ISSUER: 'chat-auth',
      JWT_AUDIENCE: 'chat',
      signingKey: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('refuses an access-token lifetime over an hour or longer than the revocation window', () => {
    expect(() => loadAuthConfig({ ACCESS_TOKEN_TTL_SECONDS: '3601' })).toThrow(/ACCESS_TOKEN_TTL_SECONDS/);
    expect(() =>
      loadAuthConfig({ ACCESS_TOKEN_TTL_SECONDS: '1200', REVOCATION_WINDOW_SECONDS: '600' }),
    ).toThrow(/REVOCATION_WINDOW_SECONDS/);
    expect(loadAuthConfig({ ACCESS_TOKEN_TTL_SECONDS: '3600' }).ACCESS_TOKEN_TTL_SECONDS).toBe(3600);
  });

  it('reads an ES256 key from JWT_PRIVATE_KEY, also with escaped newlines', () => {
    const key = pem('ec');
    expect(loadAuthConfig({ JWT_PRIVATE_KEY: key }).signingKey?.asymmetricKeyType).toBe('ec');
    const oneLine = key.replace(/\n/g, '\\n');
    expect(loadAuthConfig({ JWT_PRIVATE_KEY: oneLine }).signingKey?.asymmetricKeyDetails?.namedCurve).toBe(
      'prime256v1',
    );
  });

  it('reads the key from JWT_PRIVATE_KEY_FILE', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'auth-config-')), 'key.pem');
    writeFileSync(file, pem('ec'));
    expect(loadAuthConfig({ JWT_PRIVATE_KEY_FILE: file }).signingKey?.asymmetricKeyType).toBe('ec');
    expect(() => loadAuthConfig({ JWT_PRIVATE_KEY_FILE: `${file}.missing` })).toThrow(
      /JWT_PRIVATE_KEY_FILE: cannot read/,
    );
  });

  it('refuses keys that cannot sign ES256, and both settings at once, as configuration errors', () => {
    const configError = expect.objectContaining({ name: 'ConfigError' });
    const attempt = (env: Record<string, string>) => {
      try {
        loadAuthConfig(env);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(attempt({ JWT_PRIVATE_KEY: pem('rsa') })).toEqual(configError);
    expect(attempt({ JWT_PRIVATE_KEY: pem('ec', 'P-384') })).toEqual(configError);
    expect(attempt({ JWT_PRIVATE_KEY: 'not a key' })).toEqual(configError);
    expect(attempt({ JWT_PRIVATE_KEY: pem('ec'), JWT_PRIVATE_KEY_FILE: '/dev/null' })).toEqual(configError);
  });

  it('does not repeat the key material in its error', () => {
    const broken = pem('ec').replace(/[A-Za-z]{8}/, 'xxxxxxxx');
    expect(() => loadAuthConfig({ JWT_PRIVATE_KEY: broken })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(broken.split('\n')[1]!) }),
    );
  });
});
