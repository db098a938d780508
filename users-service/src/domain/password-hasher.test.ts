import { createPasswordHasher } from './password-hasher';

describe('createPasswordHasher', () => {
  it('matches the right password and refuses a wrong one', async () => {
    const hasher = await createPasswordHasher(4);
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).not.toContain('correct horse');
    expect(await hasher.verify('correct horse battery staple', hash)).toBe(true);
    expect(await hasher.verify('correct horse battery stapler', hash)).toBe(false);
  });

  it('tells apart long passwords that share their first 72 bytes', async () => {
    const hasher = await createPasswordHasher(4);
    const common = 'x'.repeat(72);
    const hash = await hasher.hash(`${common}-one`);
    expect(await hasher.verify(`${common}-two`, hash)).toBe(false);
  });

  it('answers false without a hash, after the same work as a wrong password', async () => {
    const hasher = await createPasswordHasher(10);
    const hash = await hasher.hash('the real password');
    const median = async (run: () => Promise<boolean>) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = process.hrtime.bigint();
        expect(await run()).toBe(false);
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      return times.sort((a, b) => a - b)[2]!;
    };
    const wrongPassword = await median(() => hasher.verify('a wrong password', hash));
    const noUser = await median(() => hasher.verify('a wrong password', undefined));
    // Cost 10 takes tens of milliseconds; skipping the comparison would take well under one.
    expect(noUser / wrongPassword).toBeGreaterThan(0.5);
    expect(noUser / wrongPassword).toBeLessThan(2);
  });
});
