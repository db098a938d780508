import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseConfigShape, loadConfig, natsConnectionOf } from './config';

const load = (env: Record<string, string>) => loadConfig(baseConfigShape, { PORT: '1', ...env });

describe('loadConfig: the settings every service shares', () => {
  it('believes no proxy by default: TRUST_PROXY is 0 (issue 9, finding 9)', () => {
    expect(load({}).TRUST_PROXY).toBe(0);
    expect(load({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(load({ TRUST_PROXY: 'loopback,uniquelocal, 10.1.2.3, fd00::/8' }).TRUST_PROXY).toEqual([
      'loopback',
      'uniquelocal',
      '10.1.2.3',
      'fd00::/8',
    ]);
    for (const bad of ['yes', '-1', '10.0.0.0/40', 'gateway', ','])
      expect(() => load({ TRUST_PROXY: bad })).toThrow(/TRUST_PROXY/);
  });

  it('takes NATS credentials as user and password, a token, or a creds file, one way at a time', () => {
    expect(natsConnectionOf(load({ NATS_URL: 'nats://n:4222' }))).toEqual({ natsUrl: 'nats://n:4222' });
    expect(natsConnectionOf(load({ NATS_USER: 'chat-service', NATS_PASSWORD: 'pw' })).natsAuth).toEqual({
      user: 'chat-service',
      pass: 'pw',
    });
    expect(natsConnectionOf(load({ NATS_TOKEN: 't' })).natsAuth).toEqual({ token: 't' });
    expect(natsConnectionOf(load({ NATS_CREDS_FILE: '/run/secrets/chat.creds' })).natsAuth).toEqual({
      credsFile: '/run/secrets/chat.creds',
    });
    expect(() => load({ NATS_USER: 'u' })).toThrow(/NATS_USER and NATS_PASSWORD go together/);
    expect(() => load({ NATS_PASSWORD: 'p' })).toThrow(/NATS_USER and NATS_PASSWORD go together/);
    expect(() => load({ NATS_USER: 'u', NATS_PASSWORD: 'p', NATS_TOKEN: 't' })).toThrow(/only one way/);
  });

  it('reads secrets from files named by <NAME>_FILE, without the trailing newline, never from both', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'config-secrets-'));
    try {
      const file = (name: string, content: string) => {
        const filePath = path.join(dir, name);
        writeFileSync(filePath, content);
        return filePath;
      };
      const config = load({
        MONGO_URL_FILE: file('mongo', 'mongodb://chat:s3cret@mongo:27017/chat\n'),
        NATS_USER: 'users-service',
        NATS_PASSWORD_FILE: file('nats', 'pw\n'),
        METRICS_TOKEN_FILE: file('metrics', 'abc123'),
      });
      expect(config.MONGO_URL).toBe('mongodb://chat:s3cret@mongo:27017/chat');
      expect(config.NATS_PASSWORD).toBe('pw');
      expect(config.METRICS_TOKEN).toBe('abc123');
      expect(() => load({ NATS_TOKEN: 'x', NATS_TOKEN_FILE: file('t', 'y') })).toThrow(/not both/);
      let message = '';
      try {
        load({ MONGO_URL_FILE: path.join(dir, 'missing') });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/MONGO_URL_FILE: cannot read .*ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes JWT_KEY_THUMBPRINTS as a list of thumbprints', () => {
    const kid = 'a'.repeat(43);
    expect(load({ JWT_KEY_THUMBPRINTS: ` ${kid}, ` }).JWT_KEY_THUMBPRINTS).toEqual([kid]);
    expect(() => load({ JWT_KEY_THUMBPRINTS: 'short' })).toThrow(/JWT_KEY_THUMBPRINTS/);
  });
});
