import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  ForbiddenError,
  LimitReachedError,
  NotFoundError,
  PayloadTooLargeError,
  ValidationError,
  type Logger,
} from '@chat/shared';
import type { Attachment } from '@chat/protocol';
import {
  asImageError,
  ConcurrencyGate,
  inspectImage,
  isImageType,
  sanitizedImage,
  sniffFile,
  thumbnailOf,
  type BlobStore,
  type ImageInfo,
  type ReceivedUpload,
  type UploadOptions,
} from '@chat/media';
import {
  attachedFileOf,
  attachmentRefId,
  blobIdsOf,
  chargedBytes,
  MIN_CHARGED_BYTES,
  thumbnailBlobId,
  toAttachment,
  type AttachedFile,
  type AttachmentDocument,
  type AttachmentStore,
} from '../store/attachment.store';
import type { AttachmentLinks } from './attachment-links';
import type { Actor } from './entities';

/** What one user may upload and keep (README, "Configuration"). */
export interface AttachmentLimits {
  /** Largest file (ATTACHMENT_MAX_BYTES). */
  maxBytes: number;
  /** Bytes one user's attachments may take together (ATTACHMENT_QUOTA_BYTES). */
  quotaBytes: number;
  /** Pixels of an image, all frames together (IMAGE_MAX_PIXELS). */
  maxPixels: number;
  /** How long an upload no message uses is kept (ATTACHMENT_UNREFERENCED_TTL_SECONDS). */
  unreferencedTtlSeconds: number;
}

/** Images decoded at once by one instance. */
const IMAGE_CONCURRENCY = 2;
/** Attachments removed per sweep. */
const SWEEP_BATCH = 100;

/** A file to send to a client: its bytes, how to serve them, and for how long a browser may keep them. */
export interface AttachmentContent {
  stream: Readable;
  size: number;
  /** The Content-Type to serve: the image's own, `application/octet-stream` for everything else. */
  contentType: string;
  name: string;
  /** Images only: every other type is a download (`Content-Disposition: attachment`). */
  inline: boolean;
  /** Seconds the link stays valid: the most a browser may cache it. */
  maxAgeSeconds: number;
}

/**
 * Attachments (contract v1.1, "Attachments and avatars"): uploads, who may see them, the files a message
 * carries, and their removal (a deleted message's, a deleted user's unused ones, and any upload no message
 * used after a day). Access follows rooms: the uploader, and members of a room where a message carries it.
 */
export class AttachmentService {
  private readonly images = new ConcurrencyGate(IMAGE_CONCURRENCY);
  private readonly now: () => Date;

  constructor(
    private readonly deps: {
      store: AttachmentStore;
      blobs: BlobStore;
      links: AttachmentLinks;
      limits: AttachmentLimits;
      /** Whether `userId` belongs to the room (the chat store's answer). */
      isMember: (roomId: string, userId: string) => Promise<boolean>;
      logger: Logger;
      now?: () => Date;
    },
  ) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * How much the actor may upload now: ATTACHMENT_MAX_BYTES, or what is left of their quota when that is
   * less (past it, LIMIT_REACHED rather than PAYLOAD_TOO_LARGE). LIMIT_REACHED at once when the quota is used up.
   */
  async allowance(actor: Actor): Promise<Pick<UploadOptions, 'maxBytes' | 'overLimit'>> {
    const { maxBytes, quotaBytes } = this.deps.limits;
    const left = quotaBytes - (await this.deps.store.usage(actor.id));
    if (left < MIN_CHARGED_BYTES) throw this.quotaReached();
    return left < maxBytes
      ? { maxBytes: left, overLimit: () => this.quotaReached() }
      : { maxBytes, overLimit: () => new PayloadTooLargeError(`${maxBytes} bytes`) };
  }

  /**
   * Keeps a received upload as the actor's attachment: its type from its content; an image decoded (pixel
   * cap), stored re-encoded without metadata, with a thumbnail. Nothing is kept when any step fails.
   */
  async upload(actor: Actor, upload: ReceivedUpload): Promise<Attachment> {
    const id = randomUUID();
    const sniffed = await sniffFile(upload.file);
    const image = isImageType(sniffed)
      ? await inspectImage(upload.file, sniffed, this.deps.limits.maxPixels)
      : undefined;
    const type = isImageType(sniffed) && !image ? 'application/octet-stream' : sniffed;
    const document: AttachmentDocument = {
      _id: id,
      ownerId: actor.id,
      name: upload.name,
      type,
      size: 0,
      createdAt: this.now(),
    };
    try {
      if (image) Object.assign(document, await this.storeImage(id, upload.file, image));
      else document.size = (await this.deps.blobs.put(id, createReadStream(upload.file))).size;
      // Checked again on what is stored (a re-encoded image differs from the upload), so the quota holds.
      const used = await this.deps.store.usage(actor.id);
      if (used + chargedBytes(document) > this.deps.limits.quotaBytes) throw this.quotaReached();
      await this.deps.store.insert(document);
    } catch (error) {
      await this.removeBlobs({ _id: id, thumbnailSize: 0 });
      throw error;
    }
    return this.deps.links.attachment(toAttachment(attachedFileOf(document)));
  }

  /** The attachment with fresh links, for its uploader and members of a room it was posted in; else NOT_FOUND. */
  async get(actor: Actor, id: string): Promise<Attachment> {
    const [document] = await this.deps.store.find([id]);
    if (!document || !(await this.maySee(actor, document))) throw new NotFoundError('The attachment');
    return this.deps.links.attachment(toAttachment(attachedFileOf(document)));
  }

  /**
   * The bytes behind a signed link (`path` as signed, with `exp` and `sig`): FORBIDDEN when the link is not
   * one of ours or has expired, NOT_FOUND when the attachment (or its thumbnail) is gone.
   */
  async content(
    id: string,
    what: 'content' | 'thumbnail',
    link: { path: string; exp: number; sig: string },
  ): Promise<AttachmentContent> {
    const maxAgeSeconds = this.deps.links.remaining(link.path, link.exp, link.sig);
    if (maxAgeSeconds === undefined) throw new ForbiddenError('This link is not valid or has expired.');
    const [document] = await this.deps.store.find([id]);
    if (!document || (what === 'thumbnail' && document.thumbnailSize === undefined)) {
      throw new NotFoundError('The attachment');
    }
    const blobId = what === 'thumbnail' ? thumbnailBlobId(id) : id;
    const stream = await this.deps.blobs.open(blobId);
    if (!stream) throw new NotFoundError('The attachment');
    const image = isImageType(document.type);
    return {
      stream,
      size: what === 'thumbnail' ? document.thumbnailSize! : document.size,
      contentType: what === 'thumbnail' ? 'image/webp' : image ? document.type : 'application/octet-stream',
      name: document.name,
      inline: image,
      maxAgeSeconds,
    };
  }

  /**
   * The files a new message of the actor's carries, in the order given, each now used by that message:
   * VALIDATION_FAILED unless every id is an upload of the actor's, once.
   */
  async attach(
    actor: Actor,
    ids: readonly string[],
    message: { messageId: string; roomId: string },
  ): Promise<AttachedFile[]> {
    const invalid = () =>
      new ValidationError([{ path: 'attachmentIds', message: 'must be ids of your own uploads, each once' }]);
    if (new Set(ids).size !== ids.length) throw invalid();
    const owned = (documents: AttachmentDocument[]) =>
      documents.length === ids.length && documents.every((document) => document.ownerId === actor.id);
    if (!owned(await this.deps.store.find(ids))) throw invalid();
    await this.deps.store.addRefs(
      ids.map((id) => ({ _id: attachmentRefId(id, message.messageId), attachmentId: id, ...message })),
    );
    // Read again once referenced: an upload the sweep removed meanwhile is not sent as if it were there.
    const documents = await this.deps.store.find(ids);
    if (!owned(documents)) {
      await this.deps.store.removeRefsOf(message.messageId);
      throw invalid();
    }
    const byId = new Map(documents.map((document) => [document._id, document]));
    return ids.map((id) => attachedFileOf(byId.get(id)!));
  }

  /** A message id that was not stored after all (a resend of an earlier one) uses nothing. */
  async unattach(messageId: string): Promise<void> {
    await this.deps.store.removeRefsOf(messageId);
  }

  /** A deleted message: its files go, unless another message uses them too. */
  async messageDeleted(messageId: string): Promise<void> {
    const ids = await this.deps.store.removeRefsOf(messageId);
    await this.removeUnused(ids);
  }

  /**
   * A deleted user: their uploads no message uses go now. Files their messages carry stay with those
   * messages, which stay too (contract v1, "Deleting a user"), owned by no one, so nothing names the user.
   */
  async userDeleted(userId: string): Promise<void> {
    const owned = (await this.deps.store.ownedBy(userId)).map((document) => document._id);
    const unused = new Set(await this.removeUnused(owned));
    await this.deps.store.disown(owned.filter((id) => !unused.has(id)));
  }

  /** Removes uploads no message used within ATTACHMENT_UNREFERENCED_TTL_SECONDS; how many went. */
  async sweep(): Promise<number> {
    const before = new Date(this.now().getTime() - this.deps.limits.unreferencedTtlSeconds * 1000);
    const stale = await this.deps.store.staleUnreferenced(before, SWEEP_BATCH);
    for (const document of stale) await this.remove(document);
    if (stale.length > 0) this.deps.logger.info('unused attachments removed', { count: stale.length });
    return stale.length;
  }

  private async maySee(actor: Actor, document: AttachmentDocument): Promise<boolean> {
    if (document.ownerId === actor.id) return true;
    for (const roomId of await this.deps.store.roomsOf(document._id)) {
      if (await this.deps.isMember(roomId, actor.id)) return true;
    }
    return false;
  }

  /** Removes those of `ids` no message uses; their ids. */
  private async removeUnused(ids: readonly string[]): Promise<string[]> {
    const unused = await this.deps.store.unreferenced(ids);
    for (const document of await this.deps.store.find(unused)) await this.remove(document);
    return unused;
  }

  /** The bytes first: a crash in between leaves a document the next sweep removes, never a lost file. */
  private async remove(document: AttachmentDocument): Promise<void> {
    await this.removeBlobs(document);
    await this.deps.store.remove(document._id);
  }

  private async removeBlobs(document: Pick<AttachmentDocument, '_id' | 'thumbnailSize'>): Promise<void> {
    for (const blobId of blobIdsOf(document)) await this.deps.blobs.delete(blobId);
  }

  private storeImage(
    id: string,
    file: string,
    image: ImageInfo,
  ): Promise<Pick<AttachmentDocument, 'size' | 'thumbnailSize' | 'width' | 'height'>> {
    const { maxPixels } = this.deps.limits;
    return this.images.run(async () => {
      try {
        const stored = await this.deps.blobs.put(id, sanitizedImage(file, image, maxPixels));
        const thumbnail = await this.deps.blobs.put(thumbnailBlobId(id), thumbnailOf(file, image, maxPixels));
        return { size: stored.size, thumbnailSize: thumbnail.size, width: image.width, height: image.height };
      } catch (error) {
        throw asImageError(error);
      }
    });
  }

  private quotaReached(): LimitReachedError {
    const quota = this.deps.limits.quotaBytes;
    return new LimitReachedError(
      'attachmentQuotaBytes',
      quota,
      `Your attachments may take ${quota} bytes together; delete messages with files to make room.`,
    );
  }
}
