import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Entry } from './client-worker';
import { sleep } from './processes';

/** Who takes part in a system's run, and the rooms by member count. */
export interface Cast {
  sender: Entry;
  /** Room members, in order: a room of size s has members[0..s) (and the sender). */
  members: Entry[];
  /** Users in no shared room, for idle sockets and the connection storm. */
  loners: Entry[];
  /** Room id by member count (the sender not counted). */
  rooms: Map<number, string>;
  setupMs: number;
  /** Milliseconds per set-up phase: signing up members and loners (each signup + login), joining rooms. */
  phases: Record<string, number>;
  /** REST calls answered with something other than success, then retried. */
  retried: Record<string, number>;
}

const PASSWORD = 'fanout benchmark password';

/** Runs `task` over `items` with at most `concurrency` at once. */
export async function pool<T, R>(items: T[], concurrency: number, task: (item: T, i: number) => Promise<R>) {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  return results;
}

/**
 * Our REST API through the gateway, as a browser would call it; 429, 5xx and network errors are retried
 * with backoff (counted in `retried`), anything else fails the set-up.
 */
export class Api {
  readonly retried: Record<string, number> = {};

  constructor(private readonly base: string) {}

  async call(method: string, path: string, expect: number, body?: unknown, token?: string) {
    for (let attempt = 0; ; attempt++) {
      let status: number;
      let text: string;
      try {
        const response = await fetch(`${this.base}${path}`, {
          method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        status = response.status;
        text = await response.text();
      } catch (error) {
        status = 0;
        text = String(error);
      }
      if (status === expect) return JSON.parse(text) as Record<string, unknown>;
      const key = `${method} ${path.replace(/\/[0-9a-f-]{8,}/g, '/:id')} ${status}`;
      if ((status === 0 || status === 429 || status >= 500) && attempt < 6) {
        this.retried[key] = (this.retried[key] ?? 0) + 1;
        await sleep(Math.min(5_000, 200 * 2 ** attempt) * (0.5 + Math.random()));
        continue;
      }
      throw new Error(`${method} ${path} answered ${status}: ${text.slice(0, 300)}`);
    }
  }

  /** Signs a user up and logs them in; their access token. */
  async user(username: string): Promise<string> {
    await this.call('POST', '/api/users', 201, { username, password: PASSWORD });
    const login = await this.call('POST', '/api/auth/login', 200, { username, password: PASSWORD });
    return login.accessToken as string;
  }
}

/**
 * Our system: users signed up and logged in through the gateway, rooms created by the sender and joined by
 * their members over REST before any socket opens (so no `member.joined` storm is measured).
 */
export async function castOurs(
  base: string,
  sizes: number[],
  loners: number,
  concurrency: number,
): Promise<Cast> {
  const started = Date.now();
  const api = new Api(base);
  const tag = randomBytes(3).toString('hex');
  const memberCount = Math.max(...sizes);
  const phases: Record<string, number> = {};
  const phase = async <T>(name: string, task: () => Promise<T>): Promise<T> => {
    const at = Date.now();
    const result = await task();
    phases[name] = Date.now() - at;
    return result;
  };
  const senderToken = await api.user(`fo${tag}_sender`);
  const memberTokens = await phase('members', () =>
    pool(
      Array.from({ length: memberCount }, (_, i) => `fo${tag}_m${i}`),
      concurrency,
      (name) => api.user(name),
    ),
  );
  const lonerTokens = await phase('loners', () =>
    pool(
      Array.from({ length: loners }, (_, i) => `fo${tag}_l${i}`),
      concurrency,
      (name) => api.user(name),
    ),
  );
  const rooms = new Map<number, string>();
  await phase('rooms', async () => {
    for (const size of sizes) {
      const room = await api.call(
        'POST',
        '/api/rooms',
        201,
        { name: `fanout ${size}`, kind: 'public' },
        senderToken,
      );
      rooms.set(size, room.id as string);
      await pool(memberTokens.slice(0, size), concurrency, (token) =>
        api.call('POST', `/api/rooms/${room.id as string}/members`, 200, undefined, token),
      );
    }
  });
  return {
    sender: { token: senderToken },
    members: memberTokens.map((token) => ({ token })),
    loners: lonerTokens.map((token) => ({ token })),
    rooms,
    setupMs: Date.now() - started,
    phases,
    retried: api.retried,
  };
}

/** Socket.IO: tokens signed with the server's secret; each socket names the rooms it joins. */
export function castSocketIo(secret: string, sizes: number[], loners: number): Cast {
  const started = Date.now();
  const sign = (id: string) =>
    jwt.sign({ sub: id, username: id }, secret, { algorithm: 'HS256', expiresIn: '2h' });
  const rooms = new Map(sizes.map((size) => [size, `room-${size}`]));
  const memberCount = Math.max(...sizes);
  return {
    sender: { token: sign('sender'), rooms: [...rooms.values()] },
    members: Array.from({ length: memberCount }, (_, i) => ({
      token: sign(`m${i}`),
      rooms: sizes.filter((size) => i < size).map((size) => rooms.get(size)!),
    })),
    loners: Array.from({ length: loners }, (_, i) => ({ token: sign(`l${i}`), rooms: [] })),
    rooms,
    setupMs: Date.now() - started,
    phases: {},
    retried: {},
  };
}
