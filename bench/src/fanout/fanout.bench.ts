/**
 * Fan-out, latency, socket memory and connection storms: our system in both run modes (one process, as
 * `npm start` runs it, and distributed: gateway, users, auth, two chat-service instances, nats-server,
 * FerretDB) side by side with Socket.IO 4.8, in one invocation, on loopback (issue 8; bench/README.md,
 * "Fan-out").
 *
 * Every server runs in a process of its own (node with a preloaded hook that answers GC, memory and CPU
 * profile requests over IPC); clients run in other processes (receivers spread over `--client-procs`, the
 * sender alone), so no client shares an event loop with what it measures. CPU per process comes from
 * /proc/<pid>/stat. Bounded: every run has a fixed duration, and a hard deadline kills every child and
 * fails the run. Results: markdown on stdout and in bench/results/fanout-<timestamp>.md, the same as
 * .json, and a plot (.svg).
 *
 * Run: `npm run bench:fanout` (defaults, several minutes), `npm run bench:fanout -- --smoke` (tiny, under
 * a minute), `-- --help` for every flag.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClientKind } from './client-worker';
import { parseOptions, usage, type FanoutOptions } from './options';
import { forkWorker, killEveryChild, REPO_ROOT, type ExitRecord, type Proc } from './processes';
import { markdown, svg, type Outcome, type RunResult, type SystemResult } from './report';
import {
  closedLoop,
  connectionStorm,
  idleMemory,
  openLoop,
  withReceivers,
  type ClosedLoopResult,
  type Context,
} from './scenarios';
import { castOurs, castSocketIo } from './setup';
import { distributedMissing, startSystem, type RunningSystem, type SystemName } from './systems';

const log = (message: string) =>
  process.stderr.write(`[fanout ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

async function attempt<T>(what: string, task: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return await task();
  } catch (error) {
    log(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    return { error: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  }
}

async function runSystem(
  name: SystemName,
  options: FanoutOptions,
  workers: Proc[],
  senderWorker: Proc,
  profileDir: string,
): Promise<SystemResult> {
  const started = Date.now();
  const result: SystemResult = {
    system: name,
    sweep: [],
    exits: [],
    logs: [],
    loadBefore: os.loadavg(),
    loadAfter: [],
    ms: 0,
  };
  if (name === 'distributed') {
    const missing = distributedMissing(options.ferretdb);
    if (missing) {
      result.skipped = missing;
      log(`${name}: skipped, ${missing}`);
      return result;
    }
  }
  const secret = randomBytes(32).toString('hex');
  const kind: ClientKind = name === 'socket.io' ? 'sio' : 'ours';
  let system: RunningSystem | undefined;
  try {
    log(`${name}: starting`);
    // A smoke run lets users go offline sooner, so stopping is not held up by presence's grace.
    system = await startSystem(
      name,
      secret,
      options.ferretdb,
      options.smoke ? { PRESENCE_GRACE_MS: '200' } : {},
    );
    const sizes = [...new Set([options.receivers, ...options.sweep])];
    log(`${name}: setting up ${Math.max(...sizes) + options.idleUsers + 1} users`);
    const cast =
      kind === 'sio'
        ? castSocketIo(secret, sizes, options.idleUsers)
        : await castOurs(system.base, sizes, options.idleUsers, options.setupConcurrency);
    result.setup = {
      ms: cast.setupMs,
      users: cast.members.length + cast.loners.length + 1,
      phases: cast.phases,
      retried: cast.retried,
    };
    await senderWorker.request({
      cmd: 'sender-open',
      kind,
      base: system.base,
      token: cast.sender.token,
      rooms: cast.sender.rooms ?? [],
      timeoutMs: 15_000,
    });
    const ctx: Context = { options, system, kind, workers, senderWorker, cast, profileDir };

    log(`${name}: idle memory, ${options.idleSockets} sockets`);
    result.idle = await attempt(`${name} idle memory`, () => idleMemory(ctx));
    log(`${name}: connection storm, ${options.stormSockets} sockets`);
    result.storm = await attempt(`${name} storm`, () => connectionStorm(ctx));

    log(`${name}: throughput and latency, ${options.receivers} receivers`);
    const connected = await attempt(`${name} receivers`, () =>
      withReceivers(ctx, options.receivers, async (connect) => {
        result.throughput = await attempt(`${name} throughput`, () =>
          closedLoop(ctx, options.receivers, connect, options.profile && name === 'one-process'),
        );
        result.latency = await attempt(`${name} latency`, () => openLoop(ctx, connect));
      }),
    );
    if ('error' in (connected ?? {})) {
      result.throughput ??= connected as { error: string };
      result.latency ??= connected as { error: string };
    }
    for (const size of options.sweep) {
      if (size === options.receivers) {
        result.sweep.push({ ...(result.throughput ?? { error: 'no throughput run' }), roomSize: size });
        continue;
      }
      log(`${name}: sweep, room of ${size}`);
      const outcome: Outcome<ClosedLoopResult> = await attempt(`${name} sweep ${size}`, () =>
        withReceivers(ctx, size, (connect) =>
          closedLoop(ctx, size, connect, options.profile && name === 'one-process'),
        ),
      );
      result.sweep.push({ ...outcome, roomSize: size });
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message.split('\n').slice(0, 3).join(' ') : String(error);
    log(`${name}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    if (system) {
      log(`${name}: stopping`);
      result.exits = await system.stop();
      result.logs = system.servers.map((proc) => ({
        process: proc.name,
        lines: proc.lineCounts,
        notable: [...proc.notable.entries()]
          .sort((a, b) => b[1].count - a[1].count)
          .slice(0, 6)
          .map(([message, { count, example }]) => ({ message, count, example })),
      }));
    }
    result.loadAfter = os.loadavg();
    result.ms = Date.now() - started;
  }
  return result;
}

/** The commit measured and the tracked files that differ from it (read-only git commands). */
function gitState(): { commit: string; modified: string[] } {
  const git = (args: string[]) =>
    execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    return {
      commit: git(['rev-parse', '--short', 'HEAD']).trim(),
      modified: git(['status', '--porcelain', '--untracked-files=no'])
        .split('\n')
        .filter(Boolean)
        .map((line) => line.slice(3)),
    };
  } catch {
    return { commit: 'unknown', modified: [] };
  }
}

/** `value` as JSON, formatted by prettier with the repository's settings when prettier is there. */
async function prettyJson(value: unknown, file: string): Promise<string> {
  const json = `${JSON.stringify(value, null, 2)}\n`;
  try {
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(`${file}.json`)) ?? {};
    return await prettier.format(json, { ...config, parser: 'json' });
  } catch {
    return json;
  }
}

function commandLine(argv: string[]): string {
  const env = Object.entries(process.env)
    .filter(([key]) => key.startsWith('BENCH_'))
    .map(([key, value]) => `${key}=${value} `)
    .join('');
  return `${env}npm run bench:fanout${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(usage());
    return;
  }
  const options = parseOptions(argv, process.env);
  mkdirSync(options.outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outBase = path.join(options.outDir, `fanout-${stamp}`);
  const profileDir = mkdtempSync(path.join(os.tmpdir(), 'fanout-profiles-'));
  const cpus = os.cpus();
  const run: RunResult = {
    startedAt: new Date().toISOString(),
    command: commandLine(argv),
    node: process.version,
    cpus: `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}`,
    git: gitState(),
    options,
    systems: [],
    clientExits: [],
  };
  const write = (json = `${JSON.stringify(run, null, 2)}\n`) => {
    writeFileSync(`${outBase}.json`, json);
    writeFileSync(`${outBase}.md`, `${markdown(run)}\n`);
    writeFileSync(`${outBase}.svg`, svg(run));
  };
  // Formatted as the repository's prettier settings say, so results kept in bench/results pass `npm run lint`.
  const writeFormatted = async () => write(await prettyJson(run, outBase));

  process.on('exit', killEveryChild);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      log(`${signal}: killing every child`);
      killEveryChild();
      process.exit(130);
    });
  const deadline = setTimeout(() => {
    log(`the run exceeded its deadline of ${options.deadline} s: killing every child`);
    run.deadlineHit = true;
    try {
      write();
    } finally {
      killEveryChild();
      process.exit(1);
    }
  }, options.deadline * 1000);

  const workers = Array.from({ length: options.clientProcs }, (_, i) => forkWorker(`client-${i + 1}`));
  const senderWorker = forkWorker('sender');
  const clients = [...workers, senderWorker];
  try {
    for (const name of options.systems) {
      run.systems.push(await runSystem(name, options, workers, senderWorker, profileDir));
      await writeFormatted();
    }
  } finally {
    const exits: ExitRecord[] = await Promise.all(clients.map((client) => client.stop(3_000)));
    run.clientExits = exits;
    clearTimeout(deadline);
  }
  run.finishedAt = new Date().toISOString();
  await writeFormatted();
  console.log(markdown(run));
  log(`wrote ${outBase}.md, .json and .svg${options.profile ? `; profiles in ${profileDir}` : ''}`);
}

main().catch((error: unknown) => {
  console.error(error);
  killEveryChild();
  process.exit(1);
});
