/**
 * A client process of the fan-out benchmark: it holds sockets (receivers, idle sockets, a storm) or the
 * sender, and answers the benchmark's commands over IPC. Raw `ws` clients parse every frame as a real
 * client would (JSON, our array frames unpacked; Socket.IO's Engine.IO / Socket.IO v4 packets), counting
 * `message` events and, for latency texts, the time since the send from the shared monotonic clock
 * (`process.hrtime`, CLOCK_MONOTONIC, the same in every process of the machine). The Socket.IO sender is
 * `socket.io-client` itself.
 */
import WebSocket from 'ws';
import { io as sioConnect, type Socket as SioSocket } from 'socket.io-client';
import { sleep } from './processes';

export type ClientKind = 'ours' | 'sio';

/** One socket to open: whose token, and (Socket.IO only) which rooms it joins. */
export interface Entry {
  token: string;
  rooms?: string[];
}

export type Outcome =
  | { kind: 'served'; ms: number }
  | { kind: 'refused'; status: number }
  | { kind: 'closed'; code: number }
  | { kind: 'error'; message: string }
  | { kind: 'timeout' };

/** Counts of outcomes other than `served`, keyed like `refused 503`, `closed 1011`, `error ECONNRESET`. */
export type Failures = Record<string, number>;

export interface OpenResult {
  opened: number;
  attempts: number;
  failures: Failures;
  ms: number;
}

export interface StormResult {
  served: number;
  failures: Failures;
  /** Milliseconds from the storm's start to each `hello` (or Socket.IO connect). */
  times: number[];
}

export interface Counters {
  deliveries: number;
  otherEvents: number;
  open: number;
  /** Sockets the server closed after `hello`, by close code. */
  closedAfterHello: Failures;
}

export interface LatencyRecord {
  /** Microseconds from send to each delivery this process saw. */
  perDelivery: number[];
  /** Per message index: [index, deliveries seen here, the latest one in µs]. */
  perMessage: Array<[number, number, number]>;
}

export interface SendStats {
  sent: number;
  acked: number;
  refused: number;
  errors: Failures;
  /** The window the sender ended with: refusals shrink it to what was in flight. */
  window: number;
  ackP50Ms: number;
  ackP99Ms: number;
}

const nowUs = () => {
  const [seconds, nanos] = process.hrtime();
  return seconds * 1e6 + nanos / 1e3;
};

function bump(failures: Failures, key: string): void {
  failures[key] = (failures[key] ?? 0) + 1;
}

function outcomeKey(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'refused':
      return `refused ${outcome.status}`;
    case 'closed':
      return `closed ${outcome.code}`;
    case 'error':
      return `error ${outcome.message}`;
    default:
      return outcome.kind;
  }
}

/** A text of exactly `bytes` bytes (ASCII) starting with `head`. */
export function paddedText(head: string, bytes: number): string {
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length);
}

// --- receiving -------------------------------------------------------------------------------------------

const counters: Counters = { deliveries: 0, otherEvents: 0, open: 0, closedAfterHello: {} };
let recording: { perDelivery: number[]; counts: number[]; latest: number[] } | undefined;

function delivered(text: string): void {
  counters.deliveries += 1;
  // Latency texts: `L<index>:<send time µs>:xxx`.
  if (recording === undefined || text.charCodeAt(0) !== 76) return;
  const colon = text.indexOf(':');
  const index = Number(text.slice(1, colon));
  const sentUs = Number(text.slice(colon + 1, text.indexOf(':', colon + 1)));
  const latency = nowUs() - sentUs;
  recording.perDelivery.push(latency);
  recording.counts[index] = (recording.counts[index] ?? 0) + 1;
  if (!(recording.latest[index]! >= latency)) recording.latest[index] = latency;
}

/** One raw socket; `served` resolves with how its opening went. */
class Conn {
  readonly ws: WebSocket;
  /** `message` events since the last `received-reset`. */
  received = 0;
  readonly outcome: Promise<Outcome>;
  private settle!: (outcome: Outcome) => void;
  private helloed = false;

  /** `started`: what `served.ms` counts from (a storm's start, or this socket's own). */
  constructor(
    readonly kind: ClientKind,
    base: string,
    private readonly entry: Entry,
    timeoutMs: number,
    private readonly started = Date.now(),
  ) {
    const url =
      kind === 'ours'
        ? `${base.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(entry.token)}`
        : `${base.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    let settled = false;
    this.outcome = new Promise((resolve) => {
      this.settle = (outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (outcome.kind !== 'served') this.ws.terminate();
        resolve(outcome);
      };
    });
    const timer = setTimeout(() => this.settle({ kind: 'timeout' }), timeoutMs);
    this.ws.on('unexpected-response', (_req, res) => {
      res.resume();
      this.settle({ kind: 'refused', status: res.statusCode ?? 0 });
    });
    this.ws.on('error', (error: NodeJS.ErrnoException) =>
      this.settle({ kind: 'error', message: error.code ?? error.message.slice(0, 60) }),
    );
    this.ws.on('close', (code) => {
      if (this.helloed) {
        counters.open -= 1;
        if (code !== 1000 && code !== 1005) bump(counters.closedAfterHello, String(code));
      }
      this.settle({ kind: 'closed', code });
    });
    this.ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      if (kind === 'ours') this.onOurs(text);
      else this.onSocketIo(text);
    });
  }

  private hello(): void {
    if (this.helloed) return;
    this.helloed = true;
    counters.open += 1;
    this.settle({ kind: 'served', ms: Date.now() - this.started });
  }

  private onOurs(text: string): void {
    const parsed = JSON.parse(text) as { type: string; message?: { text: string } };
    const events = Array.isArray(parsed) ? (parsed as (typeof parsed)[]) : [parsed];
    for (const event of events) {
      if (event.type === 'message') {
        this.received += 1;
        delivered(event.message!.text);
      } else if (event.type === 'hello') this.hello();
      else counters.otherEvents += 1;
    }
  }

  /** Engine.IO v4 packet types: 0 open, 1 close, 2 ping, 3 pong, 4 message (a Socket.IO v5 packet). */
  private onSocketIo(text: string): void {
    const engine = text.charCodeAt(0);
    if (engine === 0x34) {
      const packet = text.charCodeAt(1);
      if (packet === 0x32) {
        // EVENT `42["message",{...}]` (default namespace, no ack id).
        const [name, payload] = JSON.parse(text.slice(2)) as [string, { text: string }];
        if (name === 'message') {
          this.received += 1;
          delivered(payload.text);
        } else counters.otherEvents += 1;
      } else if (packet === 0x30) this.hello();
      else if (packet === 0x34) this.settle({ kind: 'refused', status: 401 });
    } else if (engine === 0x32) this.ws.send('3');
    else if (engine === 0x30)
      this.ws.send(`40${JSON.stringify({ token: this.entry.token, rooms: this.entry.rooms ?? [] })}`);
    else if (engine === 0x31) this.ws.close();
  }
}

const groups = new Map<string, Conn[]>();

function keep(group: string, conn: Conn): void {
  const list = groups.get(group) ?? [];
  list.push(conn);
  groups.set(group, list);
}

/** Opens `entries` with at most `concurrency` openings at once, retrying a failed one `retries` times. */
async function openMany(args: {
  kind: ClientKind;
  base: string;
  entries: Entry[];
  group: string;
  concurrency: number;
  retries: number;
  timeoutMs: number;
  /** No opening starts after this long; what is not open by then is counted as `gave up`. */
  deadlineMs: number;
}): Promise<OpenResult> {
  const started = Date.now();
  const deadline = started + args.deadlineMs;
  const failures: Failures = {};
  let next = 0;
  let opened = 0;
  let attempts = 0;
  const lane = async () => {
    while (next < args.entries.length) {
      const entry = args.entries[next++]!;
      for (let attempt = 0; ; attempt++) {
        if (Date.now() > deadline) {
          bump(failures, 'gave up');
          break;
        }
        attempts += 1;
        const conn = new Conn(args.kind, args.base, entry, args.timeoutMs);
        const outcome = await conn.outcome;
        if (outcome.kind === 'served') {
          keep(args.group, conn);
          opened += 1;
          break;
        }
        bump(failures, outcomeKey(outcome));
        if (attempt >= args.retries) break;
        await sleep(Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, args.concurrency) }, lane));
  return { opened, attempts, failures, ms: Date.now() - started };
}

/** Opens every entry at once and reports how each opening went. */
async function storm(args: {
  kind: ClientKind;
  base: string;
  entries: Entry[];
  group: string;
  timeoutMs: number;
}): Promise<StormResult> {
  const started = Date.now();
  const conns = args.entries.map((entry) => new Conn(args.kind, args.base, entry, args.timeoutMs, started));
  const outcomes = await Promise.all(conns.map((conn) => conn.outcome));
  const failures: Failures = {};
  const times: number[] = [];
  outcomes.forEach((outcome, i) => {
    if (outcome.kind === 'served') {
      times.push(outcome.ms);
      keep(args.group, conns[i]!);
    } else bump(failures, outcomeKey(outcome));
  });
  return { served: times.length, failures, times };
}

async function closeGroup(group?: string): Promise<number> {
  const names = group ? [group] : [...groups.keys()];
  const conns = names.flatMap((name) => groups.get(name) ?? []);
  for (const name of names) groups.delete(name);
  const closed = conns.map(
    (conn) =>
      new Promise<void>((resolve) => {
        if (conn.ws.readyState === WebSocket.CLOSED) return resolve();
        conn.ws.once('close', () => resolve());
        conn.ws.close(1000);
      }),
  );
  const all = Promise.all(closed);
  const late = sleep(5_000).then(() => {
    for (const conn of conns) conn.ws.terminate();
  });
  await Promise.race([all, late]);
  await all;
  return conns.length;
}

// --- sending ---------------------------------------------------------------------------------------------

/** Sends one message and calls back with `ok` or the refusal's code. */
interface SendTransport {
  send(roomId: string, text: string, done: (code: string) => void): void;
  close(): void;
}

async function ourTransport(base: string, token: string, timeoutMs: number): Promise<SendTransport> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`, {
    perMessageDeflate: false,
  });
  const waiting = new Map<string, (code: string) => void>();
  let refs = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('sender: no hello')), timeoutMs);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`sender refused: ${res.statusCode}`)));
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      const parsed = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      const events = (Array.isArray(parsed) ? parsed : [parsed]) as Array<{
        type: string;
        ref?: string;
        code?: string;
      }>;
      for (const event of events) {
        if (event.type === 'hello') {
          clearTimeout(timer);
          resolve();
        } else if ((event.type === 'ack' || event.type === 'error') && event.ref !== undefined) {
          const done = waiting.get(event.ref);
          waiting.delete(event.ref);
          done?.(event.type === 'ack' ? 'ok' : (event.code ?? 'error'));
        }
      }
    });
  });
  ws.on('close', () => {
    for (const done of waiting.values()) done('closed');
    waiting.clear();
  });
  return {
    send(roomId, text, done) {
      refs += 1;
      const ref = `s${refs}`;
      waiting.set(ref, done);
      ws.send(JSON.stringify({ type: 'send', roomId, text, ref }));
    },
    close: () => ws.close(1000),
  };
}

async function socketIoTransport(
  base: string,
  token: string,
  rooms: string[],
  timeoutMs: number,
): Promise<SendTransport> {
  const socket: SioSocket = sioConnect(base, {
    transports: ['websocket'],
    auth: { token, rooms },
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return {
    send(roomId, text, done) {
      socket.emit('send', { roomId, text }, (reply: { error?: { code: string } }) =>
        done(reply.error ? reply.error.code : 'ok'),
      );
    },
    close: () => socket.close(),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

class Sender {
  private running = false;
  private window = 0;
  /** Closed loop: sends ahead of what the slowest receiver has got, at most ({@link credit}). */
  private lag = Infinity;
  private slowest = 0;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private index = 0;
  private stats: Omit<SendStats, 'window' | 'ackP50Ms' | 'ackP99Ms'> = this.fresh();
  private ackMs: number[] = [];

  constructor(private readonly transport: SendTransport) {}

  private fill: () => void = () => undefined;

  /**
   * Keeps `window` sends in flight until {@link stop}, and never more than `lag` sends ahead of the slowest
   * open receiver: acks say a message is stored, not that it reached anyone, and a sender paced by acks alone
   * outruns receivers slower than the server (the server then closes them as too far behind).
   */
  startClosedLoop(roomId: string, window: number, lag: number, textBytes: number): void {
    this.reset();
    this.running = true;
    this.window = window;
    this.lag = lag;
    this.slowest = 0;
    this.fill = () => {
      while (this.running && this.inFlight < this.window && this.stats.sent - this.slowest < this.lag)
        this.sendOne(roomId, paddedText('T', textBytes), this.fill);
    };
    this.fill();
  }

  /** What the slowest open receiver has got since the closed loop started. */
  credit(slowest: number): void {
    this.slowest = Math.max(this.slowest, slowest);
    this.fill();
  }

  /** Sends at `rate` per second for `durationMs` whatever the acks, then waits for them (bounded). */
  async openLoop(roomId: string, rate: number, durationMs: number, textBytes: number): Promise<SendStats> {
    this.reset();
    this.running = true;
    const started = Date.now();
    const total = Math.max(1, Math.round((rate * durationMs) / 1000));
    let sent = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((Date.now() - started) * rate) / 1000) + 1);
        while (sent < due) {
          this.sendOne(roomId, paddedText(`L${sent}:${Math.round(nowUs())}:`, textBytes), () => undefined);
          sent += 1;
        }
        if (sent >= total) return resolve();
        const next = started + (sent * 1000) / rate;
        setTimeout(tick, Math.max(0, next - Date.now()));
      };
      tick();
    });
    return this.stop();
  }

  /** Stops sending, waits (at most 10 s) for what is in flight, and reports. */
  async stop(): Promise<SendStats> {
    this.running = false;
    if (this.inFlight > 0) {
      await Promise.race([new Promise<void>((resolve) => (this.drained = resolve)), sleep(10_000)]);
      this.drained = undefined;
    }
    return this.snapshot();
  }

  close(): void {
    this.running = false;
    this.transport.close();
  }

  snapshot(): SendStats {
    const sorted = [...this.ackMs].sort((a, b) => a - b);
    return {
      ...this.stats,
      errors: { ...this.stats.errors },
      window: this.window,
      ackP50Ms: percentile(sorted, 50),
      ackP99Ms: percentile(sorted, 99),
    };
  }

  private sendOne(roomId: string, text: string, after: () => void): void {
    const sentAt = Date.now();
    this.inFlight += 1;
    this.stats.sent += 1;
    this.index += 1;
    this.transport.send(roomId, text, (code) => {
      this.inFlight -= 1;
      if (code === 'ok') {
        this.stats.acked += 1;
        if (this.ackMs.length < 200_000) this.ackMs.push(Date.now() - sentAt);
      } else if (code === 'RATE_LIMITED') {
        // Refused for having too many in flight: the server's window is what was in flight.
        this.stats.refused += 1;
        this.window = Math.max(1, Math.min(this.window, this.inFlight));
      } else bump(this.stats.errors, code);
      if (this.inFlight === 0) this.drained?.();
      after();
    });
  }

  private fresh() {
    return { sent: 0, acked: 0, refused: 0, errors: {} as Failures };
  }

  private reset(): void {
    this.stats = this.fresh();
    this.ackMs = [];
  }
}

let sender: Sender | undefined;

// --- commands --------------------------------------------------------------------------------------------

type Command = { benchId: number; cmd: string } & Record<string, unknown>;

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'open':
      return openMany(command as unknown as Parameters<typeof openMany>[0]);
    case 'storm':
      return storm(command as unknown as Parameters<typeof storm>[0]);
    case 'close':
      return closeGroup(command.group as string | undefined);
    case 'counters':
      return { ...counters, closedAfterHello: { ...counters.closedAfterHello } };
    case 'received-reset':
      for (const conn of groups.get(command.group as string) ?? []) conn.received = 0;
      return true;
    case 'slowest': {
      const open = (groups.get(command.group as string) ?? []).filter(
        (conn) => conn.ws.readyState === WebSocket.OPEN,
      );
      return open.length > 0 ? Math.min(...open.map((conn) => conn.received)) : null;
    }
    case 'latency-start':
      recording = { perDelivery: [], counts: [], latest: [] };
      return true;
    case 'latency-stop': {
      const record = recording;
      recording = undefined;
      const perMessage: Array<[number, number, number]> = [];
      record?.counts.forEach((count, index) => perMessage.push([index, count, record.latest[index]!]));
      return { perDelivery: record?.perDelivery ?? [], perMessage } satisfies LatencyRecord;
    }
    case 'sender-open': {
      const { kind, base, token, rooms, timeoutMs } = command as unknown as {
        kind: ClientKind;
        base: string;
        token: string;
        rooms: string[];
        timeoutMs: number;
      };
      sender?.close();
      sender = new Sender(
        kind === 'ours'
          ? await ourTransport(base, token, timeoutMs)
          : await socketIoTransport(base, token, rooms, timeoutMs),
      );
      return true;
    }
    case 'closed-start':
      sender!.startClosedLoop(
        command.roomId as string,
        command.window as number,
        command.lag as number,
        command.textBytes as number,
      );
      return true;
    case 'credit':
      sender!.credit(command.slowest as number);
      return true;
    case 'sender-stats':
      return sender!.snapshot();
    case 'closed-stop':
      return sender!.stop();
    case 'open-loop':
      return sender!.openLoop(
        command.roomId as string,
        command.rate as number,
        command.durationMs as number,
        command.textBytes as number,
      );
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
}

process.on('disconnect', () => process.exit(0));
process.on('message', (command: Command) => {
  handle(command).then(
    (result) => process.send?.({ benchId: command.benchId, ok: true, result }),
    (error: unknown) =>
      process.send?.({
        benchId: command.benchId,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      }),
  );
});
