/** What waits on a {@link SessionClock}: the clock notes the second it is due on the member itself. */
export interface ClockMember {
  dueSecond: number | undefined;
  onDue(): void;
}

const SECOND_MS = 1_000;

/**
 * The session deadlines of every socket of a server (`session.expiring`, then the close at expiry) on one
 * timer: members wait in buckets by the second they are due, and one timer ticks each second while any
 * wait. A timer per socket (a `Timeout`, its argument list and Node's list per distinct duration) was the
 * largest thing an idle socket held after `ws`'s own objects. Members are called at most two seconds late
 * (their deadline rounded up to a whole second, then the next tick), never early.
 */
export class SessionClock<Member extends ClockMember = ClockMember> {
  private readonly buckets = new Map<number, Set<Member>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** Calls `member.onDue()` once `atMs` has passed (replacing what it waited for before). */
  schedule(member: Member, atMs: number): void {
    this.cancel(member);
    const second = Math.ceil(atMs / SECOND_MS);
    member.dueSecond = second;
    const bucket = this.buckets.get(second);
    if (bucket) bucket.add(member);
    else this.buckets.set(second, new Set([member]));
    if (!this.timer) {
      this.timer = setInterval(this.tick, SECOND_MS);
      this.timer.unref();
    }
  }

  cancel(member: Member): void {
    const second = member.dueSecond;
    if (second === undefined) return;
    member.dueSecond = undefined;
    const bucket = this.buckets.get(second);
    bucket?.delete(member);
    if (bucket?.size === 0) this.buckets.delete(second);
    this.idleIfEmpty();
  }

  /** Stops the timer; members still waiting are not called (their server is stopping). */
  stop(): void {
    this.buckets.clear();
    this.idleIfEmpty();
  }

  /** Calls every member whose second has come. */
  readonly tick = (): void => {
    const current = Math.floor(this.now() / SECOND_MS);
    for (const [second, bucket] of [...this.buckets]) {
      if (second > current) continue;
      this.buckets.delete(second);
      for (const member of bucket) {
        // A member an earlier call in this bucket cancelled or moved is no longer due here.
        if (member.dueSecond !== second) continue;
        member.dueSecond = undefined;
        member.onDue();
      }
    }
    this.idleIfEmpty();
  };

  private idleIfEmpty(): void {
    if (this.buckets.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
