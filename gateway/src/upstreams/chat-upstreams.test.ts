import { createLogger, MemoryBus, subjects } from '@chat/shared';
import { ChatUpstreams } from './chat-upstreams';

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
