import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import express from 'express';
import request from 'supertest';
import { webClient } from '../src/http/web-client';

describe('the web client as the gateway serves it', () => {
  let dir: string;
  let app: express.Express;
  const script = `export const words = ${JSON.stringify(Array.from({ length: 400 }, (_, i) => `word${i % 20}`))};\n`;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'web-client-'));
    await mkdir(path.join(dir, 'assets'));
    await writeFile(path.join(dir, 'index.html'), `<!doctype html><title>chat</title>${' '.repeat(2000)}`);
    await writeFile(path.join(dir, 'assets', 'index-abc123.js'), script);
    await writeFile(path.join(dir, 'assets', 'logo-abc123.png'), Buffer.from([137, 80, 78, 71]));
    app = express().use(webClient(dir));
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** The bytes as sent: supertest would inflate them. */
  function raw(urlPath: string, headers: Record<string, string>) {
    return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>(
      (resolve, reject) => {
        const server = app.listen(0, '127.0.0.1', () => {
          const { port } = server.address() as AddressInfo;
          http
            .get({ host: '127.0.0.1', port, path: urlPath, headers }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (chunk: Buffer) => chunks.push(chunk));
              res.on('end', () => {
                server.close();
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
              });
            })
            .on('error', reject);
        });
      },
    );
  }

  it('sends a hashed asset brotli-compressed to a browser that takes it, cached for good', async () => {
    const reply = await raw('/assets/index-abc123.js', { 'accept-encoding': 'gzip, br' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-encoding']).toBe('br');
    expect(reply.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(reply.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(reply.headers.vary).toBe('Accept-Encoding');
    const body = reply.body;
    expect(body.length).toBeLessThan(script.length / 4);
    expect(brotliDecompressSync(body).toString()).toBe(script);
  });

  it('sends gzip where brotli is not taken, and index.html revalidated', async () => {
    const reply = await raw('/', { 'accept-encoding': 'gzip, br;q=0' });
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(reply.headers['cache-control']).toBe('no-cache');
    expect(gunzipSync(reply.body).toString()).toContain('<title>chat</title>');
    const again = await request(app)
      .get('/')
      .set('accept-encoding', 'gzip')
      .set('if-none-match', String(reply.headers.etag));
    expect(again.status).toBe(304);
  });

  it('sends files as they are to a client that takes no compression, and images always', async () => {
    const plain = await request(app).get('/assets/index-abc123.js').set('accept-encoding', 'identity');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.text).toBe(script);
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const image = await request(app).get('/assets/logo-abc123.png').set('accept-encoding', 'br, gzip');
    expect(image.headers['content-encoding']).toBeUndefined();
    expect(image.status).toBe(200);
  });

  it('serves nothing outside its directory and passes on what it does not have', async () => {
    expect((await request(app).get('/../package.json').set('accept-encoding', 'br')).status).toBe(404);
    expect((await request(app).get('/%2e%2e/web-client.js').set('accept-encoding', 'br')).status).toBe(404);
    expect((await request(app).get('/missing.js').set('accept-encoding', 'br')).status).toBe(404);
  });
});
