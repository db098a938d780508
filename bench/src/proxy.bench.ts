/**
 * Which reverse proxy should the gateway use? Measures http-proxy against two undici-based proxies
 * (Pool.stream and Pool.request), a direct-to-upstream baseline and the gateway itself, all in front of
 * one trivial upstream, with one load generator (autocannon) on loopback.
 *
 * Each server runs in its own child process so the load generator does not share an event loop with
 * what it measures; besides requests/s and latency it reports the CPU time that process spent per
 * request, the figure least disturbed by other work on a shared machine. Run: `npm run proxy -w bench` (BENCH_DURATION seconds per run, default 10;
 * BENCH_CONNECTIONS, default 50; BENCH_ROUNDS, default 1). Bounded: every run has a fixed duration and
 * the whole benchmark exits after a hard deadline, killing its children.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import autocannon from 'autocannon';
import httpProxy from 'http-proxy';
import { Pool } from 'undici';
import { createApp, loadGatewayConfig } from '@chat/gateway';

const roles = ['upstream', 'http-proxy', 'undici-stream', 'undici-request', 'gateway'] as const;
type Role = (typeof roles)[number];

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WARMUP_S = 2;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const UPSTREAM_BODY = JSON.stringify({
  id: 'u-1',
  username: 'alice',
  name: 'Alice',
  createdAt: '2025-01-01T00:00:00Z',
});
const POST_BODY = JSON.stringify({ username: 'bob', password: 'x'.repeat(1024 - 32) });

/** RFC 9110 §7.6.1: meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

function forwardable(headers: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function unavailable(res: http.ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(503, { 'content-type': 'application/json' });
  res.end('{"error":{"code":"UPSTREAM_UNAVAILABLE","message":"unavailable"}}');
}

function hasBody(req: http.IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Builds the request handler of one role; the upstream role ignores `target`. */
function handlerFor(role: Exclude<Role, 'gateway'>, target: string): http.RequestListener {
  switch (role) {
    case 'upstream':
      return (req, res) => {
        let length = 0;
        req.on('data', (chunk: Buffer) => (length += chunk.length));
        req.on('end', () => {
          const body = req.method === 'POST' ? JSON.stringify({ received: length }) : UPSTREAM_BODY;
          res.writeHead(req.method === 'POST' ? 201 : 200, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        });
      };
    case 'http-proxy': {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
      const proxy = httpProxy.createProxyServer({ target, agent, xfwd: true, proxyTimeout: 10_000 });
      proxy.on('error', (_error, _req, res) => {
        if (res instanceof http.ServerResponse) unavailable(res);
      });
      return (req, res) => proxy.web(req, res);
    }
    case 'undici-stream': {
      const pool = new Pool(target, { connections: 256, headersTimeout: 10_000, bodyTimeout: 10_000 });
      return (req, res) => {
        pool.stream(
          {
            method: req.method as 'GET',
            path: req.url ?? '/',
            headers: forwardable(req.headers),
            body: hasBody(req) ? req : null,
          },
          ({ statusCode, headers }) => {
            res.writeHead(statusCode, forwardable(headers));
            return res;
          },
          (error) => {
            if (error) unavailable(res);
          },
        );
      };
    }
    case 'undici-request': {
      const pool = new Pool(target, { connections: 256, headersTimeout: 10_000, bodyTimeout: 10_000 });
      return (req, res) => {
        pool
          .request({
            method: req.method as 'GET',
            path: req.url ?? '/',
            headers: forwardable(req.headers),
            body: hasBody(req) ? req : null,
          })
          .then(({ statusCode, headers, body }) => {
            res.writeHead(statusCode, forwardable(headers));
            pipeline(body, res, () => undefined);
          })
          .catch(() => unavailable(res));
      };
    }
  }
}

/** A child process: serve one role on a loopback port, report it, exit when the parent goes away. */
async function runChild(role: Role, target: string): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  let port: number;
  if (role === 'gateway') {
    const app = createApp(
      loadGatewayConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'error',
        USERS_URL: target,
        AUTH_URL: target,
        RATE_LIMIT_PER_MINUTE: String(1e9),
      }),
    );
    port = Number(new URL((await app.start()).url).port);
  } else {
    const server = http.createServer(handlerFor(role, target));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  }
  process.on('message', () => process.send?.({ cpu: process.cpuUsage() }));
  process.send?.({ port });
}

interface Target {
  child: ChildProcess;
  url: string;
}

function startChild(role: Role, target = ''): Promise<Target> {
  const child = fork(__filename, [role, target], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { port: number }) =>
      resolve({ child, url: `http://127.0.0.1:${message.port}` }),
    );
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code} before listening`)));
  });
}

interface Scenario {
  name: string;
  method: 'GET' | 'POST';
  body?: string;
}

const scenarios: Scenario[] = [
  { name: 'GET small JSON', method: 'GET' },
  { name: 'POST 1 KiB JSON', method: 'POST', body: POST_BODY },
];

interface Sample {
  rps: number;
  /** CPU time (user + system) the measured server process spent per request. */
  cpuUs: number;
  p50: number;
  p99: number;
  errors: number;
}

function load(url: string, scenario: Scenario, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}/api/users/u-1?fields=all`,
    method: scenario.method,
    body: scenario.body,
    headers: scenario.body ? { 'content-type': 'application/json' } : {},
    connections: CONNECTIONS,
    duration: seconds,
  });
}

/** CPU microseconds `child` has used so far. */
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (message: { cpu: NodeJS.CpuUsage }) =>
      resolve(message.cpu.user + message.cpu.system),
    );
    child.send('cpu');
  });
}

async function sample(target: Target, scenario: Scenario): Promise<Sample> {
  await load(target.url, scenario, WARMUP_S);
  const cpuBefore = await cpuOf(target.child);
  const result = await load(target.url, scenario, DURATION_S);
  const cpuUs = (await cpuOf(target.child)) - cpuBefore;
  return {
    rps: Math.round(result.requests.average),
    cpuUs: Math.round(cpuUs / Math.max(1, result.requests.total)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : Math.round((sorted[middle - 1]! + sorted[middle]!) / 2);
}

/**
 * Every target runs at once (idle while not measured) and the rounds visit them in turn, so a burst of
 * load from elsewhere on a shared machine spreads over all of them instead of landing on one.
 */
async function runParent(): Promise<void> {
  const targets: Role[] = ['http-proxy', 'undici-stream', 'undici-request', 'gateway'];
  const runs = ROUNDS * (targets.length + 1) * scenarios.length;
  const deadline = setTimeout(
    () => {
      console.error('benchmark exceeded its deadline');
      process.exit(1);
    },
    (runs * (DURATION_S + WARMUP_S) + 60) * 1000,
  );
  const children: ChildProcess[] = [];
  try {
    const upstream = await startChild('upstream');
    children.push(upstream.child);
    const measured = new Map<string, Target>([['direct (baseline)', upstream]]);
    for (const role of targets) {
      const proxy = await startChild(role, upstream.url);
      children.push(proxy.child);
      measured.set(role, proxy);
    }
    const samples = new Map<string, Sample[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [target, server] of measured) {
        for (const scenario of scenarios) {
          const result = await sample(server, scenario);
          const key = `${target} | ${scenario.name}`;
          samples.set(key, [...(samples.get(key) ?? []), result]);
          console.error(
            `round ${round}: ${key}: ${result.rps} req/s, p99 ${result.p99} ms, ${result.cpuUs} µs CPU/req`,
          );
        }
      }
    }
    console.log(
      `\nNode ${process.version}, ${CONNECTIONS} connections, ${DURATION_S} s per run after ${WARMUP_S} s warm-up, ` +
        `median of ${ROUNDS} round(s)\n`,
    );
    console.log('| target | scenario | req/s | req/s range | p50 ms | p99 ms | CPU µs/req | errors |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const [key, runs] of samples) {
      const rps = runs.map((run) => run.rps);
      console.log(
        `| ${key} | ${median(rps)} | ${Math.min(...rps)}-${Math.max(...rps)} | ` +
          `${median(runs.map((run) => run.p50))} | ${median(runs.map((run) => run.p99))} | ` +
          `${median(runs.map((run) => run.cpuUs))} | ` +
          `${runs.reduce((sum, run) => sum + run.errors, 0)} |`,
      );
    }
  } finally {
    for (const child of children) child.kill();
    clearTimeout(deadline);
  }
}

const role = process.argv[2] as Role | undefined;
const main = role && roles.includes(role) ? runChild(role, process.argv[3] ?? '') : runParent();
main.catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
