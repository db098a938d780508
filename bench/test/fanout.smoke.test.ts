import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { skipForMissing } from '@chat/testing';

/**
 * The fan-out benchmark's `--smoke` run (tiny sizes, one-second runs) as CI runs it: every scenario
 * produced numbers for every system, and every process it started is gone. No timing is asserted: on a
 * shared machine only the shape of the results is stable.
 */

// The benchmark's JSON, read as it is.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const REPO_ROOT = path.resolve(__dirname, '../..');
const ENTRY = path.join(REPO_ROOT, 'bench', 'dist', 'fanout', 'fanout.bench.js');
const RUN_TIMEOUT_MS = 150_000;

function onPath(name: string): boolean {
  const dirs = [path.join(REPO_ROOT, '.tools', 'bin'), ...(process.env.PATH ?? '').split(path.delimiter)];
  return dirs.filter(Boolean).some((dir) => {
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const missingBinaries = ['nats-server', 'ferretdb'].filter((name) => !onPath(name));
const systems =
  missingBinaries.length === 0 ? ['one-process', 'distributed', 'socket.io'] : ['one-process', 'socket.io'];

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the smoke benchmark into `outDir` and resolves with its JSON and what it printed. */
function runSmoke(outDir: string): Promise<{ code: number | null; output: string; result: Json }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('BENCH_')));
  const child = spawn(
    process.execPath,
    [ENTRY, '--smoke', `--out=${outDir}`, `--systems=${systems.join(',')}`],
    { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // The benchmark has a deadline of its own; this one only guards against it hanging anyway.
  const timer = setTimeout(() => child.kill('SIGTERM'), RUN_TIMEOUT_MS - 10_000);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      const file = readdirSync(outDir).find((name) => name.endsWith('.json'));
      resolve({
        code,
        output,
        result: file ? JSON.parse(readFileSync(path.join(outDir, file), 'utf8')) : undefined,
      });
    });
  });
}

const finite = (value: unknown) => typeof value === 'number' && Number.isFinite(value);

describe('the fan-out benchmark, --smoke', () => {
  let outDir: string;
  let run: { code: number | null; output: string; result: Json };

  beforeAll(async () => {
    if (!existsSync(ENTRY))
      throw new Error(`${ENTRY} is missing: build first (npm test runs tsc -b before jest).`);
    outDir = mkdtempSync(path.join(os.tmpdir(), 'fanout-smoke-'));
    run = await runSmoke(outDir);
  }, RUN_TIMEOUT_MS);

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('finishes, and writes markdown, JSON and a plot', () => {
    expect({ code: run.code, tail: run.code === 0 ? '' : run.output.slice(-3000) }).toEqual({
      code: 0,
      tail: '',
    });
    const files = readdirSync(outDir).map((name) => path.extname(name));
    expect(files.sort()).toEqual(['.json', '.md', '.svg']);
    expect(run.output).toContain('## Summary');
    expect(
      readFileSync(
        path.join(
          outDir,
          readdirSync(outDir).find((n) => n.endsWith('.svg'))!,
        ),
        'utf8',
      ),
    ).toMatch(/^<svg [^>]*>[\s\S]*<rect [\s\S]*<\/svg>\n$/);
  });

  it.each(systems)('%s: every scenario produced numbers', (name) => {
    const system = run.result.systems.find((s: Json) => s.system === name);
    expect(system).toBeDefined();
    expect({ skipped: system.skipped, error: system.error }).toEqual({
      skipped: undefined,
      error: undefined,
    });

    const { idle, storm, throughput, latency, sweep } = system;
    expect(idle.error).toBeUndefined();
    expect(idle.connect.opened).toBeGreaterThan(0);
    expect([idle.rssPerSocket, idle.heapPerSocket].every(finite)).toBe(true);

    expect(storm.error).toBeUndefined();
    expect(storm.served).toBeGreaterThan(0);
    expect([storm.p50Ms, storm.p99Ms, storm.lastServedMs].every(finite)).toBe(true);

    expect(throughput.error).toBeUndefined();
    expect(throughput.deliveries).toBeGreaterThan(0);
    expect([throughput.deliveriesPerSecond, throughput.serverUsPerDelivery].every(finite)).toBe(true);
    expect(throughput.cpu.length).toBeGreaterThan(0);
    expect(throughput.cpu.every((c: Json) => finite(c.usPerDelivery) && finite(c.percent))).toBe(true);

    expect(latency.error).toBeUndefined();
    expect(latency.map((l: Json) => l.rate)).toEqual(run.result.options.rates);
    for (const l of latency)
      expect([l.lastP50, l.lastP99, l.lastMax, l.deliveryP99].every(finite)).toBe(true);

    expect(sweep.map((r: Json) => r.roomSize)).toEqual(run.result.options.sweep);
    for (const r of sweep) {
      expect(r.error).toBeUndefined();
      expect(r.deliveries).toBeGreaterThan(0);
      expect(finite(r.serverUsPerDelivery)).toBe(true);
    }
  });

  it('leaves no process behind: every server and client process it started exited', () => {
    const exits = [...run.result.systems.flatMap((s: Json) => s.exits), ...run.result.clientExits];
    // One process per system plus the six of the distributed run, plus the client processes.
    expect(exits.length).toBeGreaterThanOrEqual(systems.length + run.result.options.clientProcs + 1);
    for (const exit of exits) {
      expect(exit.code !== null || exit.signal !== null).toBe(true);
      expect(isAlive(exit.pid)).toBe(false);
    }
  });
});

if (missingBinaries.length > 0)
  skipForMissing(
    'the fan-out benchmark, --smoke, distributed run',
    `no ${missingBinaries.join(' or ')} in .tools/bin or on PATH`,
    () => it('runs the distributed system', () => undefined),
  );
