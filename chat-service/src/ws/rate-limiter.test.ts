import { TokenBucket } from './rate-limiter';

describe('TokenBucket', () => {
  it('allows a burst, refuses past it, refills at the rate and calls a client that keeps going abusive', () => {
    let clock = 0;
    const bucket = new TokenBucket(10, 5, 3, () => clock);
    expect(Array.from({ length: 5 }, () => bucket.take())).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(bucket.take()).toBe('limited');
    clock += 100;
    expect(bucket.take()).toBe('ok');
    expect(bucket.take()).toBe('limited');
    expect(bucket.take()).toBe('limited');
    expect(bucket.take()).toBe('abusive');
  });

  it('forgives refused frames once the client slows down', () => {
    let clock = 0;
    const bucket = new TokenBucket(10, 1, 3, () => clock);
    bucket.take();
    expect(bucket.take()).toBe('limited');
    expect(bucket.take()).toBe('limited');
    clock += 1000;
    expect(bucket.take()).toBe('ok');
    expect(bucket.take()).toBe('limited');
    expect(bucket.take()).toBe('limited');
    expect(bucket.take()).toBe('abusive');
  });
});
