import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Where the repository's built services and pinned tools live. */
export const REPO_ROOT = path.resolve(__dirname, '../../..');
/** The preload that lets the benchmark ask a server process for a GC, its memory and a CPU profile. */
export const SERVER_HOOK = path.join(__dirname, 'server-hook.js');

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;
const LOG_TAIL_CHARS = 16_000;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CPU seconds (user + system, all threads) `pid` has used so far, from /proc; undefined once it is gone. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Resident set size of `pid` in bytes, from /proc. */
export function rssOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** How a child ended. */
export interface ExitRecord {
  name: string;
  pid: number;
  code: number | null;
  signal: string | null;
}

/** Every process the benchmark started, so a deadline or a crash can end them all. */
const everyChild = new Set<Proc>();

/** SIGKILLs whatever is still running; safe to call from an `exit` handler (synchronous). */
export function killEveryChild(): void {
  for (const child of everyChild) child.signal('SIGKILL');
}

/**
 * One child process: a server (node with the hook, or a binary) or a client worker. Its output is kept
 * (the tail, and a count of lines by level) to explain failures; IPC requests carry an id so replies
 * can be told apart from anything else the child sends.
 */
export class Proc {
  readonly exited: Promise<ExitRecord>;
  readonly pid: number;
  private tail = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Lines of output by winston level (or `other`), for the report's "what the servers said". */
  readonly lineCounts: Record<string, number> = {};
  /** The first few distinct warn/error messages, for evidence: how often, and the first whole line (its cause). */
  readonly notable = new Map<string, { count: number; example: string }>();

  /** Whether client sockets end in this process (the socket memory figure sums these). */
  holdsSockets = false;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`${name} did not start`);
    this.pid = child.pid;
    everyChild.add(this);
    let partial = '';
    const keep = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.tail = (this.tail + text).slice(-LOG_TAIL_CHARS);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.countLine(line);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('message', (message: { benchId?: number; ok?: boolean; result?: unknown; error?: string }) => {
      const waiter = message?.benchId === undefined ? undefined : this.pending.get(message.benchId);
      if (!waiter) return;
      this.pending.delete(message.benchId!);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${this.name}: ${message.error}`));
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        everyChild.delete(this);
        for (const waiter of this.pending.values()) waiter.reject(new Error(`${this.name} exited`));
        this.pending.clear();
        resolve({ name, pid: this.pid, code, signal });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return this.tail;
  }

  /** Sends `command` over IPC and resolves with the child's answer. */
  request<T>(command: Record<string, unknown>, timeoutMs = 120_000): Promise<T> {
    if (!this.running) return Promise.reject(new Error(`${this.name} is not running`));
    const benchId = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(benchId);
        reject(new Error(`${this.name}: no answer to ${String(command.cmd)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(benchId, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ ...command, benchId });
    });
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5_000): Promise<ExitRecord> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  private countLine(line: string): void {
    if (!line.trim()) return;
    let level = 'other';
    let message = line.slice(0, 160);
    try {
      // winston's JSON lines (our services).
      const parsed = JSON.parse(line) as { level?: string; message?: string };
      if (typeof parsed.level === 'string') level = parsed.level;
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // logfmt (FerretDB: `level=WARN msg="..."`) or nats-server's `[WRN]`.
      const logfmt = /\blevel=(\w+)/.exec(line);
      const nats = /\[(INF|WRN|ERR|FTL|DBG)\]/.exec(line);
      if (logfmt) level = logfmt[1]!.toLowerCase();
      else if (nats)
        level = { INF: 'info', WRN: 'warn', ERR: 'error', FTL: 'error', DBG: 'debug' }[nats[1]!]!;
      const msg = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(line);
      if (msg) message = msg[1]!.slice(0, 160);
      else if (nats) message = line.slice(nats.index + 5, nats.index + 165).trim();
    }
    this.lineCounts[level] = (this.lineCounts[level] ?? 0) + 1;
    if ((level === 'warn' || level === 'error') && (this.notable.size < 20 || this.notable.has(message))) {
      const entry = this.notable.get(message) ?? { count: 0, example: line.slice(0, 1_000) };
      entry.count += 1;
      this.notable.set(message, entry);
    }
  }
}

/**
 * A node server process: `script` with `--expose-gc` and the benchmark's hook preloaded (GC, memory and
 * profiles over IPC), stdout and stderr piped, a clean environment plus `env`.
 */
export function forkServer(name: string, script: string, env: Record<string, string>): Proc {
  const child = fork(script, [], {
    cwd: REPO_ROOT,
    execArgv: ['--expose-gc', '-r', SERVER_HOOK],
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return new Proc(name, child);
}

/** A binary (nats-server, FerretDB). */
export function spawnBinary(
  name: string,
  binary: string,
  args: string[],
  as?: { uid: number; gid: number },
): Proc {
  const child = spawn(binary, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...as });
  return new Proc(name, child);
}

/** A client worker: `client-worker.js` in its own process, answering commands over IPC. */
export function forkWorker(name: string): Proc {
  const child = fork(path.join(__dirname, 'client-worker.js'), [], {
    execArgv: ['--max-old-space-size=4096'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Proc(name, child);
}

/** Resolves once `probe` answers true; fails if `proc` exits first or `timeoutMs` passes. */
export async function waitUntil(
  proc: Proc,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running) throw new Error(`${proc.name} exited before ${what}:\n${proc.log()}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${proc.name}: no ${what} within ${timeoutMs} ms:\n${proc.log()}`);
    await sleep(50);
  }
}

export async function answers200(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return response.status === 200;
}
