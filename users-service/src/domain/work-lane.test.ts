import { AppError } from '@chat/shared';
import { CallerGoneError, WorkLane } from './work-lane';

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

describe('WorkLane', () => {
  it('runs at most `concurrency` tasks, queues at most `maxQueued`, and refuses the rest at once with 503', async () => {
    const lane = new WorkLane({ concurrency: 1, maxQueued: 1, maxWaitMs: 10_000 });
    const first = gate();
    let running = 0;
    let most = 0;
    const task = (wait: Promise<void>) => async () => {
      running += 1;
      most = Math.max(most, running);
      await wait;
      running -= 1;
      return 'done';
    };
    const a = lane.run(task(first.opened));
    const b = lane.run(task(Promise.resolve()));
    await expect(lane.run(task(Promise.resolve()))).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    first.open();
    await expect(Promise.all([a, b])).resolves.toEqual(['done', 'done']);
    expect(most).toBe(1);
    await expect(lane.run(task(Promise.resolve()))).resolves.toBe('done');
  });

  it('refuses a task that waited past maxWaitMs, and drops one whose caller went away, without running either', async () => {
    const lane = new WorkLane({ concurrency: 1, maxQueued: 5, maxWaitMs: 50 });
    const busy = gate();
    const holding = lane.run(() => busy.opened);
    let ran = 0;
    const late = lane.run(async () => void (ran += 1));
    const caller = new AbortController();
    const abandoned = lane.run(async () => void (ran += 1), caller.signal);
    caller.abort();
    await expect(abandoned).rejects.toBeInstanceOf(CallerGoneError);
    const error = await late.catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('UPSTREAM_UNAVAILABLE');
    busy.open();
    await holding;
    expect(ran).toBe(0);
  });
});
