import { SessionClock, type ClockMember } from './session-clock';

class Member implements ClockMember {
  dueSecond: number | undefined;
  calls = 0;
  onDue(): void {
    this.calls += 1;
  }
}

/** A clock on a time the test sets (`at`), starting at `start`. */
function manualClock(start = 0) {
  let now = start;
  return { clock: new SessionClock(() => now), at: (ms: number) => (now = ms), now: () => now };
}

describe('SessionClock', () => {
  it('calls a member once its deadline has passed, once, and not before', () => {
    const { clock, at } = manualClock(10_000);
    const member = new Member();
    clock.schedule(member, 12_300);
    at(12_900);
    clock.tick();
    expect(member.calls).toBe(0);
    at(13_000);
    clock.tick();
    clock.tick();
    expect(member.calls).toBe(1);
    clock.stop();
  });

  it('replaces an earlier deadline when a member is scheduled again, and forgets a cancelled one', () => {
    const { clock, at } = manualClock();
    const moved = new Member();
    const cancelled = new Member();
    clock.schedule(moved, 1_000);
    clock.schedule(moved, 5_000);
    clock.schedule(cancelled, 1_000);
    clock.cancel(cancelled);
    at(2_000);
    clock.tick();
    expect([moved.calls, cancelled.calls]).toEqual([0, 0]);
    at(5_000);
    clock.tick();
    expect([moved.calls, cancelled.calls]).toEqual([1, 0]);
    clock.stop();
  });

  it('lets a member schedule itself again from its call', () => {
    const { clock, at, now } = manualClock();
    const member = new Member();
    member.onDue = () => {
      member.calls += 1;
      if (member.calls === 1) clock.schedule(member, now() + 1_000);
    };
    clock.schedule(member, 1_000);
    at(1_000);
    clock.tick();
    at(2_000);
    clock.tick();
    expect(member.calls).toBe(2);
    clock.stop();
  });

  it('does not call a member that an earlier call of the same second cancelled or moved', () => {
    const { clock, at } = manualClock();
    const cancelled = new Member();
    const moved = new Member();
    const first = new Member();
    first.onDue = () => {
      first.calls += 1;
      clock.cancel(cancelled);
      clock.schedule(moved, 10_000);
    };
    for (const member of [first, cancelled, moved]) clock.schedule(member, 1_000);
    at(1_000);
    clock.tick();
    expect([first.calls, cancelled.calls, moved.calls]).toEqual([1, 0, 0]);
    at(10_000);
    clock.tick();
    expect([first.calls, cancelled.calls, moved.calls]).toEqual([1, 0, 1]);
    clock.stop();
  });

  it('calls members on its own timer, never early and at most two seconds late', async () => {
    const clock = new SessionClock();
    const member = new Member();
    const due = Date.now() + 300;
    let calledAt = 0;
    member.onDue = () => {
      calledAt = Date.now();
    };
    clock.schedule(member, due);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(calledAt).toBeGreaterThanOrEqual(due);
    expect(calledAt - due).toBeLessThanOrEqual(2_100);
    clock.stop();
  });
});
