import { clientAddressKey } from './client-address';

describe('clientAddressKey', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['2001:db8:1:2ff:aaaa::1', '2001:db8:1:200::/56'],
    ['2001:db8:1:2ab:ffff:ffff:ffff:ffff', '2001:db8:1:200::/56'],
    ['2001:0db8:0001:0300::1%eth0', '2001:db8:1:300::/56'],
    ['::1', '0:0:0:0::/56'],
    ['unknown', 'unknown'],
  ])('%s counts as %s', (address, key) => {
    expect(clientAddressKey(address)).toBe(key);
  });
});
