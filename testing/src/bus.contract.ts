import {
  AppError,
  currentRequestId,
  REQUEST_ID_HEADER,
  runWithContext,
  UpstreamUnavailableError,
  type Bus,
  type BusMessage,
  type ConsumeOptions,
  type Logger,
} from '@chat/shared';
import { LogCapture } from './log-capture';

/** Two buses on one backing; where the backing is the bus itself (MemoryBus), the same instance twice. */
export type BusPair = readonly [Bus, Bus];

interface Seen {
  subject: string;
  data: unknown;
}

/** A subject no test subscribes to with a wildcard. */
const SETTLE_SUBJECT = 'contract-settle.done';

/** Retries `assertion` until it passes, and fails with its last error after `timeoutMs`. */
async function waitFor(assertion: () => void, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await delay(10);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function distinct(buses: readonly Bus[]): Bus[] {
  return [...new Set(buses)];
}

/** Subscriptions reach the server before anything is published. */
async function ready(buses: readonly Bus[]): Promise<void> {
  await Promise.all(distinct(buses).map((bus) => bus.flush()));
}

/**
 * Waits until everything `publisher` sent so far has been handed to its subscribers on `buses`: messages
 * from one publisher arrive in order, so once a later one reached every bus, no earlier one is on its way.
 */
async function settle(publisher: Bus, buses: readonly Bus[]): Promise<void> {
  const targets = distinct(buses);
  const reached = new Set<Bus>();
  const subs = targets.map((bus) => bus.subscribe(SETTLE_SUBJECT, () => void reached.add(bus)));
  await ready(targets);
  publisher.publish(SETTLE_SUBJECT, null);
  await waitFor(() => expect(reached.size).toBe(targets.length));
  await Promise.all(subs.map((sub) => sub.unsubscribe()));
}

function record(into: Seen[]) {
  return (message: BusMessage) => void into.push({ subject: message.subject, data: message.data });
}

/**
 * The behaviour every Bus implementation shares (after keyv's `storageTestSuite`); call it at the top level
 * of a test file. `makeBuses` connects two buses to one fresh backing for each test, logging to `logger`,
 * so the suite can prove that messages cross instances; the suite closes them after each test.
 */
export function busContractSuite(label: string, makeBuses: (logger: Logger) => Promise<BusPair>): void {
  describe(`${label}: the bus contract`, () => {
    let a: Bus;
    let b: Bus;
    let capture: LogCapture;
    const levels = () => capture.entries().map((entry) => entry.level);

    beforeEach(async () => {
      capture = new LogCapture();
      [a, b] = await makeBuses(capture.logger('bus-contract'));
    });

    afterEach(async () => {
      await Promise.all(distinct([a, b]).map((bus) => bus.close()));
    });

    describe('publish and subscribe', () => {
      it('delivers JSON copies to subscribers on every instance, matching `*` and `>`', async () => {
        const oneToken: Seen[] = [];
        const rest: Seen[] = [];
        a.subscribe('chat.*.created', record(oneToken));
        b.subscribe('chat.>', record(rest));
        await ready([a, b]);

        a.publish('chat.rooms.created', { at: new Date(0), n: 1, gone: undefined });
        a.publish('chat.rooms.deep.created', 2);
        a.publish('other.rooms.created', 3);
        await settle(a, [a, b]);

        expect(oneToken).toStrictEqual([
          { subject: 'chat.rooms.created', data: { at: '1970-01-01T00:00:00.000Z', n: 1 } },
        ]);
        expect(rest.map((seen) => seen.subject)).toEqual(['chat.rooms.created', 'chat.rooms.deep.created']);
      });

      it('hands each message to exactly one member of a queue group, across instances', async () => {
        const members: Array<[string, unknown]> = [];
        const outside: Seen[] = [];
        a.subscribe('jobs.run', (message) => void members.push(['a', message.data]), { queue: 'workers' });
        b.subscribe('jobs.run', (message) => void members.push(['b', message.data]), { queue: 'workers' });
        b.subscribe('jobs.run', record(outside));
        await ready([a, b]);

        for (let n = 0; n < 20; n++) a.publish('jobs.run', n);
        await settle(a, [a, b]);

        expect(members.map(([, n]) => n).sort((x, y) => Number(x) - Number(y))).toEqual([
          ...Array(20).keys(),
        ]);
        expect(new Set(members.map(([member]) => member))).toEqual(new Set(['a', 'b']));
        expect(outside).toHaveLength(20);
      });

      it("runs handlers in the publisher's request context and passes headers through", async () => {
        const seen: Array<{ requestId: string | undefined; header: string | undefined; tenant?: string }> =
          [];
        b.subscribe('audit.log', (message) => {
          seen.push({
            requestId: currentRequestId(),
            header: message.headers[REQUEST_ID_HEADER],
            tenant: message.headers['x-tenant'],
          });
        });
        await ready([a, b]);

        runWithContext({ requestId: 'req-contract-1' }, () =>
          a.publish('audit.log', {}, { headers: { 'x-tenant': 'acme' } }),
        );
        a.publish('audit.log', {});
        a.publish('audit.log', {}, { headers: { [REQUEST_ID_HEADER]: 'not safe to log' } });
        await settle(a, [a, b]);

        expect(seen[0]).toEqual({ requestId: 'req-contract-1', header: 'req-contract-1', tenant: 'acme' });
        expect(seen[1]?.header).toBeUndefined();
        expect(seen[1]?.requestId).toMatch(/^[0-9a-f-]{36}$/);
        expect(seen[2]?.requestId).toMatch(/^[0-9a-f-]{36}$/);
        expect(seen).toHaveLength(3);
      });

      it('delivers nothing to a subscription once unsubscribe() has resolved', async () => {
        const seen: Seen[] = [];
        const sub = b.subscribe('chat.typing', record(seen));
        await ready([a, b]);

        a.publish('chat.typing', 'before');
        await settle(a, [a, b]);
        a.publish('chat.typing', 'racing the unsubscribe');
        await sub.unsubscribe();
        a.publish('chat.typing', 'after');
        await settle(a, [a, b]);

        expect(seen.map((message) => message.data)).toEqual(['before']);
      });

      it('lets a running handler finish on close, then refuses to publish', async () => {
        let started = false;
        let finished = false;
        b.subscribe('slow.job', async () => {
          started = true;
          await delay(100);
          finished = true;
        });
        await ready([a, b]);
        expect(b.isConnected()).toBe(true);

        a.publish('slow.job', {});
        await waitFor(() => expect(started).toBe(true));
        await b.close();

        expect(finished).toBe(true);
        expect(b.isConnected()).toBe(false);
        expect(() => b.publish('slow.job', {})).toThrow(UpstreamUnavailableError);
      });
    });

    describe('request and reply', () => {
      it("answers with the responder's data, run in the caller's request context", async () => {
        b.serve('users.get', (message) => ({
          id: (message.data as { id: string }).id,
          requestId: currentRequestId(),
        }));
        b.serve('users.touch', () => undefined);
        await ready([a, b]);

        const reply = await runWithContext({ requestId: 'req-contract-2' }, () =>
          a.request('users.get', { id: 'u1' }),
        );

        expect(reply).toEqual({ id: 'u1', requestId: 'req-contract-2' });
        await expect(a.request('users.touch', {})).resolves.toBeNull();
      });

      it("rejects with the responder's AppError code; other errors become INTERNAL and are logged", async () => {
        b.serve('rooms.join', () => {
          throw new AppError('FORBIDDEN', 'Members only.');
        });
        b.serve('rooms.crash', () => {
          throw new Error('connection string with a password');
        });
        await ready([a, b]);

        const refused = a.request('rooms.join', {});
        await expect(refused).rejects.toBeInstanceOf(AppError);
        await expect(refused).rejects.toMatchObject({ code: 'FORBIDDEN', message: 'Members only.' });
        const crash = a.request('rooms.crash', {});
        await expect(crash).rejects.toMatchObject({ code: 'INTERNAL' });
        await expect(crash).rejects.not.toMatchObject({ message: expect.stringContaining('password') });
        await waitFor(() => expect(levels().filter((level) => level === 'error')).toHaveLength(1));
      });

      it('runs one responder per request when several serve a subject', async () => {
        let calls = 0;
        for (const bus of [a, b]) bus.serve('counter.next', () => ++calls);
        await ready([a, b]);

        for (let i = 0; i < 10; i++) await a.request('counter.next', {});

        expect(calls).toBe(10);
      });

      it('rejects with UPSTREAM_UNAVAILABLE at once when nobody serves the subject', async () => {
        const started = Date.now();

        await expect(a.request('nobody.home', {}, { timeoutMs: 3_000 })).rejects.toMatchObject({
          code: 'UPSTREAM_UNAVAILABLE',
        });
        expect(Date.now() - started).toBeLessThan(1_000);
      });

      it('rejects with UPSTREAM_UNAVAILABLE when the responder is slower than the timeout', async () => {
        let release = () => {};
        const gate = new Promise<void>((resolve) => (release = resolve));
        b.serve('slow.answer', () => gate);
        await ready([a, b]);
        const started = Date.now();

        try {
          await expect(a.request('slow.answer', {}, { timeoutMs: 300 })).rejects.toMatchObject({
            code: 'UPSTREAM_UNAVAILABLE',
          });
          expect(Date.now() - started).toBeGreaterThanOrEqual(290);
        } finally {
          release();
        }
      });
    });

    describe('readiness', () => {
      it('is ready while open and not once closed', async () => {
        await expect(a.isReady()).resolves.toBe(true);
        await expect(b.isReady()).resolves.toBe(true);

        await b.close();

        await expect(b.isReady()).resolves.toBe(false);
        expect(b.isConnected()).toBe(false);
      });
    });

    describe('durable events', () => {
      const consumerKinds: Array<[string, ConsumeOptions]> = [
        ['a named consumer', { durable: 'contract-worker' }],
        ['a consumer without a name', { since: new Date(0) }],
      ];

      it('refuses subjects outside events.', async () => {
        await expect(a.publishDurable('chat.message', {})).rejects.toThrow('events.');
      });

      it('gives a named consumer started after publishing every stored event, on another instance', async () => {
        for (let n = 1; n <= 3; n++) await a.publishDurable(`events.contract.${n}`, { n });
        const seen: Seen[] = [];

        await b.consume('events.contract.>', record(seen), { durable: 'late-reader' });

        await waitFor(() =>
          expect(seen).toEqual([
            { subject: 'events.contract.1', data: { n: 1 } },
            { subject: 'events.contract.2', data: { n: 2 } },
            { subject: 'events.contract.3', data: { n: 3 } },
          ]),
        );
      });

      it('gives each consumer the events its filter matches, in order, among interleaved others', async () => {
        const subjectOf = (n: number) => (n % 3 === 0 ? 'events.mix.a' : 'events.mix.b');
        for (let n = 0; n < 10; n++) await a.publishDurable(subjectOf(n), n);
        const onA: Seen[] = [];
        const onB: Seen[] = [];
        await b.consume('events.mix.a', record(onA), { durable: 'mix-a' });
        await b.consume('events.mix.b', record(onB), { durable: 'mix-b' });

        for (let n = 10; n < 15; n++) await a.publishDurable(subjectOf(n), n);

        await waitFor(() => expect(onA.map((event) => event.data)).toEqual([0, 3, 6, 9, 12]));
        await waitFor(() =>
          expect(onB.map((event) => event.data)).toEqual([1, 2, 4, 5, 7, 8, 10, 11, 13, 14]),
        );
      });

      it('splits events between consumers sharing a durable name, each handled once', async () => {
        const handled: Array<[string, unknown]> = [];
        await a.consume('events.jobs.>', (message) => void handled.push(['a', message.data]), {
          durable: 'jobs',
        });
        await b.consume('events.jobs.>', (message) => void handled.push(['b', message.data]), {
          durable: 'jobs',
        });

        for (let n = 0; n < 20; n++) await a.publishDurable('events.jobs.run', n);
        await waitFor(() => expect(handled).toHaveLength(20));
        // One more event, handled after the 20 were acknowledged, gives any duplicate time to show.
        await a.publishDurable('events.jobs.run', 20);
        await waitFor(() => expect(handled).toHaveLength(21));

        expect(handled.map(([, n]) => n).sort((x, y) => Number(x) - Number(y))).toEqual([
          ...Array(21).keys(),
        ]);
        expect(new Set(handled.map(([member]) => member))).toEqual(new Set(['a', 'b']));
      });

      it('resumes a durable name where it left off', async () => {
        const first: Seen[] = [];
        const second: Seen[] = [];
        const sub = await a.consume('events.resume.>', record(first), { durable: 'resumer' });
        await a.publishDurable('events.resume.x', 1);
        await waitFor(() => expect(first).toHaveLength(1));
        await sub.unsubscribe();

        await a.publishDurable('events.resume.x', 2);
        await a.publishDurable('events.resume.x', 3);
        await b.consume('events.resume.>', record(second), { durable: 'resumer' });

        await waitFor(() => expect(second.map((seen) => seen.data)).toEqual([2, 3]));
        expect(first.map((seen) => seen.data)).toEqual([1]);
      });

      it('replays events from `since` to a consumer without a name, then delivers new ones', async () => {
        await a.publishDurable('events.history.x', 'before');
        await delay(50);
        const since = new Date();
        await a.publishDurable('events.history.x', 'at');
        await a.publishDurable('events.history.y', 'after');
        const seen: Seen[] = [];

        await b.consume('events.history.>', record(seen), { since });
        await a.publishDurable('events.history.z', 'new');

        await waitFor(() => expect(seen.map((event) => event.data)).toEqual(['at', 'after', 'new']));
      });

      it('gives a consumer whose `since` is after every stored event only the events published later', async () => {
        await a.publishDurable('events.future.x', 'old');
        const seen: Seen[] = [];
        await b.consume('events.future.>', record(seen), { since: new Date(Date.now() + 60_000) });

        await a.publishDurable('events.future.x', 'new');

        await waitFor(() => expect(seen.map((event) => event.data)).toEqual(['new']));
      });

      it.each(consumerKinds)(
        'says %s follows the stream while subscribed, and not after',
        async (_, options) => {
          const seen: Seen[] = [];
          const subscription = await b.consume('events.follow.>', record(seen), options);
          expect(subscription.isFollowing()).toBe(true);
          await a.publishDurable('events.follow.x', 1);
          await waitFor(() => expect(seen).toHaveLength(1));
          expect(subscription.isFollowing()).toBe(true);

          await subscription.unsubscribe();

          expect(subscription.isFollowing()).toBe(false);
        },
      );

      it('gives each consumer without a name or `since` every event published after it started', async () => {
        await a.publishDurable('events.live.x', 'old');
        const onA: Seen[] = [];
        const onB: Seen[] = [];
        await a.consume('events.live.>', record(onA));
        await b.consume('events.live.>', record(onB));

        await a.publishDurable('events.live.x', 'new');

        await waitFor(() => expect(onA.map((event) => event.data)).toEqual(['new']));
        await waitFor(() => expect(onB.map((event) => event.data)).toEqual(['new']));
      });

      it('restores the request id of the publisher around the handler', async () => {
        const seen: Array<string | undefined> = [];
        await b.consume('events.audit.>', () => void seen.push(currentRequestId()), { durable: 'audit' });

        await runWithContext({ requestId: 'req-contract-3' }, () => a.publishDurable('events.audit.x', {}));

        await waitFor(() => expect(seen).toEqual(['req-contract-3']));
      });

      it.each(consumerKinds)(
        'redelivers to %s whose handler threw, before later events',
        async (_, options) => {
          const attempts: unknown[] = [];
          let failed = false;
          // Both are stored before consuming, so the second is there to be taken while the first waits.
          await a.publishDurable('events.flaky.x', 1);
          await a.publishDurable('events.flaky.x', 2);
          await b.consume(
            'events.flaky.>',
            (message) => {
              attempts.push(message.data);
              if (!failed) {
                failed = true;
                throw new Error('first attempt fails');
              }
            },
            options,
          );

          await waitFor(() => expect(attempts).toEqual([1, 1, 2]));
          expect(levels()).toContain('warn');
        },
      );

      it.each(consumerKinds)('hands %s its events one at a time, in publish order', async (_, options) => {
        const handled: unknown[] = [];
        let running = 0;
        let mostAtOnce = 0;
        await b.consume(
          'events.ordered.>',
          async (message) => {
            mostAtOnce = Math.max(mostAtOnce, ++running);
            await delay(1);
            handled.push(message.data);
            running--;
          },
          options,
        );

        for (let n = 0; n < 25; n++) await a.publishDurable(`events.ordered.${n % 3}`, n);

        await waitFor(() => expect(handled).toEqual([...Array(25).keys()]));
        expect(mostAtOnce).toBe(1);
      });
    });
  });
}
