import type { ServerEvent } from '@chat/protocol';

/**
 * One server event, serialized once and shared by every socket it goes to: its complete WebSocket text
 * frame (header, then the UTF-8 JSON) is built once per broadcast, so writing it to a socket is one
 * `write` of the same bytes, with no framing or copy per socket.
 */
export interface Outgoing {
  /** The whole frame: a header of 2, 4 or 10 bytes, then the payload. */
  frame: Buffer;
  /** The payload's size in bytes (the event's JSON). */
  bytes: number;
  /** Typing and presence: the first to go when a socket falls behind. */
  droppable: boolean;
}

/** Wraps an event for {@link OutboundQueue.push}: serialize once, then push the same object to every socket. */
export function outgoing(event: ServerEvent, droppable = false): Outgoing {
  return outgoingJson(JSON.stringify(event), droppable);
}

/** An {@link Outgoing} of JSON text that is already serialized. */
export function outgoingJson(json: string, droppable = false): Outgoing {
  const bytes = Buffer.byteLength(json);
  const frame = allocFrame(bytes);
  frame.write(json, frame.length - bytes, 'utf8');
  return { frame, bytes, droppable };
}

/** The bytes of a server-to-client frame header (unmasked) for a payload of `bytes`: RFC 6455 §5.2. */
function headerBytes(bytes: number): number {
  if (bytes < 126) return 2;
  return bytes < 65_536 ? 4 : 10;
}

/** A buffer for a final, unmasked text frame of `bytes` of payload, its header written, its payload not. */
function allocFrame(bytes: number): Buffer {
  const header = headerBytes(bytes);
  const frame = Buffer.allocUnsafe(header + bytes);
  frame[0] = 0x81;
  if (header === 2) {
    frame[1] = bytes;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(bytes, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(bytes, 6);
  }
  return frame;
}

/** How a frame goes out when it cannot be written whole: as text, from bytes that are already UTF-8. */
export const TEXT_FRAME = Object.freeze({ binary: false });

/** `ws`'s `readyState` while a socket is open. */
const OPEN = 1;

/**
 * Where a queue writes: a `ws` WebSocket. Frames built here are handed to its sender's `sendFrame`, which
 * writes them to the TCP socket as they are (Socket.IO writes its pre-encoded broadcasts the same way;
 * `ws` documents `Sender.frame` for building them). Should a `ws` release lack that sender, or be in the
 * middle of compressing (never, as our servers do not negotiate permessage-deflate), the payload goes through
 * `send` instead.
 */
export interface FrameSink {
  /** Bytes accepted but not yet handed to the kernel. */
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Buffer, options: typeof TEXT_FRAME): void;
}

interface SenderOf {
  _sender?: { _state?: unknown; sendFrame?: (list: Buffer[]) => void };
}

/** Writes the frame of `item` to an open socket, once, as it is. */
function writeFrame(sink: FrameSink, { frame, bytes }: Outgoing): void {
  if (sink.readyState !== OPEN) return;
  const sender = (sink as SenderOf)._sender;
  if (sender?._state === 0 && typeof sender.sendFrame === 'function') sender.sendFrame([frame]);
  else sink.send(frame.subarray(frame.length - bytes), TEXT_FRAME);
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
 * frame per `maxFrameBytes` of them (a single event as itself, several as a JSON array joined from their
 * serialized text, never re-serialized). System calls per write, not bytes, are what fan-out costs.
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
      writeFrame(
        this.sink,
        end - start === 1
          ? items[start]!
          : (this.options.frames?.join(items, start, end) ?? frameOf(items, start, end)),
      );
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

const OPEN_BRACKET = 0x5b;
const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;

/** The events `start` to `end` as one frame of a JSON array, joined from their bytes (never re-serialized). */
function frameOf(items: Outgoing[], start: number, end: number): Outgoing {
  let bytes = 1 + items[start]!.bytes;
  for (let i = start + 1; i < end; i++) bytes += 1 + items[i]!.bytes;
  bytes += 1;
  const frame = allocFrame(bytes);
  let offset = frame.length - bytes;
  frame[offset++] = OPEN_BRACKET;
  for (let i = start; i < end; i++) {
    if (i > start) frame[offset++] = COMMA;
    const item = items[i]!;
    offset += item.frame.copy(frame, offset, item.frame.length - item.bytes);
  }
  frame[offset] = CLOSE_BRACKET;
  return { frame, bytes, droppable: false };
}

/**
 * Frames kept per first event in a round. Sockets of a room share theirs; sockets that got different
 * events (presence sent to each with their own contacts) would otherwise make every later join compare
 * against all the others and keep them all until the round ends.
 */
const MAX_JOINED_PER_EVENT = 8;

/**
 * The array frames joined in one flush round, handed to every later socket whose events in the round are
 * the very same: the sockets of a room get the same events in the same order, so a broadcast is joined once
 * per round, not once per socket, even when a socket's events of the round fill several frames.
 */
export class FrameMemo {
  /** Frames joined this round, by their first event. */
  private readonly joined = new Map<Outgoing, { items: Outgoing[]; frame: Outgoing }[]>();

  join(items: Outgoing[], start: number, end: number): Outgoing {
    const candidates = this.joined.get(items[start]!);
    const found = candidates?.find(
      (candidate) =>
        candidate.items.length === end - start &&
        candidate.items.every((item, index) => item === items[start + index]),
    );
    if (found) return found.frame;
    const frame = frameOf(items, start, end);
    const entry = { items: items.slice(start, end), frame };
    if (!candidates) this.joined.set(items[start]!, [entry]);
    else if (candidates.push(entry) > MAX_JOINED_PER_EVENT) candidates.shift();
    return frame;
  }

  clear(): void {
    this.joined.clear();
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
