import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, MemoryBus, type LogLevel, type ServiceApp, type User } from '@chat/shared';
import { LogCapture, startTestTokenIssuer, type TestTokenIssuer } from '@chat/testing';
import { createApp, loadUsersConfig, runAdminCommand, type AdminCommandResult } from '@chat/users-service';

export const PASSWORD = 'correct horse battery staple';

export interface Response {
  status: number;
  headers: Headers;
  // Tests read whatever the server answered.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Sent as is with `content-type: application/json`. */
  raw?: string;
  headers?: Record<string, string>;
}

/** users-service on a real port with a MemoryBus, a test token issuer and its own data directory. */
export interface TestService {
  url: string;
  bus: MemoryBus;
  issuer: TestTokenIssuer;
  app: ServiceApp;
  dataDir: string;
  logs: LogCapture;
  call(method: string, pathAndQuery: string, options?: CallOptions): Promise<Response>;
  signup(username: string, extra?: Record<string, unknown>): Promise<User>;
  /** Signs `root` up and makes it an admin with the server-side command, as an operator would. */
  signupAdmin(): Promise<User>;
  /** Runs `npm run admin -- <args>` on this service's DATA_DIR, stopping the service around it. */
  admin(...args: string[]): Promise<AdminCommandResult>;
  tokenFor(user: Pick<User, 'id' | 'username' | 'role'>, sid?: string): string;
  /** The password hashes in the data file, to prove they never leave it. */
  storedHashes(): string[];
  /** Stops the app only; the bus, issuer and data stay for a restart. */
  restart(env?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestService(
  env: Record<string, string> = {},
  options: { logLevel?: LogLevel } = {},
): Promise<TestService> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'users-service-'));
  const logs = new LogCapture();
  const logger = createLogger('users-service', options.logLevel ?? 'warn', [logs.transport]);
  const bus = new MemoryBus({ logger });
  const issuer = startTestTokenIssuer(bus);
  const build = (overrides: Record<string, string>) =>
    createApp(
      loadUsersConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        BCRYPT_COST: '4',
        LOG_LEVEL: options.logLevel ?? 'warn',
        ...overrides,
      }),
      { bus, logger },
    );
  let app = build(env);
  let url = (await app.start()).url;

  const service: TestService = {
    get url() {
      return url;
    },
    bus,
    issuer,
    get app() {
      return app;
    },
    dataDir,
    logs,
    async call(method, pathAndQuery, callOptions = {}) {
      const headers: Record<string, string> = { ...callOptions.headers };
      if (callOptions.token !== undefined) headers.authorization = `Bearer ${callOptions.token}`;
      let body: string | undefined;
      if (callOptions.raw !== undefined) body = callOptions.raw;
      else if (callOptions.body !== undefined) body = JSON.stringify(callOptions.body);
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      const response = await fetch(`${url}${pathAndQuery}`, { method, headers, body });
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        body: text ? JSON.parse(text) : undefined,
      };
    },
    async signup(username, extra = {}) {
      const response = await service.call('POST', '/api/users', {
        body: { username, password: PASSWORD, ...extra },
      });
      if (response.status !== 201)
        throw new Error(`signup of ${username}: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body as User;
    },
    async signupAdmin() {
      const user = await service.signup('root');
      const promoted = await service.admin('promote', 'root');
      if (promoted.code !== 0) throw new Error(`admin promote root: ${promoted.output}`);
      return { ...user, role: 'admin' };
    },
    async admin(...args) {
      // The embedded store belongs to one process at a time: the command runs while the service is stopped.
      await app.stop();
      try {
        return await runAdminCommand(args, { DATA_DIR: dataDir, LOG_LEVEL: 'error' });
      } finally {
        app = build(env);
        url = (await app.start()).url;
      }
    },
    tokenFor(user, sid) {
      return issuer.mint({ sub: user.id, username: user.username, role: user.role, sid });
    },
    storedHashes() {
      const lines = readFileSync(path.join(dataDir, 'users.db'), 'utf8').split('\n').filter(Boolean);
      return lines
        .map((line) => (JSON.parse(line) as { passwordHash?: string }).passwordHash)
        .filter((hash): hash is string => typeof hash === 'string');
    },
    async restart(overrides = {}) {
      await app.stop();
      app = build(overrides);
      url = (await app.start()).url;
    },
    async stop() {
      await app.stop();
      await issuer.stop();
      await bus.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return service;
}
