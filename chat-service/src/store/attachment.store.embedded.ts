import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type Datastore from '@seald-io/nedb';
import { closeEmbeddedCollections, openEmbeddedCollection, uniqueViolationKey } from '@chat/shared';
import { FileBlobStore, type BlobStore } from '@chat/media';
import {
  chargedBytes,
  DELETED_OWNER,
  LINK_SECRET_ID,
  type AttachmentDocument,
  type AttachmentRefDocument,
  type AttachmentStore,
  type SecretDocument,
} from './attachment.store';

type Collection<T> = Datastore<T & Record<string, unknown>>;

/**
 * Attachments in NeDB files under DATA_DIR (`chat-attachments.db`, `chat-attachment-refs.db`,
 * `chat-attachment-keys.db`) and their bytes in `DATA_DIR/attachments/`. One process only.
 */
export class EmbeddedAttachmentStore implements AttachmentStore {
  private constructor(
    private readonly attachments: Collection<AttachmentDocument>,
    private readonly refs: Collection<AttachmentRefDocument>,
    private readonly keys: Collection<SecretDocument>,
  ) {}

  static async open(dataDir: string): Promise<{ store: EmbeddedAttachmentStore; blobs: BlobStore }> {
    const attachments = await openEmbeddedCollection<AttachmentDocument & Record<string, unknown>>(
      dataDir,
      'chat-attachments',
    );
    const refs = await openEmbeddedCollection<AttachmentRefDocument & Record<string, unknown>>(
      dataDir,
      'chat-attachment-refs',
    );
    const keys = await openEmbeddedCollection<SecretDocument & Record<string, unknown>>(
      dataDir,
      'chat-attachment-keys',
    );
    await attachments.ensureIndexAsync({ fieldName: 'ownerId' });
    await refs.ensureIndexAsync({ fieldName: 'attachmentId' });
    await refs.ensureIndexAsync({ fieldName: 'messageId' });
    return {
      store: new EmbeddedAttachmentStore(attachments, refs, keys),
      blobs: await FileBlobStore.open(path.resolve(dataDir, 'attachments')),
    };
  }

  async insert(document: AttachmentDocument): Promise<void> {
    await this.attachments.insertAsync(document as AttachmentDocument & Record<string, unknown>);
  }

  find(ids: readonly string[]): Promise<AttachmentDocument[]> {
    return this.attachments.findAsync({ _id: { $in: [...ids] } });
  }

  async usage(ownerId: string): Promise<number> {
    const owned = await this.attachments.findAsync({ ownerId });
    return owned.reduce((sum, document) => sum + chargedBytes(document), 0);
  }

  ownedBy(ownerId: string): Promise<AttachmentDocument[]> {
    return this.attachments.findAsync({ ownerId });
  }

  async addRefs(refs: readonly AttachmentRefDocument[]): Promise<void> {
    for (const ref of refs) {
      try {
        await this.refs.insertAsync({ ...ref });
      } catch (error) {
        if (uniqueViolationKey(error) === undefined) throw error;
      }
    }
  }

  async removeRefsOf(messageId: string): Promise<string[]> {
    const refs = await this.refs.findAsync({ messageId });
    await this.refs.removeAsync({ messageId }, { multi: true });
    return refs.map((ref) => ref.attachmentId);
  }

  async roomsOf(attachmentId: string): Promise<string[]> {
    const refs = await this.refs.findAsync({ attachmentId });
    return [...new Set(refs.map((ref) => ref.roomId))];
  }

  async unreferenced(ids: readonly string[]): Promise<string[]> {
    const used = await this.refs.findAsync({ attachmentId: { $in: [...ids] } });
    const usedIds = new Set(used.map((ref) => ref.attachmentId));
    return ids.filter((id) => !usedIds.has(id));
  }

  async staleUnreferenced(before: Date, limit: number): Promise<AttachmentDocument[]> {
    const old = await this.attachments
      .findAsync({ createdAt: { $lt: before } })
      .sort({ createdAt: 1, _id: 1 });
    const unused = new Set(await this.unreferenced(old.map((document) => document._id)));
    return old.filter((document) => unused.has(document._id)).slice(0, limit);
  }

  async disown(ids: readonly string[]): Promise<void> {
    await this.attachments.updateAsync(
      { _id: { $in: [...ids] } },
      { $set: { ownerId: DELETED_OWNER } },
      { multi: true },
    );
  }

  async remove(id: string): Promise<boolean> {
    return (await this.attachments.removeAsync({ _id: id }, {})) === 1;
  }

  async linkSecret(): Promise<Buffer> {
    try {
      await this.keys.insertAsync({ _id: LINK_SECRET_ID, secret: randomBytes(32).toString('base64') });
    } catch (error) {
      if (uniqueViolationKey(error) === undefined) throw error;
    }
    const document = await this.keys.findOneAsync({ _id: LINK_SECRET_ID });
    return Buffer.from(document!.secret, 'base64');
  }

  async close(): Promise<void> {
    await closeEmbeddedCollections([this.attachments, this.refs, this.keys] as unknown as Datastore<never>[]);
  }
}
