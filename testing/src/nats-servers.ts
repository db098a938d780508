import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { toolBinary } from './binaries';
import { freePort } from './ports';

const READY_TIMEOUT_MS = 20_000;
const OUTPUT_KEPT_CHARS = 8_000;

/**
 * The nats-server binary a fault suite can start, stop and restart itself (`.tools/bin` first, then PATH),
 * or undefined. Synchronous, so a suite can decide at load time whether it runs.
 */
export function natsServerBinary(): string | undefined {
  return toolBinary('nats-server');
}

/** One nats-server process with JetStream, on ports and a store directory it keeps across restarts. */
export interface NatsNode {
  readonly name: string;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** `127.0.0.1:<port>`, as a client reports the server it is on. */
  readonly hostPort: string;
  readonly running: boolean;
  /** Starts the process (again) on the same ports and store, and resolves once `/healthz` answers 200. */
  start(): Promise<void>;
  /** SIGKILL, as a crash: resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: the connections stay open but nothing answers. */
  pause(): void;
  resume(): void;
  /** A monitoring endpoint's JSON (`/jsz?streams=true`, `/connz`, ...). */
  monitor<T = unknown>(pathAndQuery: string): Promise<T>;
  /** What the process wrote (the last part), to explain failures. */
  log(): string;
}

/** Nodes of one cluster (or one node alone); `url` lists them all in order, as NATS_URL would. */
export interface NatsNodes {
  nodes: NatsNode[];
  url: string;
  /** Kills every node and removes their stores. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class Node implements NatsNode {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  constructor(
    private readonly binary: string,
    readonly name: string,
    private readonly port: number,
    private readonly httpPort: number,
    private readonly configFile: string,
    private readonly env: Record<string, string> = {},
  ) {}

  get url(): string {
    return `nats://${this.hostPort}`;
  }

  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const child = spawn(this.binary, ['-c', this.configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
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
      if (!this.running) throw new Error(`${this.name} exited while starting:\n${this.output}`);
      const healthy = await fetch(`http://127.0.0.1:${this.httpPort}/healthz`, {
        signal: AbortSignal.timeout(1_000),
      }).then(
        (response) => response.ok,
        () => false,
      );
      if (healthy) return;
      if (Date.now() > deadline)
        throw new Error(`${this.name}: /healthz not 200 within ${READY_TIMEOUT_MS} ms:\n${this.output}`);
      await sleep(50);
    }
  }

  async kill(): Promise<void> {
    if (this.running) this.child?.kill('SIGKILL');
    await this.exited;
    process.removeListener('exit', this.killOnExit);
  }

  pause(): void {
    if (this.running) this.child?.kill('SIGSTOP');
  }

  resume(): void {
    if (this.running) this.child?.kill('SIGCONT');
  }

  async monitor<T>(pathAndQuery: string): Promise<T> {
    const response = await fetch(`http://127.0.0.1:${this.httpPort}${pathAndQuery}`, {
      signal: AbortSignal.timeout(2_000),
    });
    if (!response.ok) throw new Error(`${this.name} ${pathAndQuery}: ${response.status}`);
    return (await response.json()) as T;
  }

  log(): string {
    return this.output;
  }
}

/**
 * Starts `count` nats-server processes with JetStream, each with a `server_name`, its own store directory
 * and a monitoring port; with more than one they form a cluster over routes. Each can be killed, paused
 * and restarted on the same ports and store, which is what a fault suite needs and the run's shared
 * server (global setup) must not do. Resolves once every node answers `/healthz` (JetStream current).
 */
export async function startNatsNodes(
  count: number,
  binary = natsServerBinary(),
  options: {
    /** More configuration for every node (an `authorization` block, say); `$VAR`s are read from `env`. */
    config?: string;
    env?: Record<string, string>;
  } = {},
): Promise<NatsNodes> {
  if (!binary) throw new Error('No nats-server binary in .tools/bin or on PATH.');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chat-nats-nodes-'));
  const ports = await Promise.all(
    Array.from({ length: count }, async () => ({
      client: await freePort(),
      http: await freePort(),
      cluster: await freePort(),
    })),
  );
  const routes = ports.map((port) => `nats-route://127.0.0.1:${port.cluster}`).join(', ');
  const nodes = await Promise.all(
    ports.map(async (port, index) => {
      const name = `n${index + 1}`;
      const configFile = path.join(dir, `${name}.conf`);
      const lines = [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${port.client}`,
        `http: 127.0.0.1:${port.http}`,
        `jetstream { store_dir: ${JSON.stringify(path.join(dir, name))} }`,
        ...(count > 1
          ? [`cluster { name: faults, listen: 127.0.0.1:${port.cluster}, routes: [${routes}] }`]
          : []),
        ...(options.config ? [options.config] : []),
      ];
      await writeFile(configFile, `${lines.join('\n')}\n`);
      return new Node(binary, name, port.client, port.http, configFile, options.env);
    }),
  );
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((node) => node.start()));
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, url: nodes.map((node) => node.url).join(','), stop };
}
