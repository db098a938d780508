/**
 * Socket open cost by the rooms a user belongs to (issue 9: "opening a socket costs at most linear work in
 * the user's rooms"): for a user in 10, 100 and 1,000 rooms (each room shared with `--members` others, who
 * are online), the time from the upgrade request to `hello`, one socket at a time and ten at once, and the
 * server's CPU per socket. The one-process run (`npm start`) in a process of its own, the client here.
 *
 * Run: `npm run bench:open` (about a minute); `-- --rooms=10,100,1000 --members=5 --opens=20`.
 * Results: markdown on stdout and in bench/results/socket-open-<timestamp>.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';
import { cpuSecondsOf, killEveryChild, REPO_ROOT } from './fanout/processes';
import { Api, pool } from './fanout/setup';
import { startSystem } from './fanout/systems';

interface Row {
  rooms: number;
  helloBytes: number;
  sequentialMedianMs: number;
  sequentialP95Ms: number;
  cpuMsPerSocket: number;
  tenAtOnceMs: number;
}

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

const numbers = (text: string) => text.split(',').map(Number);

/** Opens a socket and resolves once its `hello` arrives, with the socket and the first frame's size. */
function open(base: string, token: string): Promise<{ ws: WebSocket; bytes: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no hello within 10 s'));
    }, 10_000);
    ws.once('message', (data: Buffer) => {
      clearTimeout(timer);
      // A frame is one event, or an array of events flushed together: the hello is first either way.
      const parsed = JSON.parse(data.toString('utf8')) as { type: string } | { type: string }[];
      const event = Array.isArray(parsed) ? parsed[0]! : parsed;
      if (event.type !== 'hello') return reject(new Error(`first event: ${event.type}`));
      resolve({ ws, bytes: data.length });
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function closeAll(sockets: WebSocket[]): Promise<void> {
  return Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close();
        }),
    ),
  ).then(() => undefined);
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

async function main(): Promise<void> {
  const sizes = numbers(option('rooms', '10,100,1000'));
  const members = Number(option('members', '5'));
  const opens = Number(option('opens', '20'));
  const system = await startSystem('one-process', '', 'sqlite', {
    ROOMS_PER_USER: String(Math.max(...sizes)),
  });
  const server = system.servers[0]!;
  try {
    const api = new Api(system.base);
    const tag = randomBytes(3).toString('hex');
    const others = await pool(
      Array.from({ length: Math.max(members * 10, 1) }, (_, i) => `so${tag}_o${i}`),
      10,
      (name) => api.user(name),
    );
    const online = await Promise.all(others.map((token) => open(system.base, token)));
    const rows: Row[] = [];
    for (const size of sizes) {
      const token = await api.user(`so${tag}_u${size}`);
      await pool(
        Array.from({ length: size }, (_, i) => i),
        10,
        async (i) => {
          const room = await api.call(
            'POST',
            '/api/rooms',
            201,
            { name: `open ${size} ${i} ${tag}`, kind: 'public' },
            token,
          );
          for (let m = 0; m < members; m++) {
            const other = others[(i * members + m) % others.length]!;
            await api.call('POST', `/api/rooms/${room.id as string}/members`, 200, undefined, other);
          }
        },
      );
      // One socket first, unmeasured, so the rooms are read once before the figures (as a busy server has).
      const warm = await open(system.base, token);
      await closeAll([warm.ws]);
      const times: number[] = [];
      const cpuBefore = cpuSecondsOf(server.pid) ?? 0;
      for (let n = 0; n < opens; n++) {
        const started = performance.now();
        const { ws } = await open(system.base, token);
        times.push(performance.now() - started);
        await closeAll([ws]);
      }
      const cpuMsPerSocket = (((cpuSecondsOf(server.pid) ?? 0) - cpuBefore) * 1000) / opens;
      const started = performance.now();
      const ten = await Promise.all(Array.from({ length: 10 }, () => open(system.base, token)));
      const tenAtOnceMs = performance.now() - started;
      await closeAll(ten.map(({ ws }) => ws));
      rows.push({
        rooms: size,
        helloBytes: warm.bytes,
        sequentialMedianMs: percentile(times, 50),
        sequentialP95Ms: percentile(times, 95),
        cpuMsPerSocket,
        tenAtOnceMs,
      });
      process.stderr.write(`[open] ${size} rooms done\n`);
    }
    await closeAll(online.map(({ ws }) => ws));
    const report = [
      `# Socket open cost by rooms (${new Date().toISOString()})`,
      '',
      `One-process run, Node ${process.version}, ${members} other members per room (online), ${opens} sockets`,
      'opened one after another, then 10 at once. CPU: the server process, user + system, per socket (10 ms',
      'ticks of /proc, so small figures are coarse).',
      '',
      '| rooms | first frame bytes (the hello) | upgrade -> hello, median ms | p95 ms | server CPU ms/socket | 10 at once, ms to the last hello |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (row) =>
          `| ${row.rooms} | ${row.helloBytes} | ${row.sequentialMedianMs.toFixed(1)} | ${row.sequentialP95Ms.toFixed(1)} | ${row.cpuMsPerSocket.toFixed(2)} | ${row.tenAtOnceMs.toFixed(0)} |`,
      ),
      '',
    ].join('\n');
    process.stdout.write(report);
    const dir = path.join(REPO_ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `socket-open-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), report);
  } finally {
    await system.stop();
  }
}

main().catch((error: unknown) => {
  killEveryChild();
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
