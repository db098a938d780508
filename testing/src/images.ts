import { crc32, deflateSync } from 'node:zlib';

/**
 * A JPEG photo as phones write them: a GPS position and a description (`secret-place`) in its EXIF, turned by
 * `orientation` when given, for tests that prove a stored image keeps none of it. sharp is loaded on first
 * use, not with this package.
 */
export async function photoWithGps(width = 640, height = 480, orientation?: number): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  const photo = sharp({ create: { width, height, channels: 3, background: '#2a6' } }).jpeg();
  return (orientation === undefined ? photo : photo.withMetadata({ orientation }))
    .withExif({
      IFD0: { ImageDescription: 'secret-place' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '48/1 51/1 2400/100',
        GPSLongitudeRef: 'E',
        GPSLongitude: '2/1 17/1 4000/100',
      },
    })
    .toBuffer();
}

/**
 * A PNG of `width` x `height` 8-bit RGB pixels from its scanlines (each a filter byte, 0, then the row's RGB
 * bytes), encoded here so a test needs no image library; scanlines that do not fill the declared size make a
 * file whose header promises more than it holds (a decompression bomb's shape).
 */
export function pngOf(width: number, height: number, scanlines: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(scanlines)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
