import path from 'node:path';
import { loadGatewayConfig } from './config';

describe('loadGatewayConfig', () => {
  it('has the documented defaults', () => {
    const config = loadGatewayConfig({});
    expect(config).toEqual(
      expect.objectContaining({
        PORT: 8080,
        USERS_URL: 'http://127.0.0.1:3001',
        AUTH_URL: 'http://127.0.0.1:3002',
        CHAT_URLS: [],
        CORS_ORIGINS: [],
        RATE_LIMIT_PER_MINUTE: 600,
        BODY_LIMIT_BYTES: 65_536,
        UPSTREAM_TIMEOUT_MS: 10_000,
        TRUST_PROXY: 0,
        CHAT_URL_ALLOW: [],
        OPENAPI_FILE: path.resolve(__dirname, '../../docs/openapi.json'),
      }),
    );
    expect(config.WEB_DIR).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads comma-separated lists and keeps bare origins', () => {
    const config = loadGatewayConfig({
      CHAT_URLS: 'http://chat-1:3003/, http://chat-2:3003',
      CORS_ORIGINS: 'https://app.example.com,http://localhost:5173/',
    });
    expect(config.CHAT_URLS).toEqual(['http://chat-1:3003', 'http://chat-2:3003']);
    expect(config.CORS_ORIGINS).toEqual(['https://app.example.com', 'http://localhost:5173']);
  });

  it.each([
    ['USERS_URL', 'not a url'],
    ['AUTH_URL', 'ftp://auth:21'],
    ['USERS_URL', 'http://users:3001/api'],
    ['CHAT_URLS', 'http://chat-1:3003,chat-2'],
    ['RATE_LIMIT_PER_MINUTE', '0'],
    ['BODY_LIMIT_BYTES', '-1'],
    ['TRUST_PROXY', 'yes'],
    ['TRUST_PROXY', 'loopback'],
    ['CHAT_URL_ALLOW', 'chat-*'],
    ['CHAT_URL_ALLOW', 'http://chat-*:3003/path'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(() => loadGatewayConfig({ [name]: value })).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringContaining(name) }),
    );
  });
});
