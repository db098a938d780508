import { readFileSync } from 'node:fs';
import path from 'node:path';
import type {
  ClientKind,
  Counters,
  Entry,
  Failures,
  LatencyRecord,
  OpenResult,
  SendStats,
  StormResult,
} from './client-worker';
import type { FanoutOptions } from './options';
import { cpuSecondsOf, rssOf, sleep, type Proc } from './processes';
import type { Cast } from './setup';
import type { RunningSystem } from './systems';

/** What the scenarios of one system share. */
export interface Context {
  options: FanoutOptions;
  system: RunningSystem;
  kind: ClientKind;
  /** Client processes holding receivers, idle sockets and storms. */
  workers: Proc[];
  /** The client process holding the sender. */
  senderWorker: Proc;
  cast: Cast;
  /** Where CPU profiles go (one-process throughput, with --profile). */
  profileDir?: string;
}

export interface ProcessCpu {
  process: string;
  /** CPU seconds over the measured window. */
  seconds: number;
  /** Of one core. */
  percent: number;
  /** CPU microseconds per delivery. */
  usPerDelivery: number;
}

export interface ClosedLoopResult {
  roomSize: number;
  receivers: number;
  seconds: number;
  deliveries: number;
  deliveriesPerSecond: number;
  acksPerSecond: number;
  sender: SendStats;
  /** Every server process, and `all servers` summed. */
  cpu: ProcessCpu[];
  serverUsPerDelivery: number;
  clientCpu: ProcessCpu[];
  /** Events other than `message` the receivers got meanwhile (presence, typing...). */
  otherEvents: number;
  /** Receivers the server closed during the run (a slow consumer is closed with 1013). */
  closedByServer: number;
  connect: OpenResult;
  profile?: ProfileSummary;
}

export interface LatencyResult {
  rate: number;
  receivers: number;
  sent: number;
  acked: number;
  refused: number;
  /** Messages every receiver got (within the wait after the run). */
  complete: number;
  incomplete: number;
  /** Send -> the last receiver, ms, over complete messages. */
  lastP50: number;
  lastP95: number;
  lastP99: number;
  lastMax: number;
  /** Send -> each delivery, ms. */
  deliveryP50: number;
  deliveryP99: number;
  /** Each process over the sending window, servers first, then the clients (what a tail waits on). */
  cpu: ProcessCpu[];
}

export interface MemoryUse {
  rss: number;
  heapUsed?: number;
}

export interface IdleResult {
  requested: number;
  connect: OpenResult;
  perProcess: Array<{
    process: string;
    holdsSockets: boolean;
    before: MemoryUse;
    after: MemoryUse;
    rssPerSocket: number;
    heapPerSocket?: number;
  }>;
  /** Bytes per socket, summed over the processes the sockets end in (ours: gateway and chat instances). */
  rssPerSocket: number;
  heapPerSocket: number;
  /** With --profile: what each socket added to the heap, by kind, the largest first. */
  census?: HeapShare[];
}

export interface HeapShare {
  process: string;
  /** `object <constructor>`, `closure <name>`, or a node type (`string`, `array`, `hidden`, ...). */
  kind: string;
  bytesPerSocket: number;
  countPerSocket: number;
}

type Census = Record<string, { bytes: number; count: number }>;

/** The kinds that grew most between two censuses of `process`, per socket. */
function heapShares(process: string, before: Census, after: Census, sockets: number, top = 15): HeapShare[] {
  return Object.entries(after)
    .map(([kind, { bytes, count }]) => ({
      process,
      kind,
      bytesPerSocket: (bytes - (before[kind]?.bytes ?? 0)) / sockets,
      countPerSocket: (count - (before[kind]?.count ?? 0)) / sockets,
    }))
    .sort((a, b) => b.bytesPerSocket - a.bytesPerSocket)
    .slice(0, top);
}

export interface StormSummary {
  requested: number;
  served: number;
  failures: Failures;
  p50Ms: number;
  p99Ms: number;
  /** Time until the last served socket got `hello`; null unless all were served. */
  allServedMs: number | null;
  lastServedMs: number;
  /** Sockets closed by the server after `hello` while the storm's sockets were open. */
  closedAfterHello: Failures;
  /** Peak CPU use of each server process over the storm, % of one core. */
  cpu: ProcessCpu[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  top: Array<{ fn: string; where: string; selfMs: number; percent: number }>;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

function merge(into: Failures, from: Failures): Failures {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
  return into;
}

/** `entries` dealt round-robin over the workers. */
function deal(entries: Entry[], workers: number): Entry[][] {
  const hands: Entry[][] = Array.from({ length: workers }, () => []);
  entries.forEach((entry, i) => hands[i % workers]!.push(entry));
  return hands;
}

async function counters(ctx: Context): Promise<Counters> {
  const all = await Promise.all(ctx.workers.map((worker) => worker.request<Counters>({ cmd: 'counters' })));
  return {
    deliveries: sum(all.map((c) => c.deliveries)),
    otherEvents: sum(all.map((c) => c.otherEvents)),
    open: sum(all.map((c) => c.open)),
    closedAfterHello: all.reduce((acc, c) => merge(acc, c.closedAfterHello), {} as Failures),
  };
}

/** A pause of `ms`, a fifth of it in a smoke run. */
const pause = (ctx: Context, ms: number) => sleep(ctx.options.smoke ? ms / 5 : ms);

/**
 * Waits until the receivers have received nothing for 3 polls 200 ms apart (40 ms in a smoke run), at most
 * `maxMs`: no backlog (messages, presence) carries over into the next measurement.
 */
async function settle(ctx: Context, maxMs = 20_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = -1;
  let quiet = 0;
  while (Date.now() < deadline) {
    const now = await counters(ctx);
    const seen = now.deliveries + now.otherEvents;
    quiet = seen === last ? quiet + 1 : 0;
    if (quiet >= 3) return;
    last = seen;
    await pause(ctx, 200);
  }
}

/** Opens sockets for `entries` in group `group`, spread over the client processes. */
async function open(ctx: Context, entries: Entry[], group: string): Promise<OpenResult> {
  const hands = deal(entries, ctx.workers.length);
  const results = await Promise.all(
    ctx.workers.map((worker, i) =>
      worker.request<OpenResult>(
        {
          cmd: 'open',
          kind: ctx.kind,
          base: ctx.system.base,
          entries: hands[i],
          group,
          concurrency: ctx.options.connectConcurrency,
          retries: 3,
          timeoutMs: 15_000,
          deadlineMs: ctx.options.connectDeadline * 1000,
        },
        600_000,
      ),
    ),
  );
  return {
    opened: sum(results.map((r) => r.opened)),
    attempts: sum(results.map((r) => r.attempts)),
    failures: results.reduce((acc, r) => merge(acc, r.failures), {} as Failures),
    ms: Math.max(...results.map((r) => r.ms)),
  };
}

async function close(ctx: Context, group: string): Promise<void> {
  await Promise.all(ctx.workers.map((worker) => worker.request({ cmd: 'close', group }, 60_000)));
}

interface Snapshot {
  at: number;
  deliveries: number;
  otherEvents: number;
  acked: number;
  cpu: Map<string, number>;
}

async function snapshot(ctx: Context): Promise<Snapshot> {
  const [count, sender] = await Promise.all([
    counters(ctx),
    ctx.senderWorker.request<SendStats>({ cmd: 'sender-stats' }),
  ]);
  const cpu = new Map<string, number>();
  for (const proc of [...ctx.system.servers, ...ctx.workers, ctx.senderWorker])
    cpu.set(proc.name, cpuSecondsOf(proc.pid) ?? NaN);
  return {
    at: performance.now(),
    deliveries: count.deliveries,
    otherEvents: count.otherEvents,
    acked: sender.acked,
    cpu,
  };
}

function cpuBetween(procs: Proc[], a: Snapshot, b: Snapshot, deliveries: number): ProcessCpu[] {
  const seconds = (b.at - a.at) / 1000;
  return procs.map((proc) => {
    const used = b.cpu.get(proc.name)! - a.cpu.get(proc.name)!;
    return {
      process: proc.name,
      seconds: used,
      percent: (100 * used) / seconds,
      usPerDelivery: deliveries > 0 ? (used * 1e6) / deliveries : NaN,
    };
  });
}

/** Self time per function of a V8 CPU profile, the top `count`. */
export function summarizeProfile(file: string, count = 10): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    // A sample's time is the gap to the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    total += us;
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    const where = url
      ? `${url
          .replace(/^file:\/\//, '')
          .replace(/^.*\/node_modules\//, '')
          .replace(/^.*\/(?=[^/]+\/(?:dist|src)\/)/, '')}:${lineNumber + 1}`
      : '';
    const key = `${functionName}|${where}`;
    const entry = self.get(key) ?? { fn: functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    self.set(key, entry);
  });
  const top = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, count)
    .map((entry) => ({
      fn: entry.fn,
      where: entry.where,
      selfMs: Math.round(entry.us / 1000),
      percent: Math.round((1000 * entry.us) / total) / 10,
    }));
  return { file, totalMs: Math.round(total / 1000), top };
}

/**
 * Closed loop: `size` receivers in the room of that size; the sender keeps the window of sends in flight
 * (a refused send shrinks it), warm-up, then `duration` seconds measured: deliveries, acks, CPU.
 */
export async function closedLoop(
  ctx: Context,
  size: number,
  connect: OpenResult,
  profile = false,
): Promise<ClosedLoopResult> {
  const { options } = ctx;
  const roomId = ctx.cast.rooms.get(size)!;
  if (connect.opened === 0) throw new Error(noReceivers(connect));
  let stopPacing = async (): Promise<void> => undefined;
  try {
    await settle(ctx);
    const group = receiverGroup(size);
    await Promise.all(ctx.workers.map((worker) => worker.request({ cmd: 'received-reset', group })));
    const start = await counters(ctx);
    await ctx.senderWorker.request({
      cmd: 'closed-start',
      roomId,
      window: options.window,
      lag: options.lag,
      textBytes: options.textBytes,
    });
    stopPacing = pace(ctx, group);
    await sleep(options.warmup * 1000);
    const a = await snapshot(ctx);
    await sleep(options.duration * 1000);
    const b = await snapshot(ctx);
    // The profile is taken over a second window of the same load, so the profiler's cost stays out of the figures.
    const profiled = profile ? ctx.system.servers.find((proc) => proc.name === 'one-process') : undefined;
    let summary: ProfileSummary | undefined;
    if (profiled) {
      const file = path.join(ctx.profileDir!, `one-process-throughput-${size}.cpuprofile`);
      await profiled.request({ cmd: 'profile-start' });
      await sleep(options.duration * 1000);
      await profiled.request({ cmd: 'profile-stop', path: file });
      summary = summarizeProfile(file);
    }
    const sender = await ctx.senderWorker.request<SendStats>({ cmd: 'closed-stop' }, 60_000);
    await stopPacing();
    const end = await counters(ctx);
    const seconds = (b.at - a.at) / 1000;
    const deliveries = b.deliveries - a.deliveries;
    const cpu = cpuBetween(ctx.system.servers, a, b, deliveries);
    const all = sum(cpu.map((c) => c.seconds));
    cpu.push({
      process: 'all servers',
      seconds: all,
      percent: (100 * all) / seconds,
      usPerDelivery: deliveries > 0 ? (all * 1e6) / deliveries : NaN,
    });
    return {
      roomSize: size,
      receivers: connect.opened,
      seconds,
      deliveries,
      deliveriesPerSecond: deliveries / seconds,
      acksPerSecond: (b.acked - a.acked) / seconds,
      sender,
      cpu,
      serverUsPerDelivery: deliveries > 0 ? (all * 1e6) / deliveries : NaN,
      clientCpu: cpuBetween([...ctx.workers, ctx.senderWorker], a, b, deliveries),
      otherEvents: b.otherEvents - a.otherEvents,
      closedByServer: sum(Object.values(end.closedAfterHello)) - sum(Object.values(start.closedAfterHello)),
      connect,
      ...(summary ? { profile: summary } : {}),
    };
  } finally {
    await stopPacing().catch(() => undefined);
    await settle(ctx, 10_000);
  }
}

/** The group of client sockets that are the receivers of the room of `size`. */
const receiverGroup = (size: number) => `room-${size}`;

/**
 * Tells the closed-loop sender, every 20 ms, how many messages the slowest open receiver of `group` has got,
 * which holds it to `--lag` sends ahead of that receiver. Returns what stops it.
 */
function pace(ctx: Context, group: string): () => Promise<void> {
  let running = true;
  let failure: unknown;
  const loop = (async () => {
    while (running) {
      const slowest = await Promise.all(
        ctx.workers.map((worker) => worker.request<number | null>({ cmd: 'slowest', group })),
      );
      const open = slowest.filter((count): count is number => count !== null);
      if (open.length > 0) await ctx.senderWorker.request({ cmd: 'credit', slowest: Math.min(...open) });
      await sleep(20);
    }
  })().catch((error: unknown) => {
    // A worker that failed: the run reports it when it stops pacing (an unhandled rejection would end it).
    failure = error;
  });
  return async () => {
    running = false;
    await loop;
    if (failure !== undefined) throw failure;
  };
}

function noReceivers(connect: OpenResult): string {
  const failed = Object.entries(connect.failures)
    .map(([key, count]) => `${key}: ${count}`)
    .join(', ');
  return `no receiver could connect in ${Math.round(connect.ms / 1000)} s (${failed})`;
}

/** Connects the members of the room of `size` (one socket each), runs `body`, closes them again. */
export async function withReceivers<T>(
  ctx: Context,
  size: number,
  body: (connect: OpenResult) => Promise<T>,
): Promise<T> {
  const group = receiverGroup(size);
  const connect = await open(ctx, ctx.cast.members.slice(0, size), group);
  try {
    return await body(connect);
  } finally {
    await close(ctx, group);
  }
}

/**
 * Open loop at each rate, `N` receivers: the sender sends at the rate whatever the acks; every receiver
 * notes each message's delay from its send time (in its text); per message, the delay to the last receiver.
 */
export async function openLoop(ctx: Context, connect: OpenResult): Promise<LatencyResult[]> {
  const { options } = ctx;
  const roomId = ctx.cast.rooms.get(options.receivers)!;
  if (connect.opened === 0) throw new Error(noReceivers(connect));
  const results: LatencyResult[] = [];
  for (const rate of options.rates) {
    await settle(ctx);
    await Promise.all(ctx.workers.map((worker) => worker.request({ cmd: 'latency-start' })));
    const before = await snapshot(ctx);
    const sent = await ctx.senderWorker.request<SendStats>(
      {
        cmd: 'open-loop',
        roomId,
        rate,
        durationMs: options.latencyDuration * 1000,
        textBytes: options.textBytes,
      },
      options.latencyDuration * 1000 + 60_000,
    );
    const after = await snapshot(ctx);
    await settle(ctx, 10_000);
    const records = await Promise.all(
      ctx.workers.map((worker) => worker.request<LatencyRecord>({ cmd: 'latency-stop' })),
    );
    const perMessage = new Map<number, { count: number; latest: number }>();
    for (const record of records)
      for (const [index, count, latest] of record.perMessage) {
        const entry = perMessage.get(index) ?? { count: 0, latest: 0 };
        entry.count += count;
        entry.latest = Math.max(entry.latest, latest);
        perMessage.set(index, entry);
      }
    const last = [...perMessage.values()]
      .filter((entry) => entry.count >= connect.opened)
      .map((entry) => entry.latest / 1000)
      .sort((a, b) => a - b);
    const each = records
      .flatMap((record) => record.perDelivery)
      .map((us) => us / 1000)
      .sort((a, b) => a - b);
    results.push({
      rate,
      receivers: connect.opened,
      sent: sent.sent,
      acked: sent.acked,
      refused: sent.refused,
      complete: last.length,
      incomplete: sent.sent - last.length,
      lastP50: percentile(last, 50),
      lastP95: percentile(last, 95),
      lastP99: percentile(last, 99),
      lastMax: last.length > 0 ? last[last.length - 1]! : NaN,
      deliveryP50: percentile(each, 50),
      deliveryP99: percentile(each, 99),
      cpu: cpuBetween(
        [...ctx.system.servers, ...ctx.workers, ctx.senderWorker],
        before,
        after,
        sent.sent * connect.opened,
      ),
    });
  }
  return results;
}

async function memoryOf(proc: Proc): Promise<MemoryUse> {
  if (proc.name === 'nats-server' || proc.name === 'ferretdb' || proc.name === 'postgres')
    return { rss: rssOf(proc.pid) ?? NaN };
  const usage = await proc.request<NodeJS.MemoryUsage>({ cmd: 'gc' }, 60_000);
  return { rss: usage.rss, heapUsed: usage.heapUsed };
}

/** K idle sockets of users in no shared room; memory of each server process after a forced GC, before and after. */
export async function idleMemory(ctx: Context): Promise<IdleResult> {
  const { options } = ctx;
  const entries = Array.from(
    { length: options.idleSockets },
    (_, i) => ctx.cast.loners[i % ctx.cast.loners.length]!,
  );
  await settle(ctx);
  // A first collection lets each process hand freed memory back before the baseline is read.
  await Promise.all(ctx.system.servers.map(memoryOf));
  await pause(ctx, 1_000);
  const before = await Promise.all(ctx.system.servers.map(memoryOf));
  // Heap censuses (with --profile) come after the memory readings, so their snapshots do not show in them.
  const censused = options.profile ? ctx.system.servers.filter((proc) => proc.holdsSockets) : [];
  const census = (proc: Proc) => proc.request<Census>({ cmd: 'heap-census' }, 120_000);
  const censusBefore = await Promise.all(censused.map(census));
  const connect = await open(ctx, entries, 'idle');
  try {
    await pause(ctx, 2_000);
    await settle(ctx);
    const after = await Promise.all(ctx.system.servers.map(memoryOf));
    const sockets = Math.max(1, connect.opened);
    const censusAfter = await Promise.all(censused.map(census));
    const perProcess = ctx.system.servers.map((proc, i) => ({
      process: proc.name,
      holdsSockets: proc.holdsSockets,
      before: before[i]!,
      after: after[i]!,
      // A heap snapshot's own memory shows in RSS: with censuses, RSS per socket is not read.
      rssPerSocket: censused.length > 0 ? NaN : (after[i]!.rss - before[i]!.rss) / sockets,
      ...(after[i]!.heapUsed === undefined
        ? {}
        : { heapPerSocket: (after[i]!.heapUsed! - before[i]!.heapUsed!) / sockets }),
    }));
    const holders = perProcess.filter((p) => p.holdsSockets);
    return {
      requested: options.idleSockets,
      connect,
      perProcess,
      rssPerSocket: sum(holders.map((p) => p.rssPerSocket)),
      heapPerSocket: sum(holders.map((p) => p.heapPerSocket ?? 0)),
      ...(censused.length > 0
        ? {
            census: censused.flatMap((proc, i) =>
              heapShares(proc.name, censusBefore[i]!, censusAfter[i]!, sockets),
            ),
          }
        : {}),
    };
  } finally {
    await close(ctx, 'idle');
  }
}

/**
 * S sockets opening at once (a restarted instance's clients coming back), users in no shared room: how
 * many got `hello` (Socket.IO: connect), how the others failed, how long until all were served.
 */
export async function connectionStorm(ctx: Context): Promise<StormSummary> {
  const { options } = ctx;
  const entries = Array.from(
    { length: options.stormSockets },
    (_, i) => ctx.cast.loners[i % ctx.cast.loners.length]!,
  );
  const hands = deal(entries, ctx.workers.length);
  await settle(ctx);
  const beforeClosed = (await counters(ctx)).closedAfterHello;
  const a = await snapshotCpu(ctx);
  try {
    const results = await Promise.all(
      ctx.workers.map((worker, i) =>
        worker.request<StormResult>(
          {
            cmd: 'storm',
            kind: ctx.kind,
            base: ctx.system.base,
            entries: hands[i],
            group: 'storm',
            timeoutMs: options.stormTimeout * 1000,
          },
          options.stormTimeout * 1000 + 60_000,
        ),
      ),
    );
    const b = await snapshotCpu(ctx);
    // Sockets closed by the server right after their hello show up a moment later.
    await pause(ctx, 1_000);
    const afterClosed = (await counters(ctx)).closedAfterHello;
    const closedAfterHello: Failures = {};
    for (const [code, count] of Object.entries(afterClosed)) {
      const delta = count - (beforeClosed[code] ?? 0);
      if (delta > 0) closedAfterHello[code] = delta;
    }
    const times = results.flatMap((r) => r.times).sort((x, y) => x - y);
    const served = times.length;
    const lastServedMs = times.length > 0 ? times[times.length - 1]! : NaN;
    return {
      requested: entries.length,
      served,
      failures: results.reduce((acc, r) => merge(acc, r.failures), {} as Failures),
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      allServedMs: served === entries.length ? lastServedMs : null,
      lastServedMs,
      closedAfterHello,
      cpu: cpuBetween(ctx.system.servers, a, b, served),
    };
  } finally {
    await close(ctx, 'storm');
  }
}

async function snapshotCpu(ctx: Context): Promise<Snapshot> {
  const cpu = new Map<string, number>();
  for (const proc of ctx.system.servers) cpu.set(proc.name, cpuSecondsOf(proc.pid) ?? NaN);
  return { at: performance.now(), deliveries: 0, otherEvents: 0, acked: 0, cpu };
}
