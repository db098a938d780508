import type { Readable } from 'node:stream';
import sharp, { type Sharp } from 'sharp';
import { ValidationError } from '@chat/shared';
import type { ImageType } from './sniff';

// libvips' operation cache holds decoded images for reuse; a server decoding each upload once gains nothing
// from it and would hold memory past the request.
sharp.cache(false);

/** What decoding an image's header told: its type, its size as shown (after EXIF orientation), its frames. */
export interface ImageInfo {
  type: ImageType;
  width: number;
  height: number;
  /** 1 for a still image; more for an animated GIF or WebP, whose frames are kept. */
  frames: number;
}

/** The longest side of a thumbnail, in pixels. */
export const THUMBNAIL_SIZE = 320;
/** The side of an avatar, in pixels (square, cropped to fill). */
export const AVATAR_SIZE = 256;

const SHARP_FORMAT: Record<ImageType, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

function tooLarge(maxPixels: number): ValidationError {
  return new ValidationError(
    [{ path: 'file', message: `must have at most ${maxPixels} pixels (all frames together)` }],
    'The image is too large to decode.',
  );
}

function undecodable(cause: unknown): ValidationError {
  const error = new ValidationError([{ path: 'file', message: 'is not an image that can be decoded' }]);
  error.cause = cause;
  return error;
}

/**
 * Reads the header of the image in `file`, which sniffing said is `type`. Undefined when it is not such an
 * image after all (the caller keeps it as a plain download). VALIDATION_FAILED when its pixels, all frames
 * together, exceed `maxPixels`: a small file can declare a huge image (a decompression bomb), and nothing
 * is decoded before this check.
 */
export async function inspectImage(
  file: string,
  type: ImageType,
  maxPixels: number,
): Promise<ImageInfo | undefined> {
  let metadata: sharp.Metadata;
  try {
    metadata = await sharp(file, { animated: true, limitInputPixels: false }).metadata();
  } catch {
    return undefined;
  }
  if (metadata.format !== SHARP_FORMAT[type] || !metadata.width || !metadata.height) return undefined;
  const frames = Math.max(1, metadata.pages ?? 1);
  const frameHeight = metadata.pageHeight ?? Math.floor(metadata.height / frames);
  if (metadata.width * frameHeight * frames > maxPixels) throw tooLarge(maxPixels);
  const shown = metadata.autoOrient ?? { width: metadata.width, height: frameHeight };
  return { type, width: shown.width, height: frames > 1 ? frameHeight : shown.height, frames };
}

function input(file: string, info: ImageInfo, maxPixels: number, animated: boolean): Sharp {
  return sharp(file, { animated: animated && info.frames > 1, limitInputPixels: maxPixels, failOn: 'error' });
}

/**
 * The image re-encoded in its own format, turned upright by its EXIF orientation, with no metadata at all:
 * EXIF (GPS position, camera), XMP, IPTC and comments are dropped (sharp keeps none unless asked). Animated
 * GIF and WebP keep their frames. Re-encoding also leaves nothing of the upload's bytes but pixels.
 */
export function sanitizedImage(file: string, info: ImageInfo, maxPixels: number): Readable {
  const image = input(file, info, maxPixels, true);
  switch (info.type) {
    case 'image/jpeg':
      return image.autoOrient().jpeg({ quality: 90 });
    case 'image/png':
      return image.autoOrient().png();
    case 'image/webp':
      return (info.frames > 1 ? image : image.autoOrient()).webp({ quality: 90 });
    case 'image/gif':
      return image.gif();
  }
}

/** A WebP of the first frame, upright, at most {@link THUMBNAIL_SIZE} on its longest side, never enlarged. */
export function thumbnailOf(file: string, info: ImageInfo, maxPixels: number): Readable {
  return input(file, info, maxPixels, false)
    .autoOrient()
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 80 });
}

/** A square WebP avatar of {@link AVATAR_SIZE} pixels from the first frame, cropped to fill, upright. */
export function avatarOf(file: string, info: ImageInfo, maxPixels: number): Readable {
  return input(file, info, maxPixels, false)
    .autoOrient()
    .resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'cover' })
    .webp({ quality: 85 });
}

/**
 * An image pipeline's failure as the client's mistake when it is sharp's (libvips reports a file that does
 * not decode as a plain Error with no code), else as it is (a store or file system error keeps its own).
 */
export function asImageError(error: unknown): unknown {
  const plain =
    typeof error === 'object' && error !== null && (error as Error).name === 'Error' && !('code' in error);
  return plain ? undecodable(error) : error;
}
