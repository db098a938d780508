import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { skipForMissing, toolBinary } from '@chat/testing';
import { startSystem, type Session, type TestSystem } from './support/system';

/**
 * Issue 14: the OpenAPI document and the server agree. Schemathesis generates requests from the document the
 * gateway serves (valid ones, invalid ones, undeclared methods, sequences that follow the responses) and checks
 * every answer against it, with all its checks, on the one-process system. Any failure fails this suite with
 * Schemathesis' report, which names the seed and a curl command for each failure.
 */

const REPO_ROOT = path.resolve(__dirname, '../..');
const CONFIG_FILE = path.join(REPO_ROOT, 'schemathesis.toml');
/** Found again on every run, so what it once found stays found; a random seed explores beyond it. */
const FIXED_SEED = '14';
/** Test cases per operation and phase: about a minute per run on a CI machine. */
const MAX_EXAMPLES = '40';
const RUN_TIMEOUT_MS = 150_000;
/** The operation that deletes the run's user: it runs last, in a run of its own. */
const DELETE_USER = 'DELETE /api/users/{id}';

const binary = toolBinary('schemathesis');

interface Outcome {
  code: number | null;
  output: string;
}

/** Runs the Schemathesis CLI to its end (never blocking this process, which serves the API it tests). */
function schemathesis(args: string[], env: Record<string, string>, cwd: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary!, ['--config-file', CONFIG_FILE, 'run', ...args, '--no-color'], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * Passes when Schemathesis exited 0: no check failed and no warning that schemathesis.toml makes fatal was
 * raised. Otherwise fails with everything it printed.
 */
function expectNoFailures({ code, output }: Outcome): void {
  if (code !== 0) throw new Error(`Schemathesis exited with ${code}:\n${output}`);
}

const suite = () => {
  let system: TestSystem;
  let work: string;
  let user: Session;
  /** One access token per run for `POST /api/auth/logout`, which ends the session it is called with. */
  let logoutTokens: string[];

  beforeAll(async () => {
    // Thousands of requests a minute from one address: the gateway's limit would answer most of them 429.
    system = await startSystem({ RATE_LIMIT_PER_MINUTE: '1000000' });
    work = mkdtempSync(path.join(tmpdir(), 'schemathesis-'));
    // Every login before the runs: their failed logins put this address into the login backoff.
    user = await system.account('fuzz', { password: 'Schemathesis-14-password' });
    logoutTokens = [];
    for (let i = 0; i < 2; i += 1)
      logoutTokens.push((await system.login(user.username, user.password)).accessToken);
  });

  afterAll(async () => {
    await system?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const run = (args: string[], logoutToken = 'unused') =>
    schemathesis(
      [
        `${system.url}/api/docs/openapi.json`,
        '--checks',
        'all',
        // Every check but one: ensure_resource_availability takes a 404 for the user named in a body
        // (`POST /api/rooms/{id}/invitations` or `/bans` {userId} of nobody) right after the stateful phase
        // created the room as the room being gone. Those 404s are still checked against the document.
        '--exclude-checks',
        'ensure_resource_availability',
        '--max-examples',
        MAX_EXAMPLES,
        ...args,
      ],
      { CHAT_ACCESS_TOKEN: user.accessToken, CHAT_LOGOUT_TOKEN: logoutToken },
      work,
    );

  it(
    'finds no disagreement with a fixed seed',
    async () => {
      expectNoFailures(await run(['--seed', FIXED_SEED, '--exclude-name', DELETE_USER], logoutTokens[0]));
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'finds no disagreement with a random seed (the report names it)',
    async () => {
      expectNoFailures(await run(['--exclude-name', DELETE_USER], logoutTokens[1]));
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'finds no disagreement deleting users, its own last',
    async () => {
      // GET /api/users/me links its id to DELETE /api/users/{id}: the stateful phase deletes the user.
      expectNoFailures(
        await run([
          '--seed',
          FIXED_SEED,
          '--include-name',
          'GET /api/users/me',
          '--include-name',
          DELETE_USER,
        ]),
      );
      expect((await system.call('GET', '/api/users/me', { token: user.accessToken })).status).toBe(401);
    },
    RUN_TIMEOUT_MS,
  );
};

const name = 'Schemathesis: the server answers as docs/openapi.json says';
if (binary) describe(name, suite);
else
  skipForMissing(
    name,
    'no schemathesis in .tools/bin or on PATH (bash .ci/run installs it; README, "Testing")',
    suite,
  );
