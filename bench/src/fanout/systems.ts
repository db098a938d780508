import { execFileSync } from 'node:child_process';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { accepts, freePort, toolBinary } from '@chat/testing';
import {
  answers200,
  forkServer,
  REPO_ROOT,
  spawnBinary,
  waitUntil,
  type ExitRecord,
  type Proc,
} from './processes';

export const systemNames = ['one-process', 'distributed', 'socket.io'] as const;
export type SystemName = (typeof systemNames)[number];
export const ferretBackends = ['postgresql', 'sqlite'] as const;
export type FerretBackend = (typeof ferretBackends)[number];

/** A system under test, running: where clients connect, and the server processes whose cost is measured. */
export interface RunningSystem {
  name: SystemName;
  /** The base URL clients use (the gateway's for ours). */
  base: string;
  /** Every server process, node or not. */
  servers: Proc[];
  stop(): Promise<ExitRecord[]>;
}

/**
 * Settings the benchmark gives our services. Limits meant for abusive clients are set out of reach: the
 * benchmark's one sender keeps 200 sends in flight, far past the default 20 frames/s per socket and 10
 * messages/s per user; every client (signing up, logging in, opening sockets) comes from 127.0.0.1; idle
 * sockets are 20 per user.
 * Cheap password hashing keeps the set-up of thousands of users short. A setting a version of a service
 * does not know is ignored.
 */
export const OUR_ENV: Readonly<Record<string, string>> = Object.freeze({
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  BCRYPT_COST: '4',
  RATE_LIMIT_PER_MINUTE: '1000000000',
  SIGNUPS_PER_ADDRESS_PER_HOUR: '1000000000',
  LOGIN_MAX_FAILURES_PER_ADDRESS: '1000000000',
  MESSAGES_PER_USER_PER_SECOND: '1000000',
  MESSAGES_PER_USER_BURST: '1000000',
  WS_MAX_SOCKETS_PER_USER: '100000',
  SIGNUP_QUEUE_MAX: '10000',
  WS_RATE_LIMIT_PER_SECOND: '1000000',
  WS_RATE_LIMIT_BURST: '1000000',
  WS_MAX_PENDING_FRAMES: '256',
  ACCESS_TOKEN_TTL_SECONDS: '3600',
  DRAIN_SPREAD_MS: '0',
  // Socket.IO's defaults give a client 45 s to answer a ping (pingInterval 25 s + pingTimeout 20 s); ours
  // (5 s) would drop a receiver process that falls that far behind parsing the throughput run's backlog,
  // since a Node client answers a ping only once its event loop reaches it (a browser answers at once).
  HEARTBEAT_INTERVAL_MS: '25000',
});

const dist = (pkg: string, file = 'main.js') => path.join(REPO_ROOT, pkg, 'dist', file);

/** The binaries the distributed run needs with `backend`. */
function distributedBinaries(backend: FerretBackend): string[] {
  return ['nats-server', 'ferretdb', ...(backend === 'postgresql' ? ['initdb', 'postgres'] : [])];
}

/** Why the distributed run cannot start here, or undefined when it can. */
export function distributedMissing(backend: FerretBackend): string | undefined {
  const missing = distributedBinaries(backend).filter((name) => !toolBinary(name));
  return missing.length > 0 ? `no ${missing.join(' or ')} in .tools/bin or on PATH` : undefined;
}

/** Stops `procs` latest first (each SIGTERM, then SIGKILL after a grace), then removes `dirs`. */
function stopper(procs: Proc[], dirs: string[]): () => Promise<ExitRecord[]> {
  return async () => {
    const exits: ExitRecord[] = [];
    // A service's own budget to stop (SHUTDOWN_TIMEOUT_MS, 10 s by default) and a little more: chat-service
    // drains its sockets, then holds presence for its grace before it lets the users go offline.
    for (const proc of [...procs].reverse()) exits.push(await proc.stop(12_000));
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    return exits;
  };
}

/** Starts what the steps push, and on a failed start stops whatever had started. */
async function starting(
  name: SystemName,
  build: (procs: Proc[], dirs: string[]) => Promise<{ base: string }>,
): Promise<RunningSystem> {
  const procs: Proc[] = [];
  const dirs: string[] = [];
  const stop = stopper(procs, dirs);
  try {
    const { base } = await build(procs, dirs);
    return { name, base, servers: procs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `npm start`: `node standalone/dist/main.js` with a fresh DATA_DIR (the embedded store, the in-process bus). */
function startOneProcess(extraEnv: Record<string, string>): Promise<RunningSystem> {
  return starting('one-process', async (procs, dirs) => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fanout-data-'));
    dirs.push(dataDir);
    const port = await freePort();
    const proc = forkServer('one-process', dist('standalone'), {
      ...OUR_ENV,
      ...extraEnv,
      PORT: String(port),
      DATA_DIR: dataDir,
    });
    proc.holdsSockets = true;
    procs.push(proc);
    const base = `http://127.0.0.1:${port}`;
    await waitUntil(proc, 'ready /readyz', () => answers200(`${base}/readyz`));
    return { base };
  });
}

/**
 * PostgreSQL of the benchmark's own for FerretDB, in a fresh directory with default settings; as the
 * `postgres` user when the benchmark runs as root (PostgreSQL refuses to run as root). Answers its URL.
 */
async function startPostgres(procs: Proc[], dirs: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fanout-pg-'));
  dirs.push(dir);
  const as = process.getuid?.() === 0 ? await accountOf('postgres') : undefined;
  if (as) await chown(dir, as.uid, as.gid);
  execFileSync(toolBinary('initdb')!, ['-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres'], {
    stdio: 'ignore',
    ...as,
  });
  const port = await freePort();
  const postgres = spawnBinary(
    'postgres',
    toolBinary('postgres')!,
    ['-D', `${dir}/data`, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'],
    as,
  );
  procs.push(postgres);
  await waitUntil(postgres, 'open port', () => accepts(port));
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** The uid and gid of a local account, from /etc/passwd. */
async function accountOf(name: string): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8'))
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`));
  if (!line) throw new Error(`no ${name} account to run PostgreSQL as (it refuses to run as root)`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * The production topology on one machine, as standalone/test/support/cluster.ts builds it but every part
 * in a process of its own: nats-server (JetStream) and FerretDB (on PostgreSQL or SQLite) of the
 * benchmark's own, users-service, auth-service, two chat-service instances and the gateway, each its
 * `dist/main.js`.
 */
function startDistributed(extraEnv: Record<string, string>, backend: FerretBackend): Promise<RunningSystem> {
  return starting('distributed', async (procs, dirs) => {
    const missing = distributedMissing(backend);
    if (missing) throw new Error(missing);
    const natsBinary = toolBinary('nats-server')!;
    const ferretBinary = toolBinary('ferretdb')!;

    const natsDir = await mkdtemp(path.join(os.tmpdir(), 'fanout-nats-'));
    dirs.push(natsDir);
    const natsPort = await freePort();
    const nats = spawnBinary('nats-server', natsBinary, [
      '-a',
      '127.0.0.1',
      '-p',
      String(natsPort),
      '-js',
      '-sd',
      natsDir,
    ]);
    procs.push(nats);
    const ferretPort = await freePort();
    let storage: string[];
    if (backend === 'postgresql') {
      storage = ['-postgresql-url', await startPostgres(procs, dirs)];
    } else {
      const ferretDir = await mkdtemp(path.join(os.tmpdir(), 'fanout-ferret-'));
      dirs.push(ferretDir);
      storage = ['-sqlite-url', `file:${ferretDir}/`];
    }
    const ferret = spawnBinary('ferretdb', ferretBinary, [
      '-listen-addr',
      `127.0.0.1:${ferretPort}`,
      ...storage,
      '-log-level',
      'warn',
    ]);
    procs.push(ferret);
    await waitUntil(nats, 'open port', () => accepts(natsPort));
    await waitUntil(ferret, 'open port', () => accepts(ferretPort));

    const env = {
      ...OUR_ENV,
      ...extraEnv,
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      MONGO_URL: `mongodb://127.0.0.1:${ferretPort}/fanout`,
    };
    const service = async (name: string, pkg: string, extra: Record<string, string> = {}, port?: number) => {
      port ??= await freePort();
      const url = `http://127.0.0.1:${port}`;
      const proc = forkServer(name, dist(pkg), { ...env, PORT: String(port), ...extra });
      proc.holdsSockets = name === 'gateway' || pkg === 'chat-service';
      procs.push(proc);
      return { proc, url, ready: () => waitUntil(proc, 'ready /readyz', () => answers200(`${url}/readyz`)) };
    };
    const users = await service('users', 'users-service');
    const auth = await service('auth', 'auth-service');
    await Promise.all([users.ready(), auth.ready()]);
    const chats = [];
    for (const id of ['chat-a', 'chat-b']) {
      const port = await freePort();
      chats.push(
        await service(
          id,
          'chat-service',
          { CHAT_INSTANCE_ID: id, PUBLIC_URL: `http://127.0.0.1:${port}` },
          port,
        ),
      );
    }
    await Promise.all(chats.map((chat) => chat.ready()));
    const gateway = await service('gateway', 'gateway', {
      USERS_URL: users.url,
      AUTH_URL: auth.url,
      CHAT_URLS: chats.map((chat) => chat.url).join(','),
    });
    await gateway.ready();
    return { base: gateway.url };
  });
}

/** The peer: socketio-server.js in a process of its own. */
function startSocketIo(secret: string): Promise<RunningSystem> {
  return starting('socket.io', async (procs) => {
    const port = await freePort();
    const proc = forkServer('socket.io', path.join(__dirname, 'socketio-server.js'), {
      HOST: '127.0.0.1',
      PORT: String(port),
      BENCH_SIO_SECRET: secret,
    });
    proc.holdsSockets = true;
    procs.push(proc);
    const base = `http://127.0.0.1:${port}`;
    await waitUntil(proc, 'ready /healthz', () => answers200(`${base}/healthz`));
    return { base };
  });
}

/** Starts `name`; `extraEnv` goes to our services on top of {@link OUR_ENV}. */
export function startSystem(
  name: SystemName,
  sioSecret: string,
  backend: FerretBackend,
  extraEnv: Record<string, string> = {},
): Promise<RunningSystem> {
  switch (name) {
    case 'one-process':
      return startOneProcess(extraEnv);
    case 'distributed':
      return startDistributed(extraEnv, backend);
    case 'socket.io':
      return startSocketIo(sioSecret);
  }
}
