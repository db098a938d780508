import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { withDatabase } from './infra';
import { toolBinary } from './binaries';
import { accepts, freePort } from './ports';

const READY_TIMEOUT_MS = 20_000;
const OUTPUT_KEPT_CHARS = 8_000;

/**
 * The FerretDB binary (the project's wrapper, tools/ferretdb) a fault suite can start, kill and restart
 * itself (`.tools/bin` first, then PATH), or undefined. Synchronous, so a suite can decide at load time
 * whether it runs.
 */
export function ferretdbBinary(): string | undefined {
  return toolBinary('ferretdb');
}

/**
 * One FerretDB process on a port and a SQLite directory it keeps across restarts: what a store fault
 * suite kills and starts again, which the run's shared server (global setup) must not be.
 */
export interface FerretDbNode {
  /** `mongodb://127.0.0.1:<port>/<database>`. */
  url(database: string): string;
  readonly running: boolean;
  /** Starts the process (again) on the same port and data, and resolves once the port accepts connections. */
  start(): Promise<void>;
  /** SIGKILL, as a crash: resolves once the process is gone. */
  kill(): Promise<void>;
  /** What the process wrote (the last part), to explain failures. */
  log(): string;
  /** Kills the process and removes its data. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class Node implements FerretDbNode {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  constructor(
    private readonly binary: string,
    private readonly port: number,
    private readonly dir: string,
  ) {}

  url(database: string): string {
    return withDatabase(`mongodb://127.0.0.1:${this.port}`, database);
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const args = ['-listen-addr', `127.0.0.1:${this.port}`, '-sqlite-url', `file:${this.dir}/`];
    const child = spawn(this.binary, [...args, '-log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_KEPT_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    process.once('exit', this.killOnExit);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (!this.running) throw new Error(`ferretdb exited while starting:\n${this.output}`);
      if (await accepts(this.port)) return;
      if (Date.now() > deadline)
        throw new Error(
          `ferretdb: port ${this.port} not open within ${READY_TIMEOUT_MS} ms:\n${this.output}`,
        );
      await sleep(20);
    }
  }

  async kill(): Promise<void> {
    if (this.running) this.child?.kill('SIGKILL');
    await this.exited;
    process.removeListener('exit', this.killOnExit);
  }

  log(): string {
    return this.output;
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Starts FerretDB on a free port with a fresh SQLite directory; resolves once it accepts connections. */
export async function startFerretDb(binary = ferretdbBinary()): Promise<FerretDbNode> {
  if (!binary) throw new Error('No ferretdb binary in .tools/bin or on PATH.');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chat-ferretdb-'));
  const node = new Node(binary, await freePort(), dir);
  try {
    await node.start();
  } catch (error) {
    await node.stop();
    throw error;
  }
  return node;
}
