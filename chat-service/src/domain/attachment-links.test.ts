import { AttachmentLinks } from './attachment-links';

const secret = Buffer.alloc(32, 7);

function paramsOf(link: string): { path: string; exp: number; sig: string } {
  const url = new URL(link, 'http://x');
  return { path: url.pathname, exp: Number(url.searchParams.get('exp')), sig: url.searchParams.get('sig')! };
}

describe('AttachmentLinks', () => {
  it('gives the same link within one window, valid for one to two windows, refused once expired', () => {
    let now = Date.UTC(2030, 0, 1, 0, 0, 10);
    const links = new AttachmentLinks(secret, 3600, () => now);
    const first = links.sign('/api/attachments/a/content');
    now += 30 * 60_000;
    expect(links.sign('/api/attachments/a/content')).toBe(first);
    const { path, exp, sig } = paramsOf(first);
    expect(links.remaining(path, exp, sig)).toBe(exp - now / 1000);
    now = exp * 1000;
    expect(links.remaining(path, exp, sig)).toBeUndefined();
  });

  it('refuses a link for another path, with another expiry, or signed under another secret', () => {
    const links = new AttachmentLinks(secret, 3600);
    const { path, exp, sig } = paramsOf(links.sign('/api/attachments/a/content'));
    expect(links.remaining(path, exp, sig)).toBeGreaterThan(3599);
    expect(links.remaining('/api/attachments/b/content', exp, sig)).toBeUndefined();
    expect(links.remaining(path, exp + 3600, sig)).toBeUndefined();
    expect(links.remaining(path, exp, `${sig}x`)).toBeUndefined();
    const other = new AttachmentLinks(Buffer.alloc(32, 8), 3600);
    expect(other.remaining(path, exp, sig)).toBeUndefined();
  });
});
