import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import sharp from 'sharp';
import type { AppError } from '@chat/shared';
import { photoWithGps, pngOf } from '@chat/testing';
import { avatarOf, inspectImage, sanitizedImage, thumbnailOf } from '../src/images';
import { sniffType } from '../src/sniff';

const MAX_PIXELS = 40_000_000;
const dir = mkdtempSync(path.join(tmpdir(), 'images-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
function fileOf(bytes: Buffer): string {
  const file = path.join(dir, String(++count));
  writeFileSync(file, bytes);
  return file;
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A PNG of a few bytes whose header declares `width` x `height` pixels: a decompression bomb. */
function pngDeclaring(width: number, height: number): Buffer {
  return pngOf(width, height, Buffer.alloc(1000));
}

async function animatedGif(): Promise<Buffer> {
  const frames = await Promise.all(
    ['#f00', '#0f0', '#00f'].map((background) =>
      sharp({ create: { width: 400, height: 200, channels: 4, background } })
        .png()
        .toBuffer(),
    ),
  );
  return sharp(frames, { join: { animated: true } })
    .gif({ delay: 100 })
    .toBuffer();
}

describe('sniffType', () => {
  it.each([
    ['image/png', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')],
    ['image/jpeg', Buffer.from('ffd8ffe000104a464946', 'hex')],
    ['image/gif', Buffer.from('GIF89a\x01\x00', 'latin1')],
    ['image/webp', Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1')],
    ['image/svg+xml', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')],
    ['image/svg+xml', Buffer.from('\ufeff \n<?xml version="1.0"?>\n<!-- x -->\n<svg onload="alert(1)"/>')],
    ['text/html', Buffer.from('  <!DOCTYPE html><html><script>alert(1)</script>')],
    ['text/html', Buffer.from('<script>alert(1)</script>')],
    ['application/pdf', Buffer.from('%PDF-1.7\n')],
    ['application/octet-stream', Buffer.from('just some text, or anything else')],
    ['application/octet-stream', Buffer.alloc(0)],
  ])('calls it %s from its bytes', (type, head) => {
    expect(sniffType(head)).toBe(type);
  });
});

describe('images', () => {
  it('strips EXIF, the GPS position with it, and turns the photo upright', async () => {
    const photo = await photoWithGps(64, 48, 6);
    const before = await sharp(photo).metadata();
    expect(before.exif?.toString('latin1')).toContain('secret-place');
    expect(before.orientation).toBe(6);
    const file = fileOf(photo);

    const info = await inspectImage(file, 'image/jpeg', MAX_PIXELS);
    expect(info).toEqual({ type: 'image/jpeg', width: 48, height: 64, frames: 1 });
    const clean = await bytesOf(sanitizedImage(file, info!, MAX_PIXELS));
    const after = await sharp(clean).metadata();
    expect(after).toMatchObject({ format: 'jpeg', width: 48, height: 64 });
    expect(after.exif).toBeUndefined();
    expect(after.orientation).toBeUndefined();
    expect(clean.includes('secret-place')).toBe(false);
    expect(clean.includes('GPS')).toBe(false);
  });

  it('refuses an image whose header declares more pixels than the cap, before decoding any', async () => {
    const bomb = pngDeclaring(20_000, 20_000);
    expect(bomb.length).toBeLessThan(100);
    const error = await inspectImage(fileOf(bomb), 'image/png', MAX_PIXELS).catch((e: AppError) => e);
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'file' }] });
  });

  it('says a file that only starts like an image is none', async () => {
    const fake = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.from('not really')]);
    expect(await inspectImage(fileOf(fake), 'image/png', MAX_PIXELS)).toBeUndefined();
  });

  it('keeps an animated GIF animated and thumbnails its first frame within the bound', async () => {
    const file = fileOf(await animatedGif());
    const info = await inspectImage(file, 'image/gif', MAX_PIXELS);
    expect(info).toEqual({ type: 'image/gif', width: 400, height: 200, frames: 3 });
    const kept = await sharp(await bytesOf(sanitizedImage(file, info!, MAX_PIXELS)), {
      animated: true,
    }).metadata();
    expect(kept).toMatchObject({ format: 'gif', pages: 3, width: 400, pageHeight: 200 });
    const thumb = await sharp(await bytesOf(thumbnailOf(file, info!, MAX_PIXELS))).metadata();
    expect(thumb).toMatchObject({ format: 'webp', width: 320, height: 160 });
    expect(thumb.pages ?? 1).toBe(1);
    // Frames count against the cap together: three frames of 80,000 pixels are 240,000.
    await expect(inspectImage(file, 'image/gif', 200_000)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('makes a square WebP avatar of 256 pixels', async () => {
    const file = fileOf(
      await sharp({ create: { width: 900, height: 300, channels: 3, background: '#345' } })
        .png()
        .toBuffer(),
    );
    const info = await inspectImage(file, 'image/png', MAX_PIXELS);
    const avatar = await sharp(await bytesOf(avatarOf(file, info!, MAX_PIXELS))).metadata();
    expect(avatar).toMatchObject({ format: 'webp', width: 256, height: 256 });
  });
});
