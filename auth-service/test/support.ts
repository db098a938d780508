import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  InvalidCredentialsError,
  MemoryBus,
  subjects,
  type Bus,
  type Logger,
  type ServiceApp,
  type Subscription,
  type User,
} from '@chat/shared';
import type { LogCapture } from '@chat/testing';
import { createApp, loadAuthConfig } from '@chat/auth-service';

export const PASSWORD = 'correct horse battery staple';

/**
 * Stands in for users-service on the bus: answers `users.v1.verify-credentials` for the users added here,
 * by username or email, case-insensitively, with INVALID_CREDENTIALS for anything else.
 */
export class FakeUsersService {
  private readonly accounts: { user: User; password: string }[] = [];
  private readonly served: Subscription[];

  constructor(bus: Bus) {
    this.served = [
      bus.serve(subjects.verifyCredentials.subject, (message) => {
        const { login, password } = subjects.verifyCredentials.schema.parse(message.data);
        const account = this.find(login);
        if (!account || account.password !== password) throw new InvalidCredentialsError();
        return { user: account.user };
      }),
      bus.serve(subjects.resolveLogin.subject, (message) => {
        const { login } = subjects.resolveLogin.schema.parse(message.data);
        return { userId: this.find(login)?.user.id ?? null };
      }),
    ];
  }

  private find(login: string): { user: User; password: string } | undefined {
    const wanted = login.toLowerCase();
    return this.accounts.find(
      ({ user }) => user.username.toLowerCase() === wanted || user.email?.toLowerCase() === wanted,
    );
  }

  /** A new user with a unique name (tests must not share login counters) and the common password. */
  add(prefix = 'user', role: User['role'] = 'user'): User {
    const now = new Date().toISOString();
    const username = `${prefix}${randomUUID().slice(0, 8)}`;
    const user: User = {
      id: randomUUID(),
      username,
      name: null,
      email: `${username}@example.com`,
      phone: null,
      avatarUrl: null,
      role,
      createdAt: now,
      updatedAt: now,
    };
    this.accounts.push({ user, password: PASSWORD });
    return user;
  }

  async stop(): Promise<void> {
    await Promise.all(this.served.map((subscription) => subscription.unsubscribe()));
  }
}

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

/** One HTTP call against a running service. */
export async function call(
  baseUrl: string,
  method: string,
  pathAndQuery: string,
  options: CallOptions = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${baseUrl}${pathAndQuery}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** A fresh directory for the embedded store, removed by the returned function. */
export function tempDataDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'auth-service-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** auth-service on a real port, started with `env` on top of test defaults. */
export async function startAuth(
  env: Record<string, string>,
  deps: { bus?: Bus; logger: Logger },
): Promise<{ app: ServiceApp; url: string }> {
  const app = createApp(
    loadAuthConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug', SHUTDOWN_TIMEOUT_MS: '5000', ...env }),
    deps,
  );
  const { url } = await app.start();
  return { app, url };
}

/** Retries `check` until it stops throwing or `timeoutMs` passes (then rethrows its last failure). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 2_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** A MemoryBus whose log lines land in `logs`. */
export function memoryBus(logs: LogCapture): MemoryBus {
  return new MemoryBus({ logger: logs.logger('bus') });
}
