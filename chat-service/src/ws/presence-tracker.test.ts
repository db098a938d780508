import { PresenceTracker } from './presence-tracker';

describe('PresenceTracker', () => {
  it('changes only between online somewhere and online nowhere', () => {
    const tracker = new PresenceTracker('a', 15_000);
    expect(tracker.online('a', 'u1', 0)).toEqual([{ userId: 'u1', status: 'online' }]);
    expect(tracker.online('b', 'u1', 0)).toEqual([]);
    expect(tracker.offline('a', 'u1', 0)).toEqual([]);
    expect(tracker.isOnline('u1')).toBe(true);
    expect(tracker.offline('b', 'u1', 0)).toEqual([{ userId: 'u1', status: 'offline' }]);
    expect(tracker.offline('b', 'u1', 0)).toEqual([]);
    expect(tracker.onlineUserIds()).toEqual([]);
  });

  it('takes a heartbeat as the whole truth about its instance, repairing lost notices', () => {
    const tracker = new PresenceTracker('a', 15_000);
    tracker.online('b', 'u1', 0);
    tracker.online('b', 'u2', 0);
    expect(tracker.heartbeat('b', ['u2', 'u3'], 15_000, 10)).toEqual([
      { userId: 'u1', status: 'offline' },
      { userId: 'u3', status: 'online' },
    ]);
    expect(tracker.heldBy('b').sort()).toEqual(['u2', 'u3']);
  });

  it('expires a silent instance with its users, except users another instance holds, and never itself', () => {
    const tracker = new PresenceTracker('a', 15_000);
    tracker.online('a', 'self-user', 0);
    tracker.heartbeat('b', ['u1', 'shared'], 1_000, 0);
    tracker.heartbeat('c', ['shared'], 1_000, 500);
    expect(tracker.expire(1_000)).toEqual([]);
    expect(tracker.expire(1_001)).toEqual([{ userId: 'u1', status: 'offline' }]);
    expect(tracker.isOnline('shared')).toBe(true);
    expect(tracker.expire(1_501)).toEqual([{ userId: 'shared', status: 'offline' }]);
    expect(tracker.expire(1_000_000)).toEqual([]);
    expect(tracker.onlineUserIds()).toEqual(['self-user']);
  });
});
