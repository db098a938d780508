import { formatSize } from './format';

describe('formatSize', () => {
  it('says bytes below a kilobyte, then one decimal below ten units, then whole units', () => {
    expect(formatSize(0)).toBe('0 bytes');
    expect(formatSize(1)).toBe('1 byte');
    expect(formatSize(1023)).toBe('1023 bytes');
    expect(formatSize(1024)).toBe('1.0 KB');
    expect(formatSize(1536)).toBe('1.5 KB');
    expect(formatSize(10_230)).toBe('10 KB');
    expect(formatSize(10 * 1024 * 1024)).toBe('10 MB');
    expect(formatSize(3 * 1024 ** 4)).toBe('3072 GB');
  });
});
