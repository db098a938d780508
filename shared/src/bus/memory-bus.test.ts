import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../logger';
import type { BusMessage } from './bus';
import { MemoryBus } from './memory-bus';

const logger = createLogger('memory-bus-test', 'error');
const longAgo = new Date(0);

/** Collects what a consumer receives, and waits for a count of it. */
function collector() {
  const received: BusMessage[] = [];
  return {
    received,
    handler: (message: BusMessage) => void received.push(message),
    async count(n: number) {
      for (let i = 0; i < 100 && received.length < n; i += 1)
        await new Promise((resolve) => setTimeout(resolve, 5));
      return received.map((message) => message.data);
    },
  };
}

describe('MemoryBus with a file (the durable log across restarts of the one-process run)', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'memory-bus-'));
    file = path.join(dir, 'nested', 'events.jsonl');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('replays events published before a restart to a consumer that asks from `since`', async () => {
    const first = new MemoryBus({ logger, file });
    await first.publishDurable('events.a.one', { n: 1 }, { headers: { 'x-request-id': 'req-1' } });
    await first.publishDurable('events.b.two', { n: 2 });
    await first.close();

    const second = new MemoryBus({ logger, file });
    const all = collector();
    await second.consume('events.>', all.handler, { since: longAgo });
    await second.publishDurable('events.a.three', { n: 3 });
    expect(await all.count(3)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(all.received[0]!.headers['x-request-id']).toBe('req-1');
    const onlyA = collector();
    await second.consume('events.a.*', onlyA.handler, { since: longAgo });
    expect(await onlyA.count(2)).toEqual([{ n: 1 }, { n: 3 }]);
    await second.close();
  });

  it('a consumer from now on, or with a durable name, starts after what the previous run handled', async () => {
    const first = new MemoryBus({ logger, file });
    await first.publishDurable('events.x', { n: 1 });
    await first.close();

    const second = new MemoryBus({ logger, file });
    const named = collector();
    const fromNow = collector();
    await second.consume('events.>', named.handler, { durable: 'worker' });
    await second.consume('events.>', fromNow.handler);
    await second.publishDurable('events.x', { n: 2 });
    expect(await named.count(1)).toEqual([{ n: 2 }]);
    expect(await fromNow.count(1)).toEqual([{ n: 2 }]);
    await second.close();
  });

  it('skips a torn last line (a crash mid-write) and goes on appending', async () => {
    const first = new MemoryBus({ logger, file });
    await first.publishDurable('events.x', { n: 1 });
    await first.close();
    appendFileSync(file, '{"seq":2,"time":');

    const second = new MemoryBus({ logger, file });
    await second.publishDurable('events.x', { n: 2 });
    await second.close();
    const third = new MemoryBus({ logger, file });
    const all = collector();
    await third.consume('events.>', all.handler, { since: longAgo });
    expect(await all.count(2)).toEqual([{ n: 1 }, { n: 2 }]);
    await third.close();
  });

  it('keeps at most maxEvents, in memory and (give or take one rewrite) on disk', async () => {
    const first = new MemoryBus({ logger, file, maxEvents: 3 });
    for (let n = 1; n <= 10; n += 1) await first.publishDurable('events.x', { n });
    await first.close();
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean).length).toBeLessThanOrEqual(6);

    const second = new MemoryBus({ logger, file, maxEvents: 3 });
    const all = collector();
    await second.consume('events.>', all.handler, { since: longAgo });
    expect(await all.count(3)).toEqual([{ n: 8 }, { n: 9 }, { n: 10 }]);
    await second.close();
  });

  it('without a file, nothing outlives the bus', async () => {
    const first = new MemoryBus({ logger });
    await first.publishDurable('events.x', { n: 1 });
    await first.close();
    const second = new MemoryBus({ logger });
    const all = collector();
    await second.consume('events.>', all.handler, { since: longAgo });
    await second.publishDurable('events.x', { n: 2 });
    expect(await all.count(1)).toEqual([{ n: 2 }]);
    await second.close();
  });
});
