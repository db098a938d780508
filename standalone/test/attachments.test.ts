import { readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import sharp from 'sharp';
import { describeWithInfra, photoWithGps, uniqueMongoUrl, testNatsUrl } from '@chat/testing';
import { expectError, startSystem, type Json, type Session, type TestSystem } from './support/system';

const MiB = 1024 * 1024;

// A collection before each memory sample, so the samples count what is held, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const SVG = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><script>alert(1)</script></svg>',
);

interface Fetched {
  status: number;
  headers: Headers;
  bytes: Buffer;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  const response = await fetch(url, { headers });
  return {
    status: response.status,
    headers: response.headers,
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

/**
 * Writes `total` bytes in 64 KiB chunks without Content-Length; resolves with the answer and the bytes written
 * by then. `progress` is called after every 2 MiB written.
 */
function streamUpload(
  url: string,
  token: string,
  total: number,
  progress: () => void = () => undefined,
): Promise<{ status: number; body: Json; sentWhenAnswered: number }> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    let answered = false;
    const req = http.request(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/octet-stream',
        'transfer-encoding': 'chunked',
      },
    });
    req.on('response', (res) => {
      answered = true;
      const sentWhenAnswered = sent;
      let text = '';
      res.on('data', (data: Buffer) => (text += data.toString('utf8')));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, sentWhenAnswered }),
      );
      res.on('error', reject);
    });
    // The server may close the connection while we still write: that is the point.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const write = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (sent % (2 * MiB) === 0) progress();
        if (!req.write(chunk)) {
          req.once('drain', write);
          return;
        }
      }
      if (!answered) req.end();
    };
    write();
  });
}

function attachmentSuite(name: string, env: () => Record<string, string>): void {
  describe(name, () => {
    let system: TestSystem;
    let ann: Session;
    let bob: Session;
    let eve: Session;
    let roomId: string;

    beforeAll(async () => {
      system = await startSystem(env());
      [ann, bob, eve] = [
        await system.account('ann'),
        await system.account('bob'),
        await system.account('eve'),
      ];
      const room = await system.call('POST', '/api/rooms', {
        token: ann.accessToken,
        body: { name: `files ${process.pid} ${name}`, kind: 'private' },
      });
      roomId = room.body.id;
      await system.call('POST', `/api/rooms/${roomId}/invitations`, {
        token: ann.accessToken,
        body: { userId: bob.id },
      });
    });

    afterAll(async () => {
      await system.stop();
    });

    const upload = async (
      as: Session,
      bytes: Buffer,
      query = '',
      contentType = 'application/octet-stream',
    ) => {
      const response = await fetch(`${system.url}/api/attachments${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${as.accessToken}`, 'content-type': contentType },
        body: new Uint8Array(bytes),
      });
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        body: text ? JSON.parse(text) : undefined,
        text,
      };
    };

    const send = async (as: Session, frame: Record<string, unknown>) => {
      const socket = await system.connect(as.accessToken);
      const reply = await socket.request({ type: 'send', roomId, ...frame });
      socket.ws.close();
      return reply;
    };

    it('stores a photo without its EXIF (GPS position included), with its size and a bounded thumbnail, behind signed links', async () => {
      const photo = await photoWithGps();
      expect(photo.includes('secret-place')).toBe(true);
      const reply = await upload(ann, photo, '?name=beach.png', 'image/png');
      expect(reply.status).toBe(201);
      expect(reply.body).toEqual({
        id: expect.any(String),
        name: 'beach.png',
        type: 'image/jpeg',
        size: expect.any(Number),
        width: 640,
        height: 480,
        url: expect.stringMatching(/^\/api\/attachments\/[\w-]+\/content\?exp=\d+&sig=[\w-]{43}$/),
        thumbnailUrl: expect.stringMatching(/^\/api\/attachments\/[\w-]+\/thumbnail\?exp=\d+&sig=[\w-]{43}$/),
      });

      const file = await get(`${system.url}${reply.body.url}`);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('image/jpeg');
      expect(file.headers.get('x-content-type-options')).toBe('nosniff');
      expect(file.headers.get('content-disposition')).toMatch(/^inline; filename="beach.png"/);
      expect(file.headers.get('cache-control')).toMatch(/^private, max-age=\d+, immutable$/);
      expect(file.bytes.length).toBe(reply.body.size);
      const metadata = await sharp(file.bytes).metadata();
      expect(metadata).toMatchObject({ format: 'jpeg', width: 640, height: 480 });
      expect(metadata.exif).toBeUndefined();
      expect(file.bytes.includes('secret-place')).toBe(false);

      const thumbnail = await get(`${system.url}${reply.body.thumbnailUrl}`);
      expect(thumbnail.headers.get('content-type')).toBe('image/webp');
      expect(await sharp(thumbnail.bytes).metadata()).toMatchObject({
        format: 'webp',
        width: 320,
        height: 240,
      });
    });

    it('keeps an SVG (multipart) as a download only, never shown inline', async () => {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(SVG)], { type: 'image/svg+xml' }), 'logo.svg');
      const response = await fetch(`${system.url}/api/attachments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ann.accessToken}` },
        body: form,
      });
      const body = (await response.json()) as Json;
      expect(response.status).toBe(201);
      expect(body).toMatchObject({ name: 'logo.svg', type: 'image/svg+xml', size: SVG.length });
      expect(body.thumbnailUrl).toBeUndefined();
      const file = await get(`${system.url}${body.url}`);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('application/octet-stream');
      expect(file.headers.get('content-disposition')).toMatch(/^attachment; filename="logo.svg"/);
      expect(file.headers.get('x-content-type-options')).toBe('nosniff');
      expect(file.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      expect(file.bytes.equals(SVG)).toBe(true);
      // An HTML file declared as an image is a download too: the type comes from the bytes.
      const html = await upload(
        ann,
        Buffer.from('<!doctype html><script>alert(1)</script>'),
        '?name=x.png',
        'image/png',
      );
      expect(html.body.type).toBe('text/html');
      expect((await get(`${system.url}${html.body.url}`)).headers.get('content-disposition')).toMatch(
        /^attachment/,
      );
    });

    it('lets the uploader and the members of a room where it was sent see it, and nobody else', async () => {
      const image = await upload(ann, await photoWithGps(200, 100), '?name=p.jpg');
      const { id } = image.body;
      expectError(
        await system.call('GET', `/api/attachments/${id}`, { token: bob.accessToken }),
        404,
        'NOT_FOUND',
      );

      const ack = await send(ann, { text: 'look', attachmentIds: [id] });
      expect(ack.type).toBe('ack');
      expect(ack.message.attachments).toEqual([
        { ...image.body, url: expect.any(String), thumbnailUrl: expect.any(String) },
      ]);

      const history = await system.call('GET', `/api/rooms/${roomId}/messages`, { token: bob.accessToken });
      const sent = history.body.items.find((message: Json) => message.id === ack.message.id);
      expect((await get(`${system.url}${sent.attachments[0].url}`)).status).toBe(200);
      expect((await system.call('GET', `/api/attachments/${id}`, { token: bob.accessToken })).status).toBe(
        200,
      );
      expect((await system.call('GET', `/api/attachments/${id}`, { token: ann.accessToken })).status).toBe(
        200,
      );

      expectError(
        await system.call('GET', `/api/attachments/${id}`, { token: eve.accessToken }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await system.call('GET', `/api/rooms/${roomId}/messages`, { token: eve.accessToken }),
        403,
        'FORBIDDEN',
      );
      // A link is for one file, until it expires; changing any part of it is refused.
      const url = new URL(sent.attachments[0].url, system.url);
      const forged = (mutate: (link: URL) => void) => {
        const link = new URL(url);
        mutate(link);
        return system.call('GET', `${link.pathname}${link.search}`);
      };
      const other = (await upload(eve, Buffer.from('eve'))).body.id;
      expectError(
        await forged((link) => (link.pathname = `/api/attachments/${other}/content`)),
        403,
        'FORBIDDEN',
      );
      expectError(
        await forged((link) =>
          link.searchParams.set('exp', String(Number(link.searchParams.get('exp')) + 1)),
        ),
        403,
        'FORBIDDEN',
      );
      expectError(await forged((link) => link.searchParams.set('exp', '1000')), 403, 'FORBIDDEN');
      expectError(await forged((link) => link.searchParams.delete('sig')), 400, 'VALIDATION_FAILED');
    });

    it('takes only the sender’s own uploads, at most 10, and an empty text only with attachments', async () => {
      const evesFile = (await upload(eve, Buffer.from('mine'))).body.id;
      const refused = await send(ann, { text: 'steal', attachmentIds: [evesFile] });
      expect(refused).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
      const many = await send(ann, {
        text: 'many',
        attachmentIds: Array.from({ length: 11 }, (_, i) => `id${i}`),
      });
      expect(many).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
      expect(await send(ann, { text: '' })).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
      const file = (await upload(ann, Buffer.from('%PDF-1.7 minutes'), '?name=minutes.pdf')).body;
      const ack = await send(ann, { attachmentIds: [file.id] });
      expect(ack.message).toMatchObject({
        text: '',
        attachments: [{ id: file.id, type: 'application/pdf', name: 'minutes.pdf' }],
      });
    });

    it('removes a deleted message’s files: the tombstone has none and the links stop working', async () => {
      const file = (await upload(ann, Buffer.from('to be deleted'))).body;
      const ack = await send(ann, { text: 'soon gone', attachmentIds: [file.id] });
      const link = ack.message.attachments[0].url;
      expect((await get(`${system.url}${link}`)).status).toBe(200);
      const deleted = await system.call('DELETE', `/api/rooms/${roomId}/messages/${ack.message.id}`, {
        token: ann.accessToken,
      });
      expect(deleted.body).toMatchObject({ text: '', attachments: [], deletedAt: expect.any(String) });
      expect((await get(`${system.url}${link}`)).status).toBe(404);
      expectError(
        await system.call('GET', `/api/attachments/${file.id}`, { token: ann.accessToken }),
        404,
        'NOT_FOUND',
      );
    });

    // A forced collection every 2 MiB while the uploads stream takes a while on a busy machine.
    it('refuses a 10 MiB + 1 byte file with 413 while it streams, keeps nothing, and never holds it in memory', async () => {
      const token = ann.accessToken;
      const before = await system.call('GET', '/api/attachments/none', { token });
      expect(before.status).toBe(404);
      // Memory held (after a collection) above what the process held before, sampled after every 2 MiB the
      // client writes, so every upload is sampled while it streams however fast the machine is.
      const held = async (upload: (sample: () => void) => Promise<void>): Promise<number> => {
        collectGarbage();
        const baseline = process.memoryUsage();
        let samples = 0;
        let peak = 0;
        await upload(() => {
          collectGarbage();
          const now = process.memoryUsage();
          peak = Math.max(peak, now.heapUsed + now.arrayBuffers - baseline.heapUsed - baseline.arrayBuffers);
          samples += 1;
        });
        expect(samples).toBeGreaterThan(2);
        return peak;
      };
      const exactPeak = await held(async (sample) => {
        const exact = await streamUpload(`${system.url}/api/attachments`, token, 10 * MiB + 1, sample);
        expect(exact.status).toBe(413);
        expect(exact.body.error.code).toBe('PAYLOAD_TOO_LARGE');
      });
      // Far more than the cap: refused at the cap, long before the client is done writing.
      const hugePeak = await held(async (sample) => {
        const huge = await streamUpload(`${system.url}/api/attachments`, token, 200 * MiB, sample);
        expect(huge.status).toBe(413);
        expect(huge.sentWhenAnswered).toBeLessThan(40 * MiB);
      });
      process.stdout.write(
        `held above baseline while uploading (client and server in this process): 10 MiB + 1 byte ${(exactPeak / MiB).toFixed(1)} MiB, 200 MiB ${(hugePeak / MiB).toFixed(1)} MiB\n`,
      );
      // Bounded whatever the body's size: a 200 MiB stream holds about what a 10 MiB one does (sockets'
      // buffers on both sides of the gateway, all in this process), far less than either body.
      expect(exactPeak).toBeLessThan(16 * MiB);
      expect(hugePeak).toBeLessThan(16 * MiB);
      if (!env().MONGO_URL) {
        const dir = path.join(system.dataDir, 'attachments');
        expect(readdirSync(dir).filter((entry) => entry.endsWith('.part'))).toEqual([]);
      }
    }, 120_000);

    it('refuses an image declaring more pixels than IMAGE_MAX_PIXELS', async () => {
      const big = await sharp({ create: { width: 8000, height: 6000, channels: 3, background: '#000' } })
        .png()
        .toBuffer();
      expect(big.length).toBeLessThan(MiB);
      expectError(await upload(ann, big), 400, 'VALIDATION_FAILED');
    });
  });
}

attachmentSuite('attachments, embedded store and files under DATA_DIR', () => ({}));

describeWithInfra(['mongo', 'nats'], 'attachments on MongoDB (GridFS) and NATS', () => {
  const mongo = uniqueMongoUrl();
  attachmentSuite('through the gateway', () => ({ MONGO_URL: mongo, NATS_URL: testNatsUrl()! }));
});

describe('attachment quota and lifecycle', () => {
  let system: TestSystem;
  let ann: Session;

  beforeAll(async () => {
    system = await startSystem({
      ATTACHMENT_QUOTA_BYTES: String(64 * 1024),
      ATTACHMENT_UNREFERENCED_TTL_SECONDS: '1',
      ATTACHMENT_SWEEP_INTERVAL_MS: '200',
    });
    ann = await system.account('ann');
  });

  afterAll(async () => {
    await system.stop();
  });

  const upload = (bytes: number) =>
    fetch(`${system.url}/api/attachments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ann.accessToken}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(bytes).fill(0x62),
    }).then(async (response) => ({ status: response.status, body: (await response.json()) as Json }));

  it('holds each user to ATTACHMENT_QUOTA_BYTES while streaming, and frees what is removed', async () => {
    expect((await upload(40 * 1024)).status).toBe(201);
    const over = await upload(40 * 1024);
    expect(over.status).toBe(403);
    expect(over.body.error).toMatchObject({
      code: 'LIMIT_REACHED',
      details: [{ limit: 'attachmentQuotaBytes', value: 65536 }],
    });
    expect((await upload(10 * 1024)).status).toBe(201);
    // Unused uploads go after ATTACHMENT_UNREFERENCED_TTL_SECONDS, which frees the quota again.
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline && status !== 201) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = (await upload(40 * 1024)).status;
    }
    expect(status).toBe(201);
  });

  it('removes a deleted user’s unused uploads and keeps the files their messages carry, owned by no one', async () => {
    const [zoe, yan] = [await system.account('zoe'), await system.account('yan')];
    const room = await system.call('POST', '/api/rooms', {
      token: zoe.accessToken,
      body: { name: `erasure ${process.pid}`, kind: 'public' },
    });
    await system.call('POST', `/api/rooms/${room.body.id}/members`, { token: yan.accessToken });
    const asZoe = (bytes: string) =>
      fetch(`${system.url}/api/attachments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${zoe.accessToken}`, 'content-type': 'application/octet-stream' },
        body: new TextEncoder().encode(bytes),
      }).then(async (response) => (await response.json()) as Json);
    const [posted, unused] = [await asZoe('posted'), await asZoe('unused')];
    const socket = await system.connect(zoe.accessToken);
    const ack = await socket.request({ type: 'send', roomId: room.body.id, attachmentIds: [posted.id] });
    socket.ws.close();
    expect(ack.type).toBe('ack');
    expect((await system.call('DELETE', `/api/users/${zoe.id}`, { token: zoe.accessToken })).status).toBe(
      204,
    );

    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && (await fetch(`${system.url}${unused.url}`)).status !== 404) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await fetch(`${system.url}${unused.url}`)).status).toBe(404);
    const kept = await fetch(`${system.url}${ack.message.attachments[0].url}`);
    expect(kept.status).toBe(200);
    expect(await kept.text()).toBe('posted');
    expect(
      (await system.call('GET', `/api/attachments/${posted.id}`, { token: yan.accessToken })).status,
    ).toBe(200);
  });
});
