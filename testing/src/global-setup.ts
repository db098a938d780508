import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as Testcontainers from 'testcontainers';
import type { InfraNeed } from './infra';
import { testInfraEnv } from './infra';
import { toolBinary } from './binaries';
import { accepts, freePort } from './ports';

/** Something this run started, stopped by the global teardown. */
export interface StartedInfra {
  stop(): Promise<void>;
}

/** Shared with global-teardown.ts, which jest loads in this same process. */
export const STARTED_INFRA = Symbol.for('chat.testing.startedInfra');

type Resolution = { url: string; source: string } | { missing: string };

const REPO_ROOT = path.resolve(__dirname, '../..');
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

/** How each need is met, in the order the README gives ("Testing"): environment, local binary, container runtime. */
const SOURCES: Record<
  InfraNeed,
  {
    env: string;
    binary: string;
    args: (port: number, dir: string) => string[];
    url: (host: string, port: number) => string;
    image: { name: string; command: string[]; port: number; readyLog: RegExp };
  }
> = {
  nats: {
    env: 'NATS_URL',
    binary: 'nats-server',
    args: (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir],
    url: (host, port) => `nats://${host}:${port}`,
    image: { name: 'nats:2.12', command: ['-js'], port: 4222, readyLog: /Server is ready/ },
  },
  mongo: {
    env: 'MONGO_URL',
    // The project's wrapper (tools/ferretdb), whose flags differ from upstream FerretDB's.
    binary: 'ferretdb',
    args: (port, dir) => [
      '-listen-addr',
      `127.0.0.1:${port}`,
      '-sqlite-url',
      `file:${dir}/`,
      '-log-level',
      'warn',
    ],
    url: (host, port) => `mongodb://${host}:${port}/chat_test`,
    image: { name: 'mongo:7', command: [], port: 27017, readyLog: /Waiting for connections/ },
  },
};

/**
 * Jest global setup: finds or starts NATS and a MongoDB-protocol server once per run and tells test
 * workers through TEST_NATS_URL / TEST_MONGO_URL (or why not, in TEST_*_MISSING).
 */
export default async function globalSetup(): Promise<void> {
  const started: StartedInfra[] = [];
  (globalThis as Record<symbol, unknown>)[STARTED_INFRA] = started;
  const containers = containerRuntime();
  const summary: string[] = [];
  const missing: string[] = [];
  try {
    for (const need of ['nats', 'mongo'] as const) {
      const found = await resolve(need, started, containers);
      if ('url' in found) {
        process.env[testInfraEnv[need].url] = found.url;
        delete process.env[testInfraEnv[need].missing];
        summary.push(`${need} from ${found.source}`);
      } else {
        delete process.env[testInfraEnv[need].url];
        process.env[testInfraEnv[need].missing] = found.missing;
        missing.push(`${need}: ${found.missing}`);
        summary.push(`${need} missing`);
      }
    }
  } catch (error) {
    await stopAll(started);
    throw error;
  }
  process.stderr.write(`\nTest infrastructure: ${summary.join(', ')}.\n`);
  if (missing.length > 0 && process.env.REQUIRE_INFRA === '1') {
    await stopAll(started);
    throw new Error(`REQUIRE_INFRA=1 but test infrastructure is missing. ${missing.join('. ')}.`);
  }
}

export async function stopAll(started: StartedInfra[]): Promise<void> {
  await Promise.all(started.splice(0).map((infra) => infra.stop()));
}

async function resolve(
  need: InfraNeed,
  started: StartedInfra[],
  containers: () => Promise<ContainerRuntime>,
): Promise<Resolution> {
  const source = SOURCES[need];
  const fromEnv = process.env[source.env];
  if (fromEnv) return { url: fromEnv, source: source.env };

  const reasons = [`${source.env} is not set`];
  const binary = toolBinary(source.binary);
  if (binary) {
    try {
      const dir = await mkdtemp(path.join(os.tmpdir(), `chat-test-${need}-`));
      const port = await freePort();
      started.push(await startProcess(binary, source.args(port, dir), port, dir));
      return {
        url: source.url('127.0.0.1', port),
        source: binary.startsWith(REPO_ROOT + path.sep) ? path.relative(REPO_ROOT, binary) : binary,
      };
    } catch (error) {
      reasons.push(`${binary} did not start: ${(error as Error).message}`);
    }
  } else {
    reasons.push(`no ${source.binary} in .tools/bin or on PATH`);
  }

  const runtime = await containers();
  if (!runtime.ok) return { missing: [...reasons, `no container runtime (${runtime.reason})`].join(', ') };
  const { image } = source;
  try {
    const container = await new runtime.module.GenericContainer(image.name)
      .withCommand(image.command)
      .withExposedPorts(image.port)
      .withWaitStrategy(runtime.module.Wait.forLogMessage(image.readyLog))
      .start();
    started.push({ stop: async () => void (await container.stop()) });
    return { url: source.url(container.getHost(), container.getMappedPort(image.port)), source: image.name };
  } catch (error) {
    return { missing: [...reasons, `${image.name} did not start: ${(error as Error).message}`].join(', ') };
  }
}

type ContainerRuntime = { ok: true; module: typeof Testcontainers } | { ok: false; reason: string };

/** Asks once, and only when a need is still unmet: loading testcontainers and probing takes a moment. */
function containerRuntime(): () => Promise<ContainerRuntime> {
  let answer: Promise<ContainerRuntime> | undefined;
  return () => {
    answer ??= (async () => {
      try {
        const module = await import('testcontainers');
        await module.getContainerRuntimeClient();
        return { ok: true, module } as const;
      } catch (error) {
        return { ok: false, reason: (error as Error).message } as const;
      }
    })();
    return answer;
  };
}

async function startProcess(
  binary: string,
  args: string[],
  port: number,
  dir: string,
): Promise<StartedInfra> {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  // A jest run that dies before its teardown must not leave servers behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await Promise.race([waitForPort(port, () => child.exitCode !== null), spawnError]);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}${stderr ? `; it said: ${stderr.trim()}` : ''}`);
  }
  return { stop };
}

async function waitForPort(port: number, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (hasExited()) throw new Error('it exited');
    if (Date.now() > deadline) throw new Error(`port ${port} did not open in ${READY_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
