import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  NotFoundError,
  PayloadTooLargeError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
  ValidationError,
  type User,
  type WindowLimiter,
} from '@chat/shared';
import {
  asImageError,
  avatarOf,
  ConcurrencyGate,
  inspectImage,
  isImageType,
  sniffFile,
  type BlobStore,
  type ReceivedUpload,
  type UploadOptions,
} from '@chat/media';
import type { StoredAvatar, UserStore } from '../store/user.store';
import type { UserEvents } from './user-events';

/** What an avatar may be (README, "Configuration"). */
export interface AvatarLimits {
  /** Largest upload (AVATAR_MAX_BYTES). */
  maxBytes: number;
  /** Pixels of the image, all frames together (IMAGE_MAX_PIXELS). */
  maxPixels: number;
}

/** Images decoded at once by one instance: decoding takes memory in proportion to the pixels. */
const IMAGE_CONCURRENCY = 2;

/** A stored avatar's bytes: always WebP, as {@link avatarOf} writes it. */
export interface AvatarContent {
  stream: Readable;
  size: number;
}

/** A user after their avatar changed, and the avatar it replaced. */
interface AvatarChange {
  user: User;
  previous: StoredAvatar | null;
}

/**
 * Avatars (contract v1.1, "Attachments and avatars"): one per user, from an uploaded PNG, JPEG, GIF or WebP
 * (its type read from its bytes), kept as a square WebP without any metadata in the `avatars` blob store,
 * and public like the profile that links it. A new picture, its removal and the user's deletion each remove
 * the blob they replace, so a user holds one blob at most.
 */
export class AvatarService {
  private readonly images = new ConcurrencyGate(IMAGE_CONCURRENCY);
  private readonly now: () => Date;

  constructor(
    private readonly deps: {
      store: UserStore;
      blobs: BlobStore;
      events: UserEvents;
      limits: AvatarLimits;
      /** Uploads per user per hour (AVATAR_UPLOADS_PER_HOUR). */
      uploads: WindowLimiter;
      now?: () => Date;
    },
  ) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * How much the actor may upload (AVATAR_MAX_BYTES; PAYLOAD_TOO_LARGE at the byte past it), asked before the
   * body is read: the upload counts against AVATAR_UPLOADS_PER_HOUR (RATE_LIMITED past it).
   */
  async allowance(actorId: string): Promise<Pick<UploadOptions, 'maxBytes' | 'overLimit'>> {
    if (!(await this.deps.store.findAvatar(actorId))) throw accountGone();
    this.deps.uploads.reserve(actorId, this.now());
    const { maxBytes } = this.deps.limits;
    return { maxBytes, overLimit: () => new PayloadTooLargeError(`${maxBytes} bytes`) };
  }

  /**
   * Makes the received upload the actor's avatar: UNSUPPORTED_MEDIA_TYPE unless its bytes are a PNG, JPEG,
   * GIF or WebP; VALIDATION_FAILED when it does not decode or declares more than IMAGE_MAX_PIXELS. Nothing
   * is kept when any step fails; the previous picture goes once the new one is in place.
   */
  async set(actorId: string, upload: ReceivedUpload): Promise<User> {
    const { maxPixels } = this.deps.limits;
    const type = await sniffFile(upload.file);
    if (!isImageType(type)) {
      throw new UnsupportedMediaTypeError('An avatar must be a PNG, JPEG, GIF or WebP image.');
    }
    const image = await inspectImage(upload.file, type, maxPixels);
    if (!image) throw new ValidationError([{ path: 'file', message: 'is not an image that can be decoded' }]);
    const id = randomUUID();
    const { size } = await this.images.run(() =>
      this.deps.blobs.put(id, avatarOf(upload.file, image, maxPixels)).catch((error: unknown) => {
        throw asImageError(error);
      }),
    );
    let changed: AvatarChange | undefined;
    try {
      changed = await this.swap(actorId, { id, size });
    } catch (error) {
      await this.deps.blobs.delete(id);
      throw error;
    }
    // A new picture always changes something.
    return this.replaced(changed!);
  }

  /** The actor has no avatar any more (nothing changes when they had none). */
  async remove(actorId: string): Promise<void> {
    const changed = await this.swap(actorId, null);
    if (changed) await this.replaced(changed);
  }

  /** The avatar `version` (its URL's `v`) of the user; NOT_FOUND once it was replaced or removed. */
  async content(userId: string, version: string): Promise<AvatarContent> {
    const avatar = (await this.deps.store.findAvatar(userId))?.avatar;
    if (!avatar || avatar.id !== version) throw new NotFoundError('The avatar');
    const stream = await this.deps.blobs.open(avatar.id);
    if (!stream) throw new NotFoundError('The avatar');
    return { stream, size: avatar.size };
  }

  /**
   * Deletes the user, then their avatar's blob; false when there is no such user. The user goes only while
   * their avatar is the one read, so a picture set meanwhile is not left behind.
   */
  async removeUser(id: string): Promise<boolean> {
    for (;;) {
      const found = await this.deps.store.findAvatar(id);
      if (!found) return false;
      const blobId = found.avatar?.id ?? null;
      if (await this.deps.store.remove(id, blobId)) {
        if (blobId !== null) await this.deps.blobs.delete(blobId);
        return true;
      }
    }
  }

  /**
   * Sets the user's avatar to `to`, over whatever it is now; undefined when there was none and none is
   * wanted. Tried again when another change of the same avatar got in between the read and the write (each
   * miss means that change succeeded).
   */
  private async swap(userId: string, to: StoredAvatar | null): Promise<AvatarChange | undefined> {
    for (;;) {
      const found = await this.deps.store.findAvatar(userId);
      if (!found) throw accountGone();
      const previous = found.avatar;
      if (previous === null && to === null) return undefined;
      const user = await this.deps.store.swapAvatar(userId, previous?.id ?? null, to, this.now());
      if (user) return { user, previous };
    }
  }

  /** After a change: the replaced blob goes, then the change is announced (chat-service's profiles follow). */
  private async replaced(changed: AvatarChange): Promise<User> {
    if (changed.previous) await this.deps.blobs.delete(changed.previous.id);
    await this.deps.events.updated(changed.user);
    return changed.user;
  }
}

function accountGone(): UnauthenticatedError {
  return new UnauthenticatedError('The account no longer exists.');
}
