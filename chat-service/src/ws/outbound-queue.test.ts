import WebSocket from 'ws';
import {
  FlushScheduler,
  OutboundQueue,
  outgoingJson,
  TEXT_FRAME,
  type FrameSink,
  type Outgoing,
} from './outbound-queue';

/** `ws`'s own frame parser (exported by the package, not typed by @types/ws): frames are checked by it. */
interface FrameReceiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}
const { Receiver } = WebSocket as unknown as { Receiver: new () => FrameReceiver };

/** A socket as the queue sees a `ws` WebSocket: whole frames reach its sender, and ws's receiver reads them. */
class FakeSocket implements FrameSink {
  frames: string[] = [];
  /** The buffers as handed over, to tell a shared one from a copy. */
  sent: Buffer[] = [];
  /** What the kernel has not taken yet; a test sets it to play a client that stopped reading. */
  bufferedAmount = 0;
  readyState = 1;
  private readonly receiver = new Receiver();
  readonly _sender = {
    _state: 0,
    sendFrame: (list: Buffer[]): void => {
      expect(list).toHaveLength(1);
      this.sent.push(list[0]!);
      this.receiver.write(list[0]!);
    },
  };
  constructor() {
    this.receiver.on('message', (data, isBinary) => {
      expect(isBinary).toBe(false);
      this.frames.push(data.toString('utf8'));
    });
    this.receiver.on('error', (error) => {
      throw error;
    });
  }
  send(): void {
    throw new Error('frames go whole to the sender');
  }
  /** Every event received, frames unpacked as a client does (an object or an array of them). */
  events(): { type: string; n?: number }[] {
    return this.frames.flatMap((frame) => {
      const parsed = JSON.parse(frame) as unknown;
      return Array.isArray(parsed) ? parsed : [parsed];
    });
  }
}

function setup(options: { maxBytes?: number; maxFrameBytes?: number; stallMs?: number } = {}) {
  const sink = new FakeSocket();
  const overflows: string[] = [];
  const flushes: { flush(): void }[] = [];
  let clock = 0;
  const queue = new OutboundQueue(
    sink,
    {
      maxBytes: options.maxBytes ?? 1000,
      maxFrameBytes: options.maxFrameBytes ?? 16_384,
      stallMs: options.stallMs ?? 2000,
      onOverflow: (_owner, reason) => overflows.push(reason),
      requestFlush: (q) => flushes.push(q),
      now: () => clock,
    },
    undefined,
  );
  return { sink, queue, overflows, flushes, advance: (ms: number) => (clock += ms) };
}

/** `count` queues of one flush round (one scheduler, so one memo of joined frames). */
function flushedTogether(count: number, maxFrameBytes: number) {
  const scheduler = new FlushScheduler();
  const sinks = Array.from({ length: count }, () => new FakeSocket());
  const queues = sinks.map(
    (sink) =>
      new OutboundQueue(
        sink,
        {
          maxBytes: 100_000,
          maxFrameBytes,
          stallMs: 2_000,
          onOverflow: () => undefined,
          requestFlush: scheduler.request,
          frames: scheduler.frames,
        },
        undefined,
      ),
  );
  return { sinks, queues };
}

/** The queue never looks inside events: numbered stand-ins make order and drops easy to read. */
function item(event: object, droppable = false): Outgoing {
  return outgoingJson(JSON.stringify(event), droppable);
}
const message = (n: number, pad = 0) => item({ type: 'message', n, pad: 'x'.repeat(pad) });
const typing = (n: number) => item({ type: 'typing', n }, true);

describe('OutboundQueue', () => {
  it('sends one event alone as an object, not as an array', () => {
    const { sink, queue } = setup();
    queue.push(message(1));
    queue.flush();
    expect(sink.frames).toHaveLength(1);
    expect(JSON.parse(sink.frames[0]!)).toEqual({ type: 'message', n: 1, pad: '' });
  });

  it('sends the events of one tick as one array frame, in order, and asks for one flush', () => {
    const { sink, queue, flushes } = setup();
    for (let n = 1; n <= 5; n++) queue.push(message(n));
    expect(flushes).toHaveLength(1);
    queue.flush();
    expect(sink.frames).toHaveLength(1);
    const frame = JSON.parse(sink.frames[0]!) as { n: number }[];
    expect(frame.map((event) => event.n)).toEqual([1, 2, 3, 4, 5]);
    queue.flush();
    expect(sink.frames).toHaveLength(1);
  });

  it('joins the events of one tick once for every socket flushed together that has the same ones', () => {
    const events = [message(1), message(2), message(3)];
    const { sinks, queues } = flushedTogether(3, 16_384);
    for (const queue of queues.slice(0, 2)) for (const event of events) queue.push(event);
    for (const event of [events[0]!, events[2]!]) queues[2]!.push(event);
    for (const queue of queues) queue.flush();
    expect(sinks[1]!.sent[0]).toBe(sinks[0]!.sent[0]);
    expect(sinks[2]!.sent[0]).not.toBe(sinks[0]!.sent[0]);
    expect(sinks.map((sink) => sink.events().map((event) => event.n))).toEqual([
      [1, 2, 3],
      [1, 2, 3],
      [1, 3],
    ]);
  });

  it('joins a round that fills several frames once for every socket that gets the same events', () => {
    const events = Array.from({ length: 20 }, (_, i) => message(i + 1, 30));
    const { sinks, queues } = flushedTogether(3, 200);
    for (const queue of queues) for (const event of events) queue.push(event);
    for (const queue of queues) queue.flush();
    expect(sinks[0]!.sent.length).toBeGreaterThan(1);
    for (const sink of sinks.slice(1)) {
      expect(sink.sent).toHaveLength(sinks[0]!.sent.length);
      sink.sent.forEach((frame, index) => expect(frame).toBe(sinks[0]!.sent[index]));
      expect(sink.events().map((event) => event.n)).toEqual(events.map((_, i) => i + 1));
    }
  });

  it('sends the same bytes of an event to every socket, without a copy', () => {
    const shared = message(7);
    const first = setup();
    const second = setup();
    first.queue.push(shared);
    second.queue.push(shared);
    first.queue.flush();
    second.queue.flush();
    expect(first.sink.sent[0]).toBe(shared.frame);
    expect(second.sink.sent[0]).toBe(shared.frame);
  });

  it('builds frames whose header carries each length form (7, 16 and 64 bits), as ws reads them', () => {
    const { sink, queue } = setup({ maxBytes: 1_000_000, maxFrameBytes: 1_000_000 });
    const sizes = [2, 125, 126, 65_535, 65_536, 200_000];
    const texts = sizes.map((size) => JSON.stringify('x'.repeat(size - 2)));
    for (const text of texts) {
      queue.push(outgoingJson(text));
      queue.flush();
    }
    expect(sink.frames).toEqual(texts);
    const headers = sink.sent.map((frame, index) => frame.length - Buffer.byteLength(texts[index]!));
    expect(headers).toEqual([2, 2, 4, 4, 10, 10]);
  });

  it('sends the payload alone through send when the socket has no sender to take whole frames', () => {
    const payloads: Buffer[] = [];
    const plain: FrameSink = {
      bufferedAmount: 0,
      readyState: 1,
      send: (data, options) => {
        expect(options).toBe(TEXT_FRAME);
        payloads.push(data);
      },
    };
    const queue = new OutboundQueue(
      plain,
      {
        maxBytes: 1000,
        maxFrameBytes: 1000,
        stallMs: 1000,
        onOverflow: () => undefined,
        requestFlush: () => undefined,
      },
      undefined,
    );
    queue.push(message(1));
    queue.push(message(2));
    queue.flush();
    expect(payloads.map((payload) => JSON.parse(payload.toString()) as unknown)).toEqual([
      [
        { type: 'message', n: 1, pad: '' },
        { type: 'message', n: 2, pad: '' },
      ],
    ]);
  });

  it('writes nothing to a socket that is no longer open', () => {
    const { sink, queue } = setup();
    sink.readyState = 2;
    queue.push(message(1));
    queue.flush();
    expect(sink.sent).toEqual([]);
  });

  it('splits a long tick into frames no larger than maxFrameBytes, keeping the order', () => {
    const { sink, queue } = setup({ maxBytes: 100_000, maxFrameBytes: 200 });
    for (let n = 1; n <= 20; n++) queue.push(message(n, 30));
    queue.flush();
    expect(sink.frames.length).toBeGreaterThan(1);
    for (const frame of sink.frames) expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(200);
    expect(sink.events().map((event) => event.n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('drops typing and presence first when the socket is over its bound, queued ones included', () => {
    const { sink, queue, overflows } = setup({ maxBytes: 400 });
    queue.push(typing(1));
    queue.push(message(2, 100));
    queue.push(typing(3));
    sink.bufferedAmount = 300;
    queue.push(typing(4));
    queue.push(message(5, 100));
    queue.flush();
    expect(sink.events().map((event) => event.n)).toEqual([2, 5]);
    expect(queue.droppedEvents).toBe(3);
    expect(overflows).toEqual([]);
  });

  it('gives up a socket that would go past twice its bound, and holds nothing for it afterwards', () => {
    const { sink, queue, overflows } = setup({ maxBytes: 1000 });
    sink.bufferedAmount = 900;
    queue.push(message(1, 500));
    expect(overflows).toEqual([]);
    queue.push(message(2, 600));
    expect(overflows).toHaveLength(1);
    expect(queue.isClosed).toBe(true);
    queue.push(message(3));
    queue.flush();
    expect(sink.frames).toEqual([]);
    expect(queue.pressure()).toBe(sink.bufferedAmount);
    expect(queue.peakBytes).toBeLessThanOrEqual(2000);
  });

  it('gives up a socket that stays over its bound for stallMs, and forgives one that catches up', () => {
    const { sink, queue, overflows, advance } = setup({ maxBytes: 1000, stallMs: 2000 });
    sink.bufferedAmount = 990;
    queue.push(message(1, 20));
    queue.flush();
    advance(1500);
    sink.bufferedAmount = 100;
    queue.push(message(2));
    queue.flush();
    advance(1500);
    queue.push(message(3));
    expect(overflows).toEqual([]);

    sink.bufferedAmount = 990;
    queue.push(message(4, 20));
    advance(2000);
    queue.push(message(5, 20));
    expect(overflows).toEqual([expect.stringContaining('for 2000 ms')]);
  });

  it('gives up a stalled socket after stallMs even when nothing more is sent to it', async () => {
    const { sink, queue, overflows } = setup({ maxBytes: 1000, stallMs: 20 });
    sink.bufferedAmount = 995;
    queue.push(message(1, 20));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(overflows).toHaveLength(1);
  });

  it('takes an owed event larger than the bound (the hello) and judges the socket on what follows it', () => {
    const { sink, queue, overflows } = setup({ maxBytes: 1000 });
    queue.pushOwed(message(0, 5000));
    queue.push(message(1));
    expect(overflows).toEqual([]);
    // The client does not read: all of it stays in the socket's buffer.
    sink.bufferedAmount = 5100;
    queue.flush();
    // The hello is still owed, and the events after it fit the bound.
    for (let n = 2; n <= 8; n++) queue.push(message(n, 100));
    expect(overflows).toEqual([]);
    // Once the client has read past the hello, the bound counts everything it holds again.
    sink.bufferedAmount = 900;
    queue.push(message(9, 100));
    queue.push(message(10, 2000));
    expect(overflows).toEqual(['outbound buffer over 2000 bytes']);
    expect(sink.events().map((event) => event.n)).toEqual([0, 1]);
  });
});

describe('FlushScheduler', () => {
  it('flushes every queue that asked once, on the next tick', async () => {
    const scheduler = new FlushScheduler();
    const sinks = [new FakeSocket(), new FakeSocket()];
    const queues = sinks.map(
      (sink) =>
        new OutboundQueue(
          sink,
          {
            maxBytes: 10_000,
            maxFrameBytes: 16_384,
            stallMs: 1000,
            onOverflow: () => undefined,
            requestFlush: scheduler.request,
          },
          undefined,
        ),
    );
    for (const queue of queues) for (let n = 0; n < 3; n++) queue.push(message(n));
    expect(sinks.every((sink) => sink.frames.length === 0)).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sinks.map((sink) => sink.frames.length)).toEqual([1, 1]);
    expect(sinks[0]!.events()).toHaveLength(3);
  });
});
