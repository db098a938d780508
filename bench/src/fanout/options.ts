import path from 'node:path';
import { ferretBackends, systemNames, type FerretBackend, type SystemName } from './systems';

/** What one run of the fan-out benchmark does; every number has a flag and an environment variable. */
export interface FanoutOptions {
  smoke: boolean;
  systems: SystemName[];
  /** Receivers in the throughput and latency room (N). */
  receivers: number;
  /** Sends the closed-loop sender keeps in flight. */
  window: number;
  /** Sends the closed-loop sender may be ahead of the slowest open receiver, at most. */
  lag: number;
  textBytes: number;
  /** Seconds measured per closed-loop run (throughput, each sweep size), after `warmup`. */
  duration: number;
  warmup: number;
  /** Open-loop send rates, messages per second. */
  rates: number[];
  /** Seconds per open-loop rate. */
  latencyDuration: number;
  /** Idle authenticated sockets (K) and how many users hold them. */
  idleSockets: number;
  idleUsers: number;
  /** Sockets opening at once in the storm (S), and how long it may take. */
  stormSockets: number;
  stormTimeout: number;
  /** Room sizes of the sweep. */
  sweep: number[];
  /** Client processes holding the receivers (the sender has one of its own). */
  clientProcs: number;
  /** Sockets each client process opens at once while connecting receivers and idle sockets. */
  connectConcurrency: number;
  /** Seconds after which no more receivers or idle sockets are tried (the run goes on with those open). */
  connectDeadline: number;
  /** REST calls at once while signing users up. */
  setupConcurrency: number;
  /** A CPU profile of the one-process run during each closed-loop run (throughput and the sweep). */
  profile: boolean;
  outDir: string;
  /** Seconds after which everything is killed and the run fails. */
  deadline: number;
  /** The backend of the distributed run's FerretDB. */
  ferretdb: FerretBackend;
}

interface Setting {
  key: keyof FanoutOptions;
  env: string;
  flag: string;
  kind: 'number' | 'numbers' | 'string' | 'systems' | 'backend';
  help: string;
}

const settings: Setting[] = [
  {
    key: 'receivers',
    env: 'BENCH_RECEIVERS',
    flag: 'receivers',
    kind: 'number',
    help: 'receivers in the room (N)',
  },
  {
    key: 'window',
    env: 'BENCH_WINDOW',
    flag: 'window',
    kind: 'number',
    help: 'sends in flight, closed loop',
  },
  {
    key: 'lag',
    env: 'BENCH_LAG',
    flag: 'lag',
    kind: 'number',
    help: 'sends ahead of the slowest receiver, closed loop',
  },
  {
    key: 'textBytes',
    env: 'BENCH_TEXT_BYTES',
    flag: 'text-bytes',
    kind: 'number',
    help: 'message text size',
  },
  { key: 'duration', env: 'BENCH_DURATION', flag: 'duration', kind: 'number', help: 's per closed-loop run' },
  { key: 'warmup', env: 'BENCH_WARMUP', flag: 'warmup', kind: 'number', help: 's of warm-up before each' },
  {
    key: 'rates',
    env: 'BENCH_RATES',
    flag: 'rates',
    kind: 'numbers',
    help: 'open-loop msg/s, comma-separated',
  },
  {
    key: 'latencyDuration',
    env: 'BENCH_LATENCY_DURATION',
    flag: 'latency-duration',
    kind: 'number',
    help: 's per rate',
  },
  {
    key: 'idleSockets',
    env: 'BENCH_IDLE_SOCKETS',
    flag: 'idle-sockets',
    kind: 'number',
    help: 'idle sockets (K)',
  },
  {
    key: 'idleUsers',
    env: 'BENCH_IDLE_USERS',
    flag: 'idle-users',
    kind: 'number',
    help: 'users holding them',
  },
  {
    key: 'stormSockets',
    env: 'BENCH_STORM_SOCKETS',
    flag: 'storm-sockets',
    kind: 'number',
    help: 'storm size (S)',
  },
  {
    key: 'stormTimeout',
    env: 'BENCH_STORM_TIMEOUT',
    flag: 'storm-timeout',
    kind: 'number',
    help: 's a storm may take',
  },
  { key: 'sweep', env: 'BENCH_SWEEP', flag: 'sweep', kind: 'numbers', help: 'room sizes, comma-separated' },
  {
    key: 'clientProcs',
    env: 'BENCH_CLIENT_PROCS',
    flag: 'client-procs',
    kind: 'number',
    help: 'receiver processes',
  },
  {
    key: 'connectConcurrency',
    env: 'BENCH_CONNECT_CONCURRENCY',
    flag: 'connect-concurrency',
    kind: 'number',
    help: 'openings at once per client process',
  },
  {
    key: 'connectDeadline',
    env: 'BENCH_CONNECT_DEADLINE',
    flag: 'connect-deadline',
    kind: 'number',
    help: 's to connect receivers or idle sockets',
  },
  {
    key: 'setupConcurrency',
    env: 'BENCH_SETUP_CONCURRENCY',
    flag: 'setup-concurrency',
    kind: 'number',
    help: 'REST calls at once in set-up',
  },
  {
    key: 'systems',
    env: 'BENCH_SYSTEMS',
    flag: 'systems',
    kind: 'systems',
    help: `subset of ${systemNames.join(',')}`,
  },
  {
    key: 'ferretdb',
    env: 'BENCH_FERRETDB',
    flag: 'ferretdb',
    kind: 'backend',
    help: `FerretDB backend of the distributed run: ${ferretBackends.join(' or ')}`,
  },
  { key: 'outDir', env: 'BENCH_OUT', flag: 'out', kind: 'string', help: 'where results are written' },
  {
    key: 'deadline',
    env: 'BENCH_DEADLINE',
    flag: 'deadline',
    kind: 'number',
    help: 's before everything is killed',
  },
];

const defaults: Omit<FanoutOptions, 'smoke' | 'profile'> = {
  systems: [...systemNames],
  ferretdb: 'postgresql',
  receivers: 1000,
  window: 200,
  lag: 1000,
  textBytes: 50,
  duration: 10,
  warmup: 2,
  rates: [10, 25, 50],
  latencyDuration: 10,
  idleSockets: 5000,
  idleUsers: 250,
  stormSockets: 2000,
  stormTimeout: 30,
  sweep: [10, 100, 1000],
  clientProcs: 2,
  connectConcurrency: 20,
  connectDeadline: 60,
  setupConcurrency: 32,
  outDir: path.resolve(__dirname, '../../results'),
  deadline: 1500,
};

/** Tiny sizes and one-second runs: every scenario for every system in well under a minute. */
const smokeDefaults: Partial<FanoutOptions> = {
  receivers: 20,
  window: 20,
  lag: 100,
  duration: 1,
  warmup: 0.3,
  rates: [20],
  latencyDuration: 1,
  idleSockets: 20,
  idleUsers: 10,
  stormSockets: 20,
  stormTimeout: 10,
  connectDeadline: 20,
  sweep: [5, 20],
  deadline: 100,
  ferretdb: 'sqlite',
};

export function usage(): string {
  const lines = settings.map((s) => `  --${s.flag}=…  ${s.env.padEnd(26)} ${s.help}`);
  return [
    'npm run bench:fanout [-- flags]',
    '  --smoke                                    tiny sizes, ~1 s runs',
    '  --big                                      adds 10000 to the room-size sweep',
    '  --profile                                  CPU profile of the one-process run in each closed-loop run',
    ...lines,
  ].join('\n');
}

function parse(setting: Setting, raw: string): unknown {
  switch (setting.kind) {
    case 'number': {
      const value = Number(raw);
      if (!Number.isFinite(value) || value <= 0)
        throw new Error(`${setting.flag}: not a positive number: ${raw}`);
      return value;
    }
    case 'numbers': {
      const values = raw.split(',').map(Number);
      if (values.some((value) => !Number.isFinite(value) || value <= 0))
        throw new Error(`${setting.flag}: not a list of positive numbers: ${raw}`);
      return values;
    }
    case 'string':
      return path.resolve(raw);
    case 'systems': {
      const names = raw.split(',').map((name) => name.trim());
      for (const name of names)
        if (!(systemNames as readonly string[]).includes(name)) throw new Error(`systems: unknown ${name}`);
      return names;
    }
    case 'backend':
      if (!(ferretBackends as readonly string[]).includes(raw))
        throw new Error(`${setting.flag}: not one of ${ferretBackends.join(', ')}: ${raw}`);
      return raw;
  }
}

/** Flags win over the environment, which wins over the (smoke) defaults. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): FanoutOptions {
  const flags = new Map<string, string | true>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unknown argument ${arg}\n${usage()}`);
    flags.set(match[1]!, match[2] ?? true);
  }
  const known = new Set(['smoke', 'big', 'profile', 'help', ...settings.map((s) => s.flag)]);
  for (const flag of flags.keys())
    if (!known.has(flag)) throw new Error(`unknown flag --${flag}\n${usage()}`);
  const smoke = flags.has('smoke') || env.BENCH_SMOKE === '1';
  const options = {
    ...defaults,
    ...(smoke ? smokeDefaults : {}),
    smoke,
    profile: flags.has('profile') || env.BENCH_PROFILE === '1',
  } as FanoutOptions;
  for (const setting of settings) {
    const flag = flags.get(setting.flag);
    const raw = typeof flag === 'string' ? flag : env[setting.env];
    if (raw !== undefined && raw !== '')
      (options as unknown as Record<string, unknown>)[setting.key] = parse(setting, raw);
  }
  if (flags.has('big') || env.BENCH_BIG === '1') options.sweep = [...new Set([...options.sweep, 10_000])];
  options.sweep = [...new Set(options.sweep.map(Math.round))].sort((a, b) => a - b);
  options.receivers = Math.round(options.receivers);
  return options;
}
