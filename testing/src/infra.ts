import { randomBytes } from 'node:crypto';

/** Infrastructure a test suite can ask for. */
export type InfraNeed = 'nats' | 'mongo';

/**
 * How the jest global setup (global-setup.ts in @chat/testing) tells test workers what it found: the URL when a
 * server is there, else why not.
 */
export const testInfraEnv: Readonly<Record<InfraNeed, { url: string; missing: string }>> = Object.freeze({
  nats: { url: 'TEST_NATS_URL', missing: 'TEST_NATS_MISSING' },
  mongo: { url: 'TEST_MONGO_URL', missing: 'TEST_MONGO_MISSING' },
});

/** The NATS server (with JetStream) of this test run, if there is one. */
export function testNatsUrl(): string | undefined {
  return process.env[testInfraEnv.nats.url] || undefined;
}

/** The MongoDB-protocol server of this test run, if there is one; prefer {@link uniqueMongoUrl} in suites. */
export function testMongoUrl(): string | undefined {
  return process.env[testInfraEnv.mongo.url] || undefined;
}

/**
 * `describe` when every need is met; otherwise `describe.skip` with one line on stderr naming what is
 * missing and why. With `REQUIRE_INFRA=1` the absence fails the test file instead.
 */
export function describeWithInfra(needs: InfraNeed[], name: string, fn: () => void): void {
  const missing = needs.filter((need) => !process.env[testInfraEnv[need].url]);
  if (missing.length === 0) {
    describe(name, fn);
    return;
  }
  const reasons = missing.map(
    (need) => `${need}: ${process.env[testInfraEnv[need].missing] ?? 'the jest global setup did not run'}`,
  );
  skipForMissing(name, `no ${missing.join(' or ')} for tests (${reasons.join('; ')})`, fn);
}

/**
 * The one policy for a suite whose infrastructure is absent: `describe.skip` with one line on stderr
 * saying what is missing, or, with `REQUIRE_INFRA=1` (CI), a failure of the test file.
 */
export function skipForMissing(name: string, missing: string, fn: () => void): void {
  const message = `Skipped "${name}": ${missing}.`;
  if (process.env.REQUIRE_INFRA === '1') throw new Error(`${message} REQUIRE_INFRA=1 makes this a failure.`);
  process.stderr.write(`${message}\n`);
  describe.skip(name, fn);
}

/** `prefix` plus a lowercase alphanumeric suffix unique to this call, fit for subjects and database names. */
export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
}

/** The test MongoDB server with a database of its own, so suites and test files never share data. */
export function uniqueMongoUrl(): string {
  const url = testMongoUrl();
  if (!url) throw new Error("No MongoDB for tests: wrap the suite in describeWithInfra(['mongo'], ...).");
  return withDatabase(url, uniqueName('t'));
}

const MONGO_URL = /^(mongodb(?:\+srv)?:\/\/)([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/;

/**
 * Replaces the database in a MongoDB connection string. With credentials and no `authSource`, the driver
 * authenticates against the database named in the path (or `admin`), so that one becomes the authSource.
 */
export function withDatabase(url: string, database: string): string {
  const match = MONGO_URL.exec(url);
  if (!match) throw new Error(`Not a MongoDB connection string: ${url.replace(/\/\/[^@/]*@/, '//***@')}`);
  const [, scheme, hosts = '', oldDatabase = '', query = ''] = match;
  const options = query.split('&').filter(Boolean);
  if (hosts.includes('@') && !new URLSearchParams(query).has('authSource')) {
    options.push(`authSource=${oldDatabase || 'admin'}`);
  }
  return `${scheme}${hosts}/${database}${options.length > 0 ? `?${options.join('&')}` : ''}`;
}
