import { createHash, createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { subjects, type MemoryBus } from '@chat/shared';
import { describeWithInfra, LogCapture, uniqueMongoUrl } from '@chat/testing';
import { jwksSchema } from '@chat/auth-service';
import { call, FakeUsersService, memoryBus, PASSWORD, startAuth, tempDataDir } from './support';

async function jwksOf(url: string) {
  const response = await call(url, 'GET', '/api/auth/jwks');
  expect(response.status).toBe(200);
  return jwksSchema.parse(response.body).keys;
}

async function accessToken(url: string, username: string): Promise<string> {
  const response = await call(url, 'POST', '/api/auth/login', { body: { username, password: PASSWORD } });
  expect(response.status).toBe(200);
  return response.body.accessToken as string;
}

describe('the signing key', () => {
  const logs = new LogCapture();
  let bus: MemoryBus;
  let users: FakeUsersService;

  beforeEach(() => {
    bus = memoryBus(logs);
    users = new FakeUsersService(bus);
  });

  afterEach(async () => {
    await users.stop();
    await bus.close();
  });

  it('is generated once and shared by instances on one store, also across restarts', async () => {
    const data = tempDataDir();
    const env = { DATA_DIR: data.dir };
    try {
      const [a, b] = await Promise.all([
        startAuth(env, { bus, logger: logs.logger('auth-service') }),
        startAuth(env, { bus, logger: logs.logger('auth-service') }),
      ]);
      const [keysA, keysB] = [await jwksOf(a.url), await jwksOf(b.url)];
      expect(keysA).toHaveLength(1);
      expect(keysB).toEqual(keysA);

      // A token from one instance ends its session at the other.
      const user = users.add();
      expect(
        (await call(b.url, 'POST', '/api/auth/logout', { token: await accessToken(a.url, user.username) }))
          .status,
      ).toBe(204);

      await Promise.all([a.app.stop(), b.app.stop()]);
      const c = await startAuth(env, { bus, logger: logs.logger('auth-service') });
      expect(await jwksOf(c.url)).toEqual(keysA);
      await c.app.stop();
    } finally {
      data.remove();
    }
  });

  it('comes from JWT_PRIVATE_KEY when set, with its RFC 7638 thumbprint as kid, also over the bus', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const { x, y } = publicKey.export({ format: 'jwk' });
    const thumbprint = createHash('sha256')
      .update(`{"crv":"P-256","kty":"EC","x":"${x}","y":"${y}"}`)
      .digest('base64url');
    const data = tempDataDir();
    const auth = await startAuth(
      { DATA_DIR: data.dir, JWT_PRIVATE_KEY: pem },
      { bus, logger: logs.logger('auth-service') },
    );
    try {
      const keys = await jwksOf(auth.url);
      expect(keys).toEqual([{ kty: 'EC', crv: 'P-256', x, y, kid: thumbprint, alg: 'ES256', use: 'sig' }]);
      expect(subjects.jwks.schema.parse(await bus.request(subjects.jwks.subject, {}))).toEqual({ keys });

      const token = await accessToken(auth.url, users.add().username);
      expect(jwt.decode(token, { complete: true })?.header.kid).toBe(thumbprint);
      expect(() => jwt.verify(token, publicKey, { algorithms: ['ES256'] })).not.toThrow();
    } finally {
      await auth.app.stop();
      data.remove();
    }
  });

  it('is stored in a file only its owner can read, also one written with looser modes before (issue 9, finding 7)', async () => {
    const modesAfterStart = async (dataDir: string) => {
      const auth = await startAuth({ DATA_DIR: dataDir }, { bus, logger: logs.logger('auth-service') });
      await auth.app.stop();
      const dir = path.join(dataDir, 'auth-service');
      expect(readFileSync(path.join(dir, 'signing_keys.db'), 'utf8')).toMatch(/PRIVATE KEY/);
      return {
        dir: (statSync(dir).mode & 0o777).toString(8),
        files: readdirSync(dir).map(
          (file) => `${file} ${(statSync(path.join(dir, file)).mode & 0o777).toString(8)}`,
        ),
      };
    };
    const fresh = tempDataDir();
    const older = tempDataDir();
    try {
      const created = await modesAfterStart(fresh.dir);
      expect(created.dir).toBe('700');
      expect(created.files.length).toBeGreaterThan(0);
      for (const file of created.files) expect(file).toMatch(/ 600$/);

      // An older version wrote the files 0644: any local user could read the key and sign admin tokens.
      mkdirSync(path.join(older.dir, 'auth-service'));
      const keyFile = path.join(older.dir, 'auth-service', 'signing_keys.db');
      writeFileSync(keyFile, '');
      chmodSync(keyFile, 0o644);
      for (const file of (await modesAfterStart(older.dir)).files) expect(file).toMatch(/ 600$/);
    } finally {
      fresh.remove();
      older.remove();
    }
  });

  it('comes from JWT_PRIVATE_KEY_FILE when set', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'auth-key-')), 'signing.pem');
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const data = tempDataDir();
    const auth = await startAuth(
      { DATA_DIR: data.dir, JWT_PRIVATE_KEY_FILE: file },
      { bus, logger: logs.logger('auth-service') },
    );
    try {
      const [jwk] = await jwksOf(auth.url);
      expect(createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).equals(publicKey)).toBe(true);
    } finally {
      await auth.app.stop();
      data.remove();
    }
  });

  describeWithInfra(['mongo'], 'on MongoDB (FerretDB)', () => {
    it('is generated once by instances starting together on one database', async () => {
      const env = { MONGO_URL: uniqueMongoUrl() };
      const [a, b] = await Promise.all([
        startAuth(env, { bus, logger: logs.logger('auth-service') }),
        startAuth(env, { bus, logger: logs.logger('auth-service') }),
      ]);
      try {
        expect(await jwksOf(b.url)).toEqual(await jwksOf(a.url));
        const user = users.add();
        expect(
          (await call(b.url, 'POST', '/api/auth/logout', { token: await accessToken(a.url, user.username) }))
            .status,
        ).toBe(204);
      } finally {
        await Promise.all([a.app.stop(), b.app.stop()]);
      }
    });
  });
});
