import { loadUsersConfig } from './config';

describe('loadUsersConfig', () => {
  it('defaults to port 3001, bcrypt cost 12 and no admins', () => {
    const config = loadUsersConfig({});
    expect(config).toMatchObject({ PORT: 3001, BCRYPT_COST: 12, ADMIN_USERNAMES: [] });
  });

  it('reads the admin usernames as a comma-separated list', () => {
    expect(loadUsersConfig({ ADMIN_USERNAMES: ' Root, ops ,,' }).ADMIN_USERNAMES).toEqual(['Root', 'ops']);
  });

  it.each(['3', '16', '10.5', 'twelve'])('refuses BCRYPT_COST=%s', (cost) => {
    expect(() => loadUsersConfig({ BCRYPT_COST: cost })).toThrow(/BCRYPT_COST/);
  });

  it('accepts the bcrypt cost bounds', () => {
    expect(loadUsersConfig({ BCRYPT_COST: '4' }).BCRYPT_COST).toBe(4);
    expect(loadUsersConfig({ BCRYPT_COST: '15' }).BCRYPT_COST).toBe(15);
  });
});
