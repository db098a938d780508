import type { Attachment } from '@chat/protocol';

/**
 * An uploaded file as the store keeps it. The bytes are in the blob store under `_id` (and the thumbnail
 * under `<_id>.thumb`); this is what is known about them.
 */
export interface AttachmentDocument {
  _id: string;
  ownerId: string;
  name: string;
  /** Decided from the content (`@chat/media` `sniffType`). */
  type: string;
  /** Bytes of the stored file (for an image, the re-encoded one). */
  size: number;
  /** Bytes of the thumbnail; images only. */
  thumbnailSize?: number;
  width?: number;
  height?: number;
  createdAt: Date;
}

/**
 * One message's use of one attachment: `_id` `<attachmentId>/<messageId>` makes it unique in every adapter.
 * Documents of their own rather than an array on the attachment: FerretDB 1.24 may lose one of two
 * concurrent updates of a document, and a lost reference would let the file be removed from under a message.
 */
export interface AttachmentRefDocument {
  _id: string;
  attachmentId: string;
  messageId: string;
  roomId: string;
}

/** What a message document keeps of each of its attachments, as it was when the message was sent. */
export interface AttachedFile {
  id: string;
  name: string;
  type: string;
  size: number;
  width?: number;
  height?: number;
  thumbnail: boolean;
}

/** Each file counts at least this much against its owner's quota, so a quota also bounds how many there are. */
export const MIN_CHARGED_BYTES = 4096;

/** What an attachment costs its owner: its bytes and its thumbnail's, at least {@link MIN_CHARGED_BYTES}. */
export function chargedBytes(document: Pick<AttachmentDocument, 'size' | 'thumbnailSize'>): number {
  return Math.max(MIN_CHARGED_BYTES, document.size + (document.thumbnailSize ?? 0));
}

/** The owner of files a deleted user's messages still carry: nothing in the store names them any more. */
export const DELETED_OWNER = 'deleted-user';

export const attachmentRefId = (attachmentId: string, messageId: string) => `${attachmentId}/${messageId}`;

/** The blob ids of an attachment: the file, and the thumbnail when it is an image. */
export const blobIdsOf = (document: Pick<AttachmentDocument, '_id' | 'thumbnailSize'>): string[] =>
  document.thumbnailSize === undefined ? [document._id] : [document._id, thumbnailBlobId(document._id)];
export const thumbnailBlobId = (attachmentId: string) => `${attachmentId}.thumb`;

/** The paths an attachment is fetched at; links are these, signed (`domain/attachment-links.ts`). */
export const contentPath = (id: string) => `/api/attachments/${id}/content`;
export const thumbnailPath = (id: string) => `/api/attachments/${id}/thumbnail`;

export function attachedFileOf(document: AttachmentDocument): AttachedFile {
  return {
    id: document._id,
    name: document.name,
    type: document.type,
    size: document.size,
    ...(document.width === undefined ? {} : { width: document.width, height: document.height }),
    thumbnail: document.thumbnailSize !== undefined,
  };
}

/** An attachment as clients see it, with unsigned paths: whatever hands it out signs them first. */
export function toAttachment(file: AttachedFile): Attachment {
  return {
    id: file.id,
    name: file.name,
    type: file.type,
    size: file.size,
    ...(file.width === undefined ? {} : { width: file.width, height: file.height }),
    url: contentPath(file.id),
    ...(file.thumbnail ? { thumbnailUrl: thumbnailPath(file.id) } : {}),
  };
}

/**
 * Attachments and the messages that use them (`attachments` and `attachment_refs`), and the secret links
 * are signed with. Plain objects in and out; several processes may use one database at once.
 */
export interface AttachmentStore {
  insert(document: AttachmentDocument): Promise<void>;
  /** Those of `ids` that exist, in no particular order. */
  find(ids: readonly string[]): Promise<AttachmentDocument[]>;
  /** Bytes charged to `ownerId` ({@link chargedBytes} of each of their attachments). */
  usage(ownerId: string): Promise<number>;
  /** Every attachment of `ownerId`. */
  ownedBy(ownerId: string): Promise<AttachmentDocument[]>;
  /** Records that a message uses these attachments; adding a reference again changes nothing. */
  addRefs(refs: readonly AttachmentRefDocument[]): Promise<void>;
  /** Removes the references of one message; the ids of the attachments it used. */
  removeRefsOf(messageId: string): Promise<string[]>;
  /** The rooms of the messages that use the attachment. */
  roomsOf(attachmentId: string): Promise<string[]>;
  /** Those of `ids` that no message uses. */
  unreferenced(ids: readonly string[]): Promise<string[]>;
  /** Up to `limit` attachments created before `before`, oldest first, that no message uses. */
  staleUnreferenced(before: Date, limit: number): Promise<AttachmentDocument[]>;
  /** Gives the attachments to another owner (a deleted user's, to no one: {@link DELETED_OWNER}). */
  disown(ids: readonly string[]): Promise<void>;
  /** Removes the attachment's document; false when there was none. */
  remove(id: string): Promise<boolean>;
  /**
   * The secret links are signed with: made once, kept in the store, the same for every instance (two that
   * start together race to insert it; the first one wins and both read that one).
   */
  linkSecret(): Promise<Buffer>;
  close(): Promise<void>;
}

/** The document that keeps the link secret. */
export interface SecretDocument {
  _id: string;
  secret: string;
}
export const LINK_SECRET_ID = 'attachment-links';
