import { loadUsersConfig } from './config';

describe('loadUsersConfig', () => {
  it('has the documented defaults: port 3001, bcrypt cost 12, signup limits', () => {
    const config = loadUsersConfig({});
    expect(config).toMatchObject({
      PORT: 3001,
      BCRYPT_COST: 12,
      SIGNUPS_PER_ADDRESS_PER_HOUR: 200,
      SIGNUP_HASH_CONCURRENCY: 1,
      SIGNUP_QUEUE_MAX: 16,
      SIGNUP_QUEUE_TIMEOUT_MS: 3_000,
      TRUST_PROXY: 0,
    });
    expect(config).not.toHaveProperty('ADMIN_USERNAMES');
  });

  it('refuses ADMIN_USERNAMES: a name in configuration never makes an admin (issue 9)', () => {
    expect(() => loadUsersConfig({ ADMIN_USERNAMES: 'root' })).toThrow(/ADMIN_USERNAMES.*npm run admin/s);
  });

  it('reads TRUST_PROXY as a hop count or a list of proxy addresses, and refuses anything else', () => {
    expect(loadUsersConfig({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadUsersConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::1' }).TRUST_PROXY).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::1',
    ]);
    for (const value of ['yes', '10.0.0.0/33', 'gateway'])
      expect(() => loadUsersConfig({ TRUST_PROXY: value })).toThrow(/TRUST_PROXY/);
  });

  it.each(['3', '16', '10.5', 'twelve'])('refuses BCRYPT_COST=%s', (cost) => {
    expect(() => loadUsersConfig({ BCRYPT_COST: cost })).toThrow(/BCRYPT_COST/);
  });

  it('accepts the bcrypt cost bounds', () => {
    expect(loadUsersConfig({ BCRYPT_COST: '4' }).BCRYPT_COST).toBe(4);
    expect(loadUsersConfig({ BCRYPT_COST: '15' }).BCRYPT_COST).toBe(15);
  });
});
