import type { Failures } from './client-worker';
import type { FanoutOptions } from './options';
import type { ExitRecord } from './processes';
import type { ClosedLoopResult, IdleResult, LatencyResult, ProfileSummary, StormSummary } from './scenarios';
import type { SystemName } from './systems';

/** A scenario's result, or why it has none. */
export type Outcome<T> = T | { error: string };

export interface SystemResult {
  system: SystemName;
  skipped?: string;
  error?: string;
  setup?: { ms: number; users: number; phases: Record<string, number>; retried: Record<string, number> };
  idle?: Outcome<IdleResult>;
  storm?: Outcome<StormSummary>;
  throughput?: Outcome<ClosedLoopResult>;
  latency?: Outcome<LatencyResult[]>;
  sweep: Array<Outcome<ClosedLoopResult> & { roomSize: number }>;
  /** How each server process ended. */
  exits: ExitRecord[];
  /** Lines each server process wrote, by level, and its most frequent warnings and errors. */
  logs: Array<{
    process: string;
    lines: Record<string, number>;
    notable: Array<{ message: string; count: number; example: string }>;
  }>;
  loadBefore: number[];
  loadAfter: number[];
  ms: number;
}

export interface RunResult {
  startedAt: string;
  finishedAt?: string;
  command: string;
  node: string;
  cpus: string;
  /** The code measured: the commit, and the files that differed from it (the working tree is what runs). */
  git: { commit: string; modified: string[] };
  options: FanoutOptions;
  systems: SystemResult[];
  clientExits: ExitRecord[];
  deadlineHit?: boolean;
}

export const labels: Record<SystemName, string> = {
  'one-process': 'one process (`npm start`)',
  distributed: 'distributed (2 chat)',
  'socket.io': 'Socket.IO 4.8',
};

type Failed = { error: string };

/** The result itself, or undefined when there is none (skipped, or failed with an error). */
export function ok<T extends object>(outcome: T | undefined): Exclude<T, Failed> | undefined {
  return outcome !== undefined && !('error' in outcome) ? (outcome as Exclude<T, Failed>) : undefined;
}

function fmt(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function failures(f: Failures | undefined): string {
  const entries = Object.entries(f ?? {});
  return entries.length === 0 ? 'none' : entries.map(([key, count]) => `${key}: ${count}`).join(', ');
}

function why(outcome: object | undefined, system: SystemResult): string {
  if (system.skipped) return `skipped (${system.skipped})`;
  const error =
    outcome && 'error' in outcome && typeof outcome.error === 'string' ? outcome.error : system.error;
  return error ? `failed: ${error.slice(0, 200).replace(/\|/g, '/')}` : '—';
}

/** The markdown report: a summary table per scenario with a column per system, then the detail. */
export function markdown(run: RunResult): string {
  const { options } = run;
  const systems = run.systems;
  const out: string[] = [];
  const row = (cells: string[]) => out.push(`| ${cells.join(' | ')} |`);
  const header = () => {
    row(['scenario', 'figure', ...systems.map((s) => labels[s.system])]);
    row(['---', '---', ...systems.map(() => '---:')]);
  };
  // A failure is spelled out once, in the first row that meets it; the rows after it say "〃".
  const lastWhy = new Map<SystemResult, string>();
  const cells = <T extends object>(
    pick: (s: SystemResult) => T | undefined,
    show: (value: Exclude<T, Failed>) => string,
  ) =>
    systems.map((s) => {
      const value = ok(pick(s));
      if (value !== undefined) {
        lastWhy.delete(s);
        return show(value);
      }
      const reason = why(pick(s), s);
      if (lastWhy.get(s) === reason) return '〃';
      lastWhy.set(s, reason);
      return reason;
    });

  out.push(`# Fan-out benchmark, ${run.startedAt}`, '');
  out.push(`Node ${run.node}, ${run.cpus}. Command: \`${run.command}\`.`, '');
  if (run.options.systems.includes('distributed'))
    out.push(`The distributed run's FerretDB stores on ${run.options.ferretdb}.`, '');
  out.push(
    `Code: commit ${run.git.commit}${
      run.git.modified.length > 0
        ? ` with ${run.git.modified.length} modified file(s): ${run.git.modified.slice(0, 12).join(', ')}${run.git.modified.length > 12 ? ', …' : ''}`
        : ', no local changes'
    }.`,
    '',
  );
  out.push(
    `Parameters: ${options.receivers} receivers, a window of ${options.window} sends at most ${options.lag} ahead of the slowest receiver, ${options.textBytes}-byte texts, ` +
      `${options.duration} s per closed-loop run after ${options.warmup} s warm-up; open loop at ${options.rates.join(', ')} msg/s for ` +
      `${options.latencyDuration} s each; ${options.idleSockets} idle sockets over ${options.idleUsers} users; storm of ` +
      `${options.stormSockets} sockets; sweep ${options.sweep.join(', ')}; receivers in ${options.clientProcs} client processes, ` +
      `the sender in another.${run.deadlineHit ? ' **The run hit its deadline: results are partial.**' : ''}`,
    '',
  );
  out.push(
    `Load average (1 min) before / after each system: ${systems
      .map((s) => `${s.system} ${fmt(s.loadBefore[0], 2)} / ${fmt(s.loadAfter[0], 2)}`)
      .join('; ')}.`,
    '',
  );

  out.push('## Summary', '');
  header();
  const tp = (s: SystemResult) => s.throughput;
  row([
    `throughput, ${options.receivers} receivers`,
    'deliveries/s',
    ...cells(tp, (t) => fmt(t.deliveriesPerSecond)),
  ]);
  row(['', 'sends acked/s', ...cells(tp, (t) => fmt(t.acksPerSecond))]);
  row([
    '',
    'sends refused (window at end)',
    ...cells(tp, (t) => `${fmt(t.sender.refused)} (${t.sender.window})`),
  ]);
  row(['', 'server CPU µs / delivery, all processes', ...cells(tp, (t) => fmt(t.serverUsPerDelivery, 2))]);
  row([
    '',
    'busiest server process, % of a core',
    ...cells(tp, (t) => {
      const busiest = t.cpu
        .filter((c) => c.process !== 'all servers')
        .sort((a, b) => b.percent - a.percent)[0];
      return busiest ? `${busiest.process} ${fmt(busiest.percent)} %` : '—';
    }),
  ]);
  row([
    '',
    'client CPU, % of a core (receivers; sender)',
    ...cells(
      tp,
      (t) =>
        `${t.clientCpu
          .slice(0, -1)
          .map((c) => fmt(c.percent))
          .join(' + ')}; ${fmt(t.clientCpu.at(-1)?.percent)}`,
    ),
  ]);
  row(['', 'receivers connected', ...cells(tp, (t) => `${t.receivers} / ${t.roomSize}`)]);
  row(['', 'receivers closed by the server meanwhile', ...cells(tp, (t) => String(t.closedByServer))]);
  for (const rate of options.rates) {
    const at = (s: SystemResult) => {
      const list = ok(s.latency);
      return list ? list.find((l) => l.rate === rate) : (s.latency as Failed | undefined);
    };
    row([
      `latency at ${rate} msg/s`,
      'send → last receiver p50 / p95 / p99 / max, ms',
      ...cells(at, (l) => `${fmt(l.lastP50)} / ${fmt(l.lastP95)} / ${fmt(l.lastP99)} / ${fmt(l.lastMax)}`),
    ]);
    row([
      '',
      'send → each delivery p50 / p99, ms',
      ...cells(at, (l) => `${fmt(l.deliveryP50)} / ${fmt(l.deliveryP99)}`),
    ]);
    row([
      '',
      'messages not at every receiver (of sent)',
      ...cells(at, (l) => `${l.incomplete} of ${l.sent}`),
    ]);
  }
  const idle = (s: SystemResult) => s.idle;
  row([
    `idle memory, ${options.idleSockets} sockets`,
    'RSS per socket, KB (processes holding sockets)',
    ...cells(idle, (i) => fmt(i.rssPerSocket / 1024, 1)),
  ]);
  row(['', 'JS heap per socket, KB', ...cells(idle, (i) => fmt(i.heapPerSocket / 1024, 1))]);
  row(['', 'sockets opened', ...cells(idle, (i) => `${i.connect.opened} / ${i.requested}`)]);
  const storm = (s: SystemResult) => s.storm;
  row([
    `connection storm, ${options.stormSockets} sockets`,
    'served (hello / connect)',
    ...cells(storm, (t) => `${t.served} / ${t.requested}`),
  ]);
  row(['', 'refused or failed', ...cells(storm, (t) => failures(t.failures))]);
  row(['', 'closed by the server after hello', ...cells(storm, (t) => failures(t.closedAfterHello))]);
  row([
    '',
    'until all served; p50 / p99 to hello, ms',
    ...cells(
      storm,
      (t) => `${t.allServedMs === null ? 'not all' : fmt(t.allServedMs)}; ${fmt(t.p50Ms)} / ${fmt(t.p99Ms)}`,
    ),
  ]);
  for (const size of options.sweep) {
    const at = (s: SystemResult) => s.sweep.find((r) => r.roomSize === size);
    row([`room of ${size}`, 'deliveries/s', ...cells(at, (r) => fmt(r.deliveriesPerSecond))]);
    row(['', 'server CPU µs / delivery', ...cells(at, (r) => fmt(r.serverUsPerDelivery, 2))]);
  }
  out.push('');

  out.push('## CPU per process', '');
  out.push(
    'CPU time of each server process over the measured window (from /proc/<pid>/stat), per delivery and as a ' +
      'share of one core; client processes last. Closed-loop runs by room size, then the open-loop latency runs ' +
      'by rate (over the sending window).',
    '',
  );
  row(['system', 'run', 'process', '% of a core', 'µs / delivery']);
  row(['---', '---', '---', '---:', '---:']);
  for (const s of systems) {
    const runs = [ok(s.throughput), ...s.sweep.map((r) => ok(r))].filter(
      (r, i, all): r is ClosedLoopResult =>
        r !== undefined && all.findIndex((x) => x?.roomSize === r.roomSize) === i,
    );
    for (const r of runs)
      for (const c of [...r.cpu, ...r.clientCpu])
        row([labels[s.system], `room of ${r.roomSize}`, c.process, fmt(c.percent), fmt(c.usPerDelivery, 2)]);
    for (const l of ok(s.latency) ?? [])
      for (const c of l.cpu)
        row([labels[s.system], `${l.rate} msg/s`, c.process, fmt(c.percent), fmt(c.usPerDelivery, 2)]);
  }
  out.push('');

  out.push('## Idle memory per process', '');
  out.push(
    'After a forced GC (twice) in each node process; nats-server and FerretDB: RSS only. The summary sums the ' +
      'processes the sockets end in (marked *): the gateway and the chat instances, or the one process.',
    '',
  );
  row([
    'system',
    'process',
    'RSS before → after, MB',
    'heap before → after, MB',
    'RSS KB / socket',
    'heap KB / socket',
  ]);
  row(['---', '---', '---:', '---:', '---:', '---:']);
  for (const s of systems) {
    const i = ok(s.idle);
    if (!i) continue;
    for (const p of i.perProcess)
      row([
        labels[s.system],
        p.holdsSockets ? `${p.process} *` : p.process,
        `${fmt(p.before.rss / 2 ** 20)} → ${fmt(p.after.rss / 2 ** 20)}`,
        p.before.heapUsed === undefined
          ? '—'
          : `${fmt(p.before.heapUsed / 2 ** 20)} → ${fmt(p.after.heapUsed! / 2 ** 20)}`,
        fmt(p.rssPerSocket / 1024, 1),
        p.heapPerSocket === undefined ? '—' : fmt(p.heapPerSocket / 1024, 1),
      ]);
  }
  out.push('');

  for (const s of systems) {
    const census = ok(s.idle)?.census;
    if (!census) continue;
    out.push(`## Heap per idle socket by kind: ${labels[s.system]}`, '');
    out.push(
      'From heap snapshots (`--profile`) before and after the idle sockets opened, in the processes that hold ' +
        'them: what grew most, per socket. (The snapshots take memory of their own, so a run with `--profile` ' +
        'reports no RSS per idle socket.)',
      '',
    );
    row(['process', 'kind', 'bytes / socket', 'objects / socket']);
    row(['---', '---', '---:', '---:']);
    for (const c of census)
      row([c.process, `\`${c.kind}\``, fmt(c.bytesPerSocket), fmt(c.countPerSocket, 2)]);
    out.push('');
  }

  out.push('## Connection storm: CPU of the servers', '');
  row(['system', 'process', '% of a core over the storm', 'CPU µs per served socket']);
  row(['---', '---', '---:', '---:']);
  for (const s of systems) {
    const t = ok(s.storm);
    if (t) for (const c of t.cpu) row([labels[s.system], c.process, fmt(c.percent), fmt(c.usPerDelivery)]);
  }
  out.push('');

  // The sweep repeats the throughput run at its own size, profile included: one section per profile file.
  const profiles = new Map<string, { roomSize: number; profile: ProfileSummary }>();
  for (const s of systems)
    for (const r of [ok(s.throughput), ...s.sweep.map((run) => ok(run))])
      if (r?.profile) profiles.set(r.profile.file, { roomSize: r.roomSize, profile: r.profile });
  for (const { roomSize, profile } of profiles.values()) {
    out.push(`## CPU profile: one process, throughput, room of ${roomSize}`, '');
    out.push(`${profile.totalMs} ms sampled; \`${profile.file}\`. Top self time:`, '');
    row(['#', 'function', 'where', 'self ms', '%']);
    row(['---:', '---', '---', '---:', '---:']);
    profile.top.forEach((entry, i) =>
      row([String(i + 1), `\`${entry.fn}\``, entry.where || '—', fmt(entry.selfMs), fmt(entry.percent, 1)]),
    );
    out.push('');
  }

  out.push('## Set-up, exits and what the servers logged', '');
  for (const s of systems) {
    const setup = s.setup
      ? `set-up ${fmt(s.setup.ms / 1000, 1)} s for ${s.setup.users} users (${Object.entries(s.setup.phases)
          .map(([phase, ms]) => `${phase} ${fmt(ms / 1000, 1)} s`)
          .join(', ')}; REST calls retried: ${failures(s.setup.retried)})`
      : 'no set-up';
    const connects = [ok(s.throughput)?.connect, ...s.sweep.map((r) => ok(r)?.connect)].filter(Boolean);
    const connectFailures = connects.reduce((acc, c) => {
      for (const [key, count] of Object.entries(c!.failures)) acc[key] = (acc[key] ?? 0) + count;
      return acc;
    }, {} as Failures);
    out.push(
      `- **${labels[s.system]}**: ${s.skipped ? `skipped: ${s.skipped}` : setup}; ${fmt(s.ms / 1000)} s in all; ` +
        `failed openings while connecting receivers (retried): ${failures(connectFailures)}; exits: ` +
        s.exits.map((e) => `${e.name} ${e.signal ?? e.code}`).join(', ') +
        (s.error ? `; error: ${s.error}` : ''),
    );
    for (const log of s.logs) {
      const levels = Object.entries(log.lines)
        .map(([level, count]) => `${level} ${count}`)
        .join(', ');
      if (!levels) continue;
      out.push(
        `  - ${log.process}: ${levels}${log.notable.length ? ': ' + log.notable.map(({ message, count }) => `"${message.replace(/\|/g, '/')}" ×${count}`).join('; ') : ''}`,
      );
    }
  }
  out.push('');
  return out.join('\n');
}

// --- SVG -------------------------------------------------------------------------------------------------

const COLORS = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface Panel {
  title: string;
  categories: string[];
  series: Array<{ name: string; values: Array<number | undefined> }>;
}

/** One panel of grouped bars, `width` wide, drawn at `top`; returns its markup and height. */
function barPanel(panel: Panel, top: number, width: number): { svg: string; height: number } {
  const height = 230;
  const left = 60;
  const plotTop = top + 30;
  const plotHeight = 150;
  const plotWidth = width - left - 20;
  const values = panel.series
    .flatMap((s) => s.values)
    .filter((v): v is number => v !== undefined && Number.isFinite(v));
  const max = Math.max(1e-9, ...values) * 1.15;
  const parts: string[] = [];
  parts.push(
    `<text x="${left}" y="${top + 18}" font-size="14" font-weight="bold">${escape(panel.title)}</text>`,
  );
  parts.push(
    `<line x1="${left}" y1="${plotTop + plotHeight}" x2="${left + plotWidth}" y2="${plotTop + plotHeight}" stroke="#888"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const value = (max * i) / 4;
    const y = plotTop + plotHeight - (plotHeight * i) / 4;
    parts.push(`<line x1="${left}" y1="${y}" x2="${left + plotWidth}" y2="${y}" stroke="#eee"/>`);
    parts.push(
      `<text x="${left - 6}" y="${y + 4}" font-size="10" text-anchor="end">${compact(value)}</text>`,
    );
  }
  const groupWidth = plotWidth / Math.max(1, panel.categories.length);
  const barWidth = Math.min(40, (groupWidth * 0.8) / Math.max(1, panel.series.length));
  panel.categories.forEach((category, c) => {
    const groupLeft = left + c * groupWidth + (groupWidth - barWidth * panel.series.length) / 2;
    panel.series.forEach((series, s) => {
      const value = series.values[c];
      const x = groupLeft + s * barWidth;
      if (value === undefined || !Number.isFinite(value)) {
        parts.push(
          `<text x="${x + barWidth / 2}" y="${plotTop + plotHeight - 4}" font-size="9" text-anchor="middle">n/a</text>`,
        );
        return;
      }
      const h = Math.max(0, (plotHeight * value) / max);
      parts.push(
        `<rect x="${x + 1}" y="${plotTop + plotHeight - h}" width="${barWidth - 2}" height="${h}" fill="${COLORS[s % COLORS.length]}"/>`,
      );
      parts.push(
        `<text x="${x + barWidth / 2}" y="${plotTop + plotHeight - h - 3}" font-size="9" text-anchor="middle">${compact(value)}</text>`,
      );
    });
    parts.push(
      `<text x="${left + c * groupWidth + groupWidth / 2}" y="${plotTop + plotHeight + 14}" font-size="11" text-anchor="middle">${escape(category)}</text>`,
    );
  });
  return { svg: parts.join('\n'), height };
}

function compact(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 0 : 1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e4 ? 0 : 1)}k`;
  if (value >= 10) return value.toFixed(0);
  return value.toFixed(value >= 1 ? 1 : 2);
}

/** A plot of the headline figures: one panel per scenario, a bar per system. */
export function svg(run: RunResult): string {
  const width = 760;
  const systems = run.systems;
  const names = systems.map((s) => labels[s.system].replace(/ \(.*\)$/, ''));
  const panels: Panel[] = [
    {
      title: `Throughput: deliveries/s, ${run.options.receivers} receivers, window ${run.options.window}`,
      categories: ['deliveries/s'],
      series: systems.map((s, i) => ({ name: names[i]!, values: [ok(s.throughput)?.deliveriesPerSecond] })),
    },
    {
      title: 'Open loop: send → last receiver p99, ms',
      categories: run.options.rates.map((rate) => `${rate} msg/s`),
      series: systems.map((s, i) => ({
        name: names[i]!,
        values: run.options.rates.map((rate) => ok(s.latency)?.find((l) => l.rate === rate)?.lastP99),
      })),
    },
    {
      title: `Idle memory per socket, KB (${run.options.idleSockets} sockets, after GC)`,
      categories: ['RSS', 'JS heap'],
      series: systems.map((s, i) => {
        const idle = ok(s.idle);
        return {
          name: names[i]!,
          values: [idle && idle.rssPerSocket / 1024, idle && idle.heapPerSocket / 1024],
        };
      }),
    },
    {
      title: `Connection storm, ${run.options.stormSockets} sockets: served, and ms until the last hello`,
      categories: ['served', 'ms to last hello'],
      series: systems.map((s, i) => {
        const storm = ok(s.storm);
        return { name: names[i]!, values: [storm?.served, storm?.lastServedMs] };
      }),
    },
    {
      title: 'Room-size sweep: server CPU µs per delivery',
      categories: run.options.sweep.map((size) => `room of ${size}`),
      series: systems.map((s, i) => ({
        name: names[i]!,
        values: run.options.sweep.map(
          (size) => ok(s.sweep.find((r) => r.roomSize === size))?.serverUsPerDelivery,
        ),
      })),
    },
    {
      title: 'Room-size sweep: deliveries/s',
      categories: run.options.sweep.map((size) => `room of ${size}`),
      series: systems.map((s, i) => ({
        name: names[i]!,
        values: run.options.sweep.map(
          (size) => ok(s.sweep.find((r) => r.roomSize === size))?.deliveriesPerSecond,
        ),
      })),
    },
  ];
  const parts: string[] = [];
  let top = 40;
  for (const panel of panels) {
    const drawn = barPanel(panel, top, width);
    parts.push(drawn.svg);
    top += drawn.height;
  }
  const legend = names
    .map(
      (name, i) =>
        `<rect x="${60 + i * 180}" y="12" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>` +
        `<text x="${78 + i * 180}" y="22" font-size="12">${escape(name)}</text>`,
    )
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top + 10}" viewBox="0 0 ${width} ${top + 10}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    legend,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
