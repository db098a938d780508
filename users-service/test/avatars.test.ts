import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import mongoose from 'mongoose';
import sharp from 'sharp';
import { subjects, type BusMessage, type User } from '@chat/shared';
import { describeWithInfra, photoWithGps, uniqueMongoUrl } from '@chat/testing';
import { startTestService, type Response, type TestService } from './support';

const MiB = 1024 * 1024;
const AVATAR_URL = /^\/api\/users\/[\w-]+\/avatar\?v=[\w-]+$/;

/** `PUT /api/users/me/avatar` with `body` as it is (bytes) or as multipart (a form). */
async function putAvatar(
  service: TestService,
  token: string,
  body: Buffer | FormData,
  contentType?: string,
): Promise<Response> {
  const response = await fetch(`${service.url}/api/users/me/avatar`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, ...(contentType ? { 'content-type': contentType } : {}) },
    body: body instanceof FormData ? body : new Uint8Array(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** Writes `total` bytes, a PNG signature then zeros, in 64 KiB chunks without Content-Length. */
function streamAvatar(url: string, token: string, total: number): Promise<{ status: number; code: string }> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024);
    chunk.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    let sent = 0;
    let answered = false;
    const req = http.request(`${url}/api/users/me/avatar`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      answered = true;
      let text = '';
      res.on('data', (data: Buffer) => (text += data.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(text).error.code }));
    });
    // The server closes the connection at the cap while we may still write: that is the point.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const write = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(sent > total ? chunk.subarray(0, chunk.length - (sent - total)) : chunk)) {
          req.once('drain', write);
          return;
        }
      }
      if (!answered) req.end();
    };
    write();
  });
}

async function fetchAvatar(service: TestService, url: string) {
  const response = await fetch(`${service.url}${url}`);
  return {
    status: response.status,
    headers: response.headers,
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

const png = (width: number, height: number, background = '#36c') =>
  sharp({ create: { width, height, channels: 3, background } })
    .png()
    .toBuffer();

/**
 * Avatars on one store: `storedBlobs` lists the avatar blobs the store holds, so a test can prove what is
 * kept and what is gone.
 */
function avatarSuite(
  name: string,
  env: () => Record<string, string>,
  storedBlobs: (service: TestService) => Promise<string[]>,
): void {
  describe(name, () => {
    let service: TestService;
    const events: BusMessage[] = [];

    beforeAll(async () => {
      service = await startTestService(env());
      await service.bus.consume(subjects.userUpdated.subject, (message) => void events.push(message), {
        durable: 'test-avatar-updates',
      });
    });

    afterAll(async () => {
      await service?.stop();
    });

    const versionOf = (url: string) => new URL(url, 'http://x').searchParams.get('v')!;

    it('keeps a photo as a square WebP without its EXIF, served without a token and cacheable for good', async () => {
      const alice = await service.signup('alice');
      const photo = await photoWithGps(640, 480);
      expect(photo.includes('secret-place')).toBe(true);

      const reply = await putAvatar(service, service.tokenFor(alice), photo, 'image/png');
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({
        ...alice,
        avatarUrl: expect.stringMatching(AVATAR_URL),
        updatedAt: expect.any(String),
      });
      expect(reply.body.avatarUrl.startsWith(`/api/users/${alice.id}/avatar?v=`)).toBe(true);

      const avatar = await fetchAvatar(service, reply.body.avatarUrl);
      expect(avatar.status).toBe(200);
      expect(avatar.headers.get('content-type')).toBe('image/webp');
      expect(avatar.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(avatar.headers.get('x-content-type-options')).toBe('nosniff');
      expect(Number(avatar.headers.get('content-length'))).toBe(avatar.bytes.length);
      const metadata = await sharp(avatar.bytes).metadata();
      expect(metadata).toMatchObject({ format: 'webp', width: 256, height: 256 });
      expect(metadata.exif).toBeUndefined();
      expect(avatar.bytes.includes('secret-place')).toBe(false);
      expect(await storedBlobs(service)).toContain(versionOf(reply.body.avatarUrl));

      // chat-service's copies of public profiles follow the announcement.
      await service.bus.flush();
      const announced = events.map((event) => (event.data as { user: User }).user);
      expect(announced).toContainEqual(reply.body);
    });

    it('shows the avatar to others: one user, the people search and users.v1.get-public', async () => {
      const bea = await service.signup('bea');
      const carl = await service.signup('carl');
      const { avatarUrl } = (await putAvatar(service, service.tokenFor(bea), await png(300, 200)))
        .body as User;
      expect(avatarUrl).toMatch(AVATAR_URL);
      const token = service.tokenFor(carl);
      const publicBea = { id: bea.id, username: 'bea', name: null, avatarUrl, createdAt: bea.createdAt };
      expect((await service.call('GET', `/api/users/${bea.id}`, { token })).body).toEqual(publicBea);
      expect((await service.call('GET', '/api/users?q=be', { token })).body.items).toEqual([publicBea]);
      expect(await service.bus.request(subjects.getPublicUsers.subject, { ids: [bea.id] })).toEqual({
        users: [publicBea],
      });
      // GIF, WebP and a multipart body are taken too.
      const form = new FormData();
      form.append(
        'file',
        new Blob([
          new Uint8Array(
            await sharp(await png(40, 40))
              .gif()
              .toBuffer(),
          ),
        ]),
        'a.gif',
      );
      expect((await putAvatar(service, token, form)).status).toBe(200);
      const webp = await sharp(await png(50, 80))
        .webp()
        .toBuffer();
      expect((await putAvatar(service, token, webp)).status).toBe(200);
    });

    it('replaces the old picture, whose URL is then 404 and whose blob is gone; DELETE removes the last', async () => {
      const dora = await service.signup('dora');
      const token = service.tokenFor(dora);
      const first = (await putAvatar(service, token, await png(64, 64, '#f00'))).body.avatarUrl;
      const second = (await putAvatar(service, token, await png(64, 64, '#0f0'))).body.avatarUrl;
      expect(second).not.toBe(first);
      expect((await fetchAvatar(service, first)).status).toBe(404);
      expect((await fetchAvatar(service, second)).status).toBe(200);
      let stored = await storedBlobs(service);
      expect(stored).not.toContain(versionOf(first));
      expect(stored).toContain(versionOf(second));

      const removed = await service.call('DELETE', '/api/users/me/avatar', { token });
      expect(removed.status).toBe(204);
      expect((await service.call('GET', '/api/users/me', { token })).body.avatarUrl).toBeNull();
      expect((await fetchAvatar(service, second)).status).toBe(404);
      stored = await storedBlobs(service);
      expect(stored).not.toContain(versionOf(second));
      expect((await service.call('DELETE', '/api/users/me/avatar', { token })).status).toBe(204);
    });

    it.each([
      ['an SVG', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'],
      ['an HTML page', '<!doctype html><script>alert(1)</script>'],
      ['plain text', 'just some words'],
    ])(
      'refuses %s with 415 whatever its declared type, keeping the avatar as it was',
      async (_what, text) => {
        const erin = await service.signup(`erin${Math.random().toString(36).slice(2, 8)}`);
        const token = service.tokenFor(erin);
        const { avatarUrl } = (await putAvatar(service, token, await png(32, 32))).body as User;
        const before = await storedBlobs(service);
        const refused = await putAvatar(service, token, Buffer.from(text), 'image/png');
        expect(refused.status).toBe(415);
        expect(refused.body.error).toMatchObject({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: expect.any(String),
        });
        expect((await service.call('GET', '/api/users/me', { token })).body.avatarUrl).toBe(avatarUrl);
        expect(await storedBlobs(service)).toEqual(before);
      },
    );

    it('refuses an image that does not decode, or declares more than IMAGE_MAX_PIXELS, with 400', async () => {
      const token = service.tokenFor(await service.signup('frank'));
      const broken = Buffer.concat([(await png(32, 32)).subarray(0, 60), Buffer.alloc(100)]);
      const bomb = await png(8000, 6000);
      expect(bomb.length).toBeLessThan(MiB);
      for (const bytes of [broken, bomb]) {
        const refused = await putAvatar(service, token, bytes);
        expect([refused.status, refused.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
      }
      expect((await service.call('GET', '/api/users/me', { token })).body.avatarUrl).toBeNull();
    });

    it('refuses a body past 2 MiB with 413 while it streams, keeping nothing', async () => {
      const token = service.tokenFor(await service.signup('gina'));
      const before = await storedBlobs(service);
      expect(await streamAvatar(service.url, token, 2 * MiB + 1)).toEqual({
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
      });
      expect(await streamAvatar(service.url, token, 50 * MiB)).toEqual({
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
      });
      expect(await storedBlobs(service)).toEqual(before);
      expect((await service.call('GET', '/api/users/me', { token })).body.avatarUrl).toBeNull();
    });

    it('removes the avatar with the user', async () => {
      const hugo = await service.signup('hugo');
      const token = service.tokenFor(hugo);
      const { avatarUrl } = (await putAvatar(service, token, await png(48, 48))).body as User;
      expect((await service.call('DELETE', `/api/users/${hugo.id}`, { token })).status).toBe(204);
      expect(await storedBlobs(service)).not.toContain(versionOf(avatarUrl!));
      expect((await fetchAvatar(service, avatarUrl!)).status).toBe(404);
    });

    it('answers 404 for an unknown user or version and 400 without a version', async () => {
      const ivy = await service.signup('ivy');
      expect((await fetchAvatar(service, `/api/users/${ivy.id}/avatar?v=none`)).status).toBe(404);
      expect((await fetchAvatar(service, '/api/users/nobody/avatar?v=none')).status).toBe(404);
      expect((await fetchAvatar(service, `/api/users/${ivy.id}/avatar`)).status).toBe(400);
    });
  });
}

avatarSuite(
  'avatars in files under DATA_DIR',
  () => ({}),
  async (service) => {
    const dir = path.join(service.dataDir, 'avatars');
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  },
);

describeWithInfra(['mongo'], 'avatars in GridFS', () => {
  const mongoUrl = uniqueMongoUrl();
  let connection: mongoose.Connection;

  beforeAll(async () => {
    connection = await mongoose.createConnection(mongoUrl).asPromise();
  });

  afterAll(async () => {
    await connection?.close();
  });

  avatarSuite(
    'on a MongoDB-protocol server',
    () => ({ MONGO_URL: mongoUrl }),
    async () => {
      const files = await connection.db!.collection('avatars.files').find().toArray();
      const ids = files.map((file) => String(file._id)).sort();
      // No chunks outlive their file.
      const owners = await connection.db!.collection('avatars.chunks').distinct('files_id');
      expect(owners.map(String).every((owner) => ids.includes(owner))).toBe(true);
      return ids;
    },
  );
});

describe('avatar uploads per user', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ AVATAR_UPLOADS_PER_HOUR: '2' });
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('answers 429 with Retry-After past AVATAR_UPLOADS_PER_HOUR, for that user only', async () => {
    const jack = service.tokenFor(await service.signup('jack'));
    const kim = service.tokenFor(await service.signup('kim'));
    const image = await png(16, 16);
    expect((await putAvatar(service, jack, image)).status).toBe(200);
    expect((await putAvatar(service, jack, image)).status).toBe(200);
    const limited = await putAvatar(service, jack, image);
    expect([limited.status, limited.body.error.code]).toEqual([429, 'RATE_LIMITED']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await putAvatar(service, kim, image)).status).toBe(200);
  });
});
