import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { accepts, freePort, testNatsUrl, toolBinary } from '@chat/testing';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const CHAT_MAIN = path.join(REPO_ROOT, 'chat-service', 'dist', 'main.js');
const READY_TIMEOUT_MS = 20_000;
const OUTPUT_KEPT_CHARS = 20_000;

export { freePort };

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How a child process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A child process this test started: its output is kept (the tail) to explain failures, and it is killed
 * with SIGKILL when the test process exits, so a crashed jest worker leaves nothing behind.
 */
export class Child {
  readonly exited: Promise<Exit>;
  private output = '';
  private readonly killOnExit = () => this.process.kill('SIGKILL');

  constructor(
    readonly name: string,
    private readonly process: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_KEPT_CHARS);
    };
    process.stdout?.on('data', keep);
    process.stderr?.on('data', keep);
    globalThis.process.once('exit', this.killOnExit);
    this.exited = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        globalThis.process.removeListener('exit', this.killOnExit);
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** What the process wrote to stdout and stderr (the last part). */
  log(): string {
    return this.output;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.process.kill(signal);
  }

  /** SIGKILL unless it already ended; resolves once it has. */
  async kill(): Promise<Exit> {
    this.signal('SIGKILL');
    return this.exited;
  }
}

/** Resolves once `probe` answers true; fails if the child exits first or the deadline passes. */
async function waitUntil(child: Child, what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (!child.running) throw new Error(`${child.name} exited before ${what}:\n${child.log()}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${child.name}: no ${what} within ${READY_TIMEOUT_MS} ms:\n${child.log()}`);
    await sleep(25);
  }
}

export interface NatsServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * A nats-server (with JetStream) of the suite's own: the services take no subject prefix from the
 * environment, so sharing the run's server would let another suite's users-service answer this suite's
 * credential checks, or its chat instances join this suite's gateway. Without a binary (NATS from a
 * container or NATS_URL only), the run's server is used and other suites may interfere.
 */
export async function startNatsServer(): Promise<NatsServer> {
  const binary = toolBinary('nats-server');
  if (!binary) {
    process.stderr.write('No nats-server binary: the cluster suite shares the run’s NATS server.\n');
    return { url: testNatsUrl()!, stop: async () => undefined };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chat-cluster-nats-'));
  const port = await freePort();
  const child = new Child(
    'nats-server',
    spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const stop = async () => {
    await child.kill();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(child, 'open port', () => accepts(port));
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `nats://127.0.0.1:${port}`, stop };
}

/** A chat-service process: `node chat-service/dist/main.js`, as operators run one of several instances. */
export class ChatProcess extends Child {
  constructor(
    readonly id: string,
    readonly url: string,
    process: ChildProcess,
  ) {
    super(id, process);
  }
}

/**
 * Starts chat-service as a child process on a free port with `env` on top of the given settings, and
 * resolves once its `/readyz` answers 200 (store and bus reachable).
 */
export async function startChatProcess(options: {
  id: string;
  env: Record<string, string>;
}): Promise<ChatProcess> {
  await access(CHAT_MAIN, constants.R_OK).catch(() => {
    throw new Error(`${CHAT_MAIN} is missing: build first (npm test runs tsc -b before jest).`);
  });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const chat = new ChatProcess(
    options.id,
    url,
    spawn(process.execPath, [CHAT_MAIN], {
      cwd: REPO_ROOT,
      // Only what the instance needs: a jest worker's environment carries the test run's settings.
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: String(port),
        PUBLIC_URL: url,
        CHAT_INSTANCE_ID: options.id,
        LOG_LEVEL: 'warn',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  try {
    await waitUntil(chat, 'ready /readyz', async () => (await fetch(`${url}/readyz`)).status === 200);
  } catch (error) {
    await chat.kill();
    throw error;
  }
  return chat;
}
