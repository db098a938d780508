import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createSystem } from '@chat/standalone';

/**
 * The whole product as a user meets it: `createSystem` (what `npm start` runs) on a port of its own and a
 * private DATA_DIR, reached only over HTTP and WebSocket at the URL it answers with.
 */

// Tests read whatever the server answered.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Reply {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

export interface CallOptions {
  token?: string;
  /** Serialised as JSON unless it is a string (malformed bodies) or bytes (files), sent as they are. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Settings every contract test system starts with: quick hashing, quiet logs, quick presence and drain. */
export function baseEnv(dataDir: string): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
    BCRYPT_COST: '4',
    PRESENCE_GRACE_MS: '100',
    DRAIN_SPREAD_MS: '0',
    SHUTDOWN_TIMEOUT_MS: '5000',
  };
}

export interface TestSystem {
  url: string;
  wsUrl: string;
  dataDir: string;
  call(method: string, pathAndQuery: string, options?: CallOptions): Promise<Reply>;
  signup(prefix: string, fields?: Record<string, unknown>): Promise<Account>;
  login(username: string, password?: string): Promise<Session>;
  /** A fresh user, logged in. */
  account(prefix: string, fields?: Record<string, unknown>): Promise<Session>;
  connect(token: string, options?: ConnectOptions): Promise<TestSocket>;
  /** Stops the system; with `keepData` the data directory stays for a restart. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export const PASSWORD = 'correct horse battery';

export interface Account {
  id: string;
  username: string;
  password: string;
  user: Json;
}

export interface Session extends Account {
  accessToken: string;
  refreshToken: string;
  sid: string;
}

let counter = 0;
/** A username no other test in this process has used: `prefix` plus a counter and the pid. */
export function uniqueUsername(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}`.slice(0, 32);
}

/** The claims of a JWT, read without verifying it (as any client may). */
export function claimsOf(token: string): Json {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

export function headerOf(token: string): Json {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8'));
}

/**
 * Starts a system. `env` is added to {@link baseEnv}; `dataDir` reuses a directory (a restart), else a new
 * temporary one is made and removed on stop.
 */
export async function startSystem(env: Record<string, string> = {}, dataDir?: string): Promise<TestSystem> {
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'contract-'));
  const system = createSystem({ ...baseEnv(dir), ...env });
  const { url } = await system.start();
  const wsUrl = `${url.replace(/^http/, 'ws')}/ws`;
  const sockets: TestSocket[] = [];

  const call: TestSystem['call'] = async (method, pathAndQuery, options = {}) => {
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : Buffer.isBuffer(options.body)
            ? new Uint8Array(options.body)
            : JSON.stringify(options.body);
    const response = await fetch(`${url}${pathAndQuery}`, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body,
    });
    const text = await response.text();
    let parsed: Json;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new Error(
        `${method} ${pathAndQuery} answered ${response.status} with a body that is not JSON: ${text}`,
      );
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  };

  const signup: TestSystem['signup'] = async (prefix, fields = {}) => {
    const username = (fields.username as string | undefined) ?? uniqueUsername(prefix);
    const password = (fields.password as string | undefined) ?? PASSWORD;
    const reply = await call('POST', '/api/users', { body: { username, password, ...fields } });
    if (reply.status !== 201) throw new Error(`signup answered ${reply.status}: ${reply.text}`);
    return { id: reply.body.id, username, password, user: reply.body };
  };

  const login: TestSystem['login'] = async (username, password = PASSWORD) => {
    const reply = await call('POST', '/api/auth/login', { body: { username, password } });
    if (reply.status !== 200) throw new Error(`login answered ${reply.status}: ${reply.text}`);
    return {
      id: reply.body.user.id,
      username,
      password,
      user: reply.body.user,
      accessToken: reply.body.accessToken,
      refreshToken: reply.body.refreshToken,
      sid: claimsOf(reply.body.accessToken).sid,
    };
  };

  return {
    url,
    wsUrl,
    dataDir: dir,
    call,
    signup,
    login,
    async account(prefix, fields) {
      const account = await signup(prefix, fields);
      return login(account.username, account.password);
    },
    async connect(token, options = {}) {
      const socket = await TestSocket.open(wsUrl, { token, ...options });
      sockets.push(socket);
      return socket;
    },
    async stop(options = {}) {
      // Sockets still open see the shutdown as a client would (1012), then go.
      await system.stop();
      for (const socket of sockets) socket.ws.terminate();
      if (!options.keepData && !dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ConnectOptions {
  token?: string;
  /** Send the token as `Authorization: Bearer` rather than `?token=`. */
  bearer?: boolean;
  headers?: Record<string, string>;
  /** Wait for `hello` (default true). */
  hello?: boolean;
  /** Answer the server's pings (default true); false plays a peer that died. */
  autoPong?: boolean;
}

/** What the server answered instead of opening a socket. */
export interface RefusedUpgrade {
  status: number;
  headers: IncomingHttpHeaders;
  body: Json;
  /** Whether a socket opened anyway (it must not). */
  opened: boolean;
}

function socketUrl(wsUrl: string, options: ConnectOptions): string {
  return options.token && !options.bearer ? `${wsUrl}?token=${encodeURIComponent(options.token)}` : wsUrl;
}

function socketHeaders(options: ConnectOptions): Record<string, string> {
  return {
    ...(options.token && options.bearer ? { authorization: `Bearer ${options.token}` } : {}),
    ...options.headers,
  };
}

/** Tries to open a socket that the server should refuse, and reports how it was refused. */
export function refusedUpgrade(wsUrl: string, options: ConnectOptions = {}): Promise<RefusedUpgrade> {
  const ws = new WebSocket(socketUrl(wsUrl, options), { headers: socketHeaders(options) });
  let opened = false;
  ws.on('open', () => {
    opened = true;
    ws.terminate();
  });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => {
        // Give a wrongly opened socket the chance to show itself.
        setTimeout(() => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: text ? JSON.parse(text) : undefined,
              opened,
            });
          } catch (error) {
            reject(error as Error);
          }
        }, 50);
      });
    });
    ws.once('open', () => reject(new Error('the socket opened')));
    ws.once('error', (error) => {
      if (!opened) reject(error);
    });
  });
}

/** A `ws` client that keeps every event (array frames unpacked) and how the socket closed. */
export class TestSocket {
  readonly events: Json[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly listeners = new Set<() => void>();
  private refs = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const parsed = JSON.parse(data.toString('utf8')) as Json;
      this.events.push(...(Array.isArray(parsed) ? parsed : [parsed]));
      for (const listener of [...this.listeners]) listener();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString('utf8') });
        for (const listener of [...this.listeners]) listener();
      });
    });
  }

  static open(wsUrl: string, options: ConnectOptions = {}): Promise<TestSocket> {
    const ws = new WebSocket(socketUrl(wsUrl, options), {
      headers: socketHeaders(options),
      autoPong: options.autoPong ?? true,
    });
    const socket = new TestSocket(ws);
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused with ${res.statusCode}`)),
      );
      ws.once('error', reject);
      ws.once('open', () => {
        if (options.hello === false) return resolve(socket);
        socket.waitFor((event) => event.type === 'hello').then(() => resolve(socket), reject);
      });
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends `frame` with a fresh `ref` and resolves with the reply that echoes it. */
  request(frame: Record<string, unknown>, timeoutMs = 3_000): Promise<Json> {
    this.refs += 1;
    const ref = `r${this.refs}`;
    this.send({ ...frame, ref });
    return this.waitFor((event) => event.ref === ref, timeoutMs);
  }

  /** The first event, received or to come, matching `predicate`. */
  waitFor(predicate: (event: Json) => boolean, timeoutMs = 3_000): Promise<Json> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.find(predicate);
        if (found !== undefined) {
          done();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** The events received so far that match. */
  matching(predicate: (event: Json) => boolean): Json[] {
    return this.events.filter(predicate);
  }

  /** How the socket closed, or a rejection if it is still open after `timeoutMs`. */
  closedWithin(timeoutMs: number): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the socket was still open after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([this.closed, late]).finally(() => clearTimeout(timer));
  }
}

/** Waits `ms`; for checking that something does NOT happen within a while. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Asserts the contract's error answer: the status, `{error: {code, message, details?}}` and nothing else
 * (no stack, no internals), `x-request-id`, `WWW-Authenticate: Bearer` on 401 and `Retry-After` on 429.
 */
export function expectError(reply: Reply, status: number, code: string): void {
  expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status, code });
  expect(Object.keys(reply.body)).toEqual(['error']);
  const { error } = reply.body;
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  for (const key of Object.keys(error)) expect(['code', 'message', 'details']).toContain(key);
  if (error.details !== undefined) {
    expect(Array.isArray(error.details)).toBe(true);
    for (const detail of error.details) {
      expect(Object.keys(detail).sort()).toEqual(['message', 'path']);
      expect(typeof detail.path).toBe('string');
      expect(typeof detail.message).toBe('string');
    }
  }
  expect(reply.text).not.toMatch(/\bat .+\.(ts|js):\d+/);
  expect(reply.headers.get('x-request-id')).toBeTruthy();
  expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
  if (status === 401) expect(reply.headers.get('www-authenticate')).toBe('Bearer');
  if (status === 429) expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
}

/** Asserts a VALIDATION_FAILED answer whose details name `field` (a dotted path). */
export function expectInvalidField(reply: Reply, field: string): void {
  expectError(reply, 400, 'VALIDATION_FAILED');
  expect(reply.body.error.details.map((detail: { path: string }) => detail.path)).toContain(field);
}

/** The User view's fields, in any order. */
export const USER_KEYS = [
  'avatarUrl',
  'createdAt',
  'email',
  'id',
  'name',
  'phone',
  'role',
  'updatedAt',
  'username',
];
export const USER_PUBLIC_KEYS = ['avatarUrl', 'createdAt', 'id', 'name', 'username'];
export const ROOM_KEYS = ['createdAt', 'createdBy', 'id', 'kind', 'memberCount', 'name', 'topic'];
/** A room as its members see it (v1.1): with their role and read state. */
export const MEMBER_ROOM_KEYS = [
  ...ROOM_KEYS,
  'lastReadSeq',
  'lastSeq',
  'mentions',
  'myRole',
  'unread',
].sort();

export const isIsoTime = (value: unknown) =>
  typeof value === 'string' &&
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(value) &&
  !Number.isNaN(Date.parse(value));

/**
 * An ES256 key the test gives the system as JWT_PRIVATE_KEY, so a test can also sign tokens the real
 * auth-service would never issue (expired, wrong audience or issuer) with the real key.
 */
export class SigningKey {
  readonly privateKey: KeyObject;
  readonly pem: string;

  constructor() {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.privateKey = createPrivateKey(this.pem);
  }

  /** A compact JWS over `header` and `payload`, ES256 with this key. */
  sign(header: object, payload: object): string {
    const input = `${base64urlJson(header)}.${base64urlJson(payload)}`;
    const signature = sign('sha256', Buffer.from(input), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }
}

export function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * Sends a body of `size` bytes with chunked transfer encoding (no Content-Length), so only counting the
 * bytes as they pass can stop it.
 */
export function postChunked(
  url: string,
  pathname: string,
  size: number,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Json }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }),
      );
    });
    // The server may answer and close before the whole body is written.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    const chunk = Buffer.alloc(8192, 'a');
    const prefix = Buffer.from('{"username":"');
    req.write(prefix);
    let sent = prefix.length;
    const writeMore = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', writeMore);
      }
      req.end('"}');
    };
    writeMore();
  });
}

/**
 * Retries `check` until it passes or `withinMs` has gone by, then throws its last failure: for what the
 * contract promises "within 2 s".
 */
export async function within<T>(withinMs: number, check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await pause(50);
    }
  }
}
