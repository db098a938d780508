import { createLogger, MemoryBus, subjects } from '@chat/shared';
import { ChatUpstreams, originAllowlist } from './chat-upstreams';

const A = 'http://127.0.0.1:4001';
const B = 'http://127.0.0.1:4002';

describe('ChatUpstreams.pickForSocket', () => {
  it('counts upgrades under way, so a burst of sockets spreads instead of piling onto one instance', () => {
    const upstreams = new ChatUpstreams([A, B]);
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      const origin = upstreams.pickForSocket()!;
      upstreams.upgradeStarted(origin);
      picks.push(origin);
    }
    expect(picks.sort()).toEqual([A, A, B, B]);
  });

  it('forgets an upgrade that was refused, and keeps one that opened as a socket until it closes', () => {
    const upstreams = new ChatUpstreams([A, B]);
    upstreams.upgradeStarted(A);
    upstreams.upgradeEnded(A, false);
    expect(upstreams.pickForSocket()).toBe(A);
    upstreams.upgradeStarted(A);
    upstreams.upgradeEnded(A, true);
    expect(upstreams.pickForSocket()).toBe(B);
    upstreams.socketClosed(A);
    expect(upstreams.pickForSocket()).toBe(A);
  });
});

describe('ChatUpstreams and announcements', () => {
  it('keeps an instance from CHAT_URLS out once it announced draining, also after it went silent, until it announces again', async () => {
    let now = 1_000;
    const upstreams = new ChatUpstreams([A, B], () => now);
    const bus = new MemoryBus({ logger: createLogger('test', 'error') });
    const following = upstreams.follow(bus, createLogger('test', 'error'));
    const announce = (draining: boolean) =>
      bus.publish(subjects.chatInstances.subject, { id: 'a', url: A, sockets: 0, draining, ttlMs: 500 });
    announce(true);
    await bus.flush();
    expect([upstreams.pick(), upstreams.pick(), upstreams.pickForSocket()]).toEqual([B, B, B]);
    now += 10_000;
    expect([upstreams.pick(), upstreams.pick(), upstreams.pickForSocket()]).toEqual([B, B, B]);
    announce(false);
    await bus.flush();
    expect(new Set([upstreams.pick(), upstreams.pick()])).toEqual(new Set([A, B]));
    await following.unsubscribe();
    await bus.close();
  });
});

describe('announced chat origins (issue 9, finding 7)', () => {
  const announce = (bus: MemoryBus, url: string) =>
    bus.publish(subjects.chatInstances.subject, { id: url, url, sockets: 0, draining: false, ttlMs: 60_000 });

  it('sends no socket to an origin only the bus named, unless CHAT_URL_ALLOW allows it', async () => {
    const logger = createLogger('test', 'error');
    const bus = new MemoryBus({ logger });
    const strict = new ChatUpstreams([A]);
    const allowing = new ChatUpstreams([A], Date.now, originAllowlist(['http://chat-*:3003']));
    const following = [strict.follow(bus, logger), allowing.follow(bus, logger)];
    // Loaded so that a usable newcomer would win every pick.
    bus.publish(subjects.chatInstances.subject, {
      id: 'a',
      url: A,
      sockets: 50,
      draining: false,
      ttlMs: 60_000,
    });
    announce(bus, 'http://evil.example:3003');
    announce(bus, 'http://chat-7:3003');
    await bus.flush();
    expect(strict.all()).toEqual([A]);
    expect(strict.pickForSocket()).toBe(A);
    expect([...allowing.all()].sort()).toEqual([A, 'http://chat-7:3003']);
    expect(allowing.pickForSocket()).toBe('http://chat-7:3003');
    for (const subscription of following) await subscription.unsubscribe();
    await bus.close();
  });

  it.each([
    ['http://chat-*:3003', 'http://chat-2:3003', true],
    ['http://chat-*:3003', 'http://chat-2.evil.example:3003', false],
    ['http://chat-*:3003', 'http://chat-2:3004', false],
    ['http://chat-*:3003', 'https://chat-2:3003', false],
    ['http://10.0.1.*:*', 'http://10.0.1.7:4000', true],
    ['http://10.0.1.*:*', 'http://10.0.11.7:4000', false],
    ['https://chat.example.com', 'https://chat.example.com', true],
    ['https://chat.example.com', 'https://chat.example.com:8443', false],
    ['*', 'http://anything:1', true],
  ])('pattern %s %s: %s', (pattern, origin, allowed) => {
    expect(originAllowlist([pattern])(origin)).toBe(allowed);
  });
});
