import type { ServerEvent } from '@chat/protocol';

/** One serialized server event, shared by every socket it goes to (serialized once per broadcast). */
export interface Outgoing {
  /** The event as UTF-8 JSON, encoded once: a frame of this one event is written without a copy. */
  data: Buffer;
  /** Its size in bytes. */
  bytes: number;
  /** Typing and presence: the first to go when a socket falls behind. */
  droppable: boolean;
}

/** Wraps an event for {@link OutboundQueue.push}: serialize once, then push the same object to every socket. */
export function outgoing(event: ServerEvent, droppable = false): Outgoing {
  const data = Buffer.from(JSON.stringify(event));
  return { data, bytes: data.length, droppable };
}

/** How frames are sent: as text, from bytes that are already UTF-8. */
export const TEXT_FRAME = Object.freeze({ binary: false });

/** Where a queue writes: a `ws` WebSocket has both members. */
export interface FrameSink {
  /** Bytes accepted by `send` but not yet handed to the kernel. */
  readonly bufferedAmount: number;
  send(data: Buffer, options: typeof TEXT_FRAME): void;
}

/**
 * Shared by every queue of a server (one object, not one per socket): each queue names its owner, which
 * `onOverflow` is given back.
 */
export interface OutboundQueueOptions<Owner> {
  /** The bound on queued plus buffered bytes. */
  maxBytes: number;
  /** Events are joined into array frames of at most this many bytes (one larger event goes alone). */
  maxFrameBytes: number;
  /** How long the socket may stay over the bound before it is given up. */
  stallMs: number;
  /** Called once when the socket is given up; the owner closes it with 1013. */
  onOverflow: (owner: Owner, reason: string) => void;
  /** Asks for `flush()` to be called soon (once per tick for every queue with something in it). */
  requestFlush: (queue: { flush(): void }) => void;
  /** Shared by the queues flushed together, so sockets sent the same events share one array frame. */
  frames?: FrameMemo;
  now?: () => number;
}

/**
 * The outbound side of one socket: events pushed during a tick leave together at the next flush, as one
 * frame (a single event as itself, several as a JSON array joined from their serialized text, never
 * re-serialized). System calls per write, not bytes, are what fan-out costs.
 *
 * Bounded: what waits here plus what `ws` has not yet written never exceeds `maxBytes` for long.
 * Policy when a socket falls behind (queued + buffered > maxBytes):
 * 1. typing and presence events are dropped, arriving ones and queued ones, before anything else;
 * 2. other events are still queued, and the socket has `stallMs` to come back under the bound;
 * 3. it is given up (`onOverflow`, the socket closes with 1013) when it stays over the bound for `stallMs`,
 *    or at once when an event would take it past twice the bound. Its queue is then emptied.
 */
export class OutboundQueue<Owner = unknown> {
  private items: Outgoing[] = [];
  private queuedBytes = 0;
  /** What is left to write of the events the bound does not count ({@link pushOwed}). */
  private owedBytes = 0;
  private overSince: number | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Events dropped under pressure, for observation. */
  droppedEvents = 0;
  /** The most bytes this socket ever held (queued + buffered), for observation. */
  peakBytes = 0;

  constructor(
    private readonly sink: FrameSink,
    private readonly options: OutboundQueueOptions<Owner>,
    private readonly owner: Owner,
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /**
   * Queued plus buffered bytes, but for what is left of owed events. Those were queued first, so they are
   * written first: once the socket holds less than was owed, only that much of them can be left.
   */
  pressure(): number {
    const held = this.queuedBytes + this.sink.bufferedAmount;
    this.owedBytes = Math.min(this.owedBytes, held);
    return held - this.owedBytes;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  push(item: Outgoing): void {
    if (this.closed) return;
    if (this.pressure() + item.bytes > this.options.maxBytes) {
      if (item.droppable) {
        this.droppedEvents += 1;
        return;
      }
      this.shedDroppable();
      const after = this.pressure() + item.bytes;
      if (after > 2 * this.options.maxBytes)
        return this.overflow(`outbound buffer over ${2 * this.options.maxBytes} bytes`);
      if (after > this.options.maxBytes) this.markOver();
    }
    this.items.push(item);
    this.queuedBytes += item.bytes;
    if (this.items.length === 1) this.options.requestFlush(this);
  }

  /**
   * Queues an event the server owes the client whatever its size: the `hello`, pushed first, which for a
   * user in many rooms may be larger than the bound. It is neither refused nor counted against the bound
   * until it is written, so a slow reader is judged on what came after it (the contract's "Limits").
   */
  pushOwed(item: Outgoing): void {
    if (this.closed) return;
    this.owedBytes += item.bytes;
    this.items.push(item);
    this.queuedBytes += item.bytes;
    if (this.items.length === 1) this.options.requestFlush(this);
  }

  /** Writes everything queued: one frame per `maxFrameBytes` of events. */
  flush(): void {
    if (this.closed || this.items.length === 0) return;
    this.peakBytes = Math.max(this.peakBytes, this.pressure());
    const items = this.items;
    this.items = [];
    this.queuedBytes = 0;
    let start = 0;
    while (start < items.length) {
      let end = start + 1;
      let bytes = items[start]!.bytes + 2;
      while (end < items.length && bytes + items[end]!.bytes + 1 <= this.options.maxFrameBytes) {
        bytes += items[end]!.bytes + 1;
        end += 1;
      }
      const frame =
        end - start === 1
          ? items[start]!.data
          : (this.options.frames?.join(items, start, end) ?? frameOf(items, start, end));
      this.sink.send(frame, TEXT_FRAME);
      start = end;
    }
    this.peakBytes = Math.max(this.peakBytes, this.pressure());
    if (this.pressure() <= this.options.maxBytes) this.clearOver();
  }

  /** Stops queuing and forgets what was queued (the socket is closing). */
  close(): void {
    this.closed = true;
    this.items = [];
    this.queuedBytes = 0;
    this.clearOver();
  }

  private shedDroppable(): void {
    const kept = this.items.filter((item) => !item.droppable);
    if (kept.length === this.items.length) return;
    this.droppedEvents += this.items.length - kept.length;
    this.items = kept;
    this.queuedBytes = kept.reduce((sum, item) => sum + item.bytes, 0);
  }

  private markOver(): void {
    if (this.overSince === undefined) {
      this.overSince = this.now();
      this.stallTimer = setTimeout(() => this.checkStall(), this.options.stallMs);
      this.stallTimer.unref();
      return;
    }
    if (this.now() - this.overSince >= this.options.stallMs) this.checkStall();
  }

  private checkStall(): void {
    if (this.closed) return;
    if (this.pressure() <= this.options.maxBytes) return this.clearOver();
    this.overflow(`outbound buffer over ${this.options.maxBytes} bytes for ${this.options.stallMs} ms`);
  }

  private clearOver(): void {
    this.overSince = undefined;
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private overflow(reason: string): void {
    this.close();
    this.options.onOverflow(this.owner, reason);
  }
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** The events `start` to `end` as one JSON array, joined from their bytes (never re-serialized). */
function frameOf(items: Outgoing[], start: number, end: number): Buffer {
  const parts: Buffer[] = [OPEN, items[start]!.data];
  let length = 2 + items[start]!.bytes;
  for (let i = start + 1; i < end; i++) {
    parts.push(COMMA, items[i]!.data);
    length += 1 + items[i]!.bytes;
  }
  parts.push(CLOSE);
  return Buffer.concat(parts, length);
}

/**
 * The array frame joined last in one flush round, handed to the next socket whose events in the round
 * are the very same: sockets of a room are flushed one after another, so a broadcast is joined once, not
 * once per socket.
 */
export class FrameMemo {
  private items: Outgoing[] = [];
  private frame: Buffer | undefined;

  join(items: Outgoing[], start: number, end: number): Buffer {
    const same =
      this.frame !== undefined &&
      this.items.length === end - start &&
      this.items.every((item, index) => item === items[start + index]);
    if (same) return this.frame!;
    this.items = items.slice(start, end);
    this.frame = frameOf(items, start, end);
    return this.frame;
  }

  clear(): void {
    this.items = [];
    this.frame = undefined;
  }
}

/** Flushes every queue that asked, once per tick (setImmediate), whatever the number of events. */
export class FlushScheduler {
  readonly frames = new FrameMemo();
  private readonly dirty = new Set<{ flush(): void }>();
  private scheduled = false;

  request = (queue: { flush(): void }): void => {
    this.dirty.add(queue);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  };

  private readonly run = (): void => {
    this.scheduled = false;
    const queues = [...this.dirty];
    this.dirty.clear();
    for (const queue of queues) queue.flush();
    this.frames.clear();
  };
}
