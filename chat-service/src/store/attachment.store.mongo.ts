import { randomBytes } from 'node:crypto';
import type { Connection, mongo } from 'mongoose';
import { connectMongo, duplicateKeyField, type Logger } from '@chat/shared';
import { GridFsBlobStore, type BlobStore } from '@chat/media';
import {
  chargedBytes,
  DELETED_OWNER,
  LINK_SECRET_ID,
  type AttachmentDocument,
  type AttachmentRefDocument,
  type AttachmentStore,
  type SecretDocument,
} from './attachment.store';

/** Attachments in MongoDB (or FerretDB): `attachments`, `attachment_refs`, `attachment_keys`; bytes in GridFS. */
export class MongoAttachmentStore implements AttachmentStore {
  private readonly attachments: mongo.Collection<AttachmentDocument>;
  private readonly refs: mongo.Collection<AttachmentRefDocument>;
  private readonly keys: mongo.Collection<SecretDocument>;

  private constructor(private readonly connection: Connection) {
    this.attachments = connection.collection<AttachmentDocument>('attachments');
    this.refs = connection.collection<AttachmentRefDocument>('attachment_refs');
    this.keys = connection.collection<SecretDocument>('attachment_keys');
  }

  /**
   * Connects, creates the collections and indexes if missing, and returns the store with the GridFS
   * bucket `attachments` on the same connection (closed with the store).
   */
  static async open(url: string, logger: Logger): Promise<{ store: MongoAttachmentStore; blobs: BlobStore }> {
    const connection = await connectMongo(url, { appName: 'chat-service-attachments', logger });
    try {
      const db = connection.db!;
      const existing = new Set(
        (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name),
      );
      for (const name of ['attachments', 'attachment_refs', 'attachment_keys']) {
        if (!existing.has(name)) {
          await db.createCollection(name).catch((error: { code?: number }) => {
            // Another instance created it first (NamespaceExists).
            if (error.code !== 48) throw error;
          });
        }
      }
      const store = new MongoAttachmentStore(connection);
      await store.attachments.createIndex({ ownerId: 1 });
      await store.attachments.createIndex({ createdAt: 1 });
      await store.refs.createIndex({ attachmentId: 1 });
      await store.refs.createIndex({ messageId: 1 });
      return { store, blobs: new GridFsBlobStore(connection, 'attachments') };
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  async insert(document: AttachmentDocument): Promise<void> {
    await this.attachments.insertOne(document);
  }

  async find(ids: readonly string[]): Promise<AttachmentDocument[]> {
    if (ids.length === 0) return [];
    return this.attachments.find({ _id: { $in: [...ids] } }).toArray();
  }

  async usage(ownerId: string): Promise<number> {
    const sizes = await this.attachments
      .find({ ownerId }, { projection: { size: 1, thumbnailSize: 1 } })
      .toArray();
    return sizes.reduce((sum, document) => sum + chargedBytes(document), 0);
  }

  ownedBy(ownerId: string): Promise<AttachmentDocument[]> {
    return this.attachments.find({ ownerId }).toArray();
  }

  async addRefs(refs: readonly AttachmentRefDocument[]): Promise<void> {
    for (const ref of refs) {
      try {
        await this.refs.insertOne(ref);
      } catch (error) {
        if (duplicateKeyField(error) === undefined) throw error;
      }
    }
  }

  async removeRefsOf(messageId: string): Promise<string[]> {
    const refs = await this.refs.find({ messageId }).toArray();
    if (refs.length === 0) return [];
    await this.refs.deleteMany({ messageId });
    return refs.map((ref) => ref.attachmentId);
  }

  async roomsOf(attachmentId: string): Promise<string[]> {
    const refs = await this.refs.find({ attachmentId }, { projection: { roomId: 1 } }).toArray();
    return [...new Set(refs.map((ref) => ref.roomId))];
  }

  async unreferenced(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const used = await this.refs
      .find({ attachmentId: { $in: [...ids] } }, { projection: { attachmentId: 1 } })
      .toArray();
    const usedIds = new Set(used.map((ref) => ref.attachmentId));
    return ids.filter((id) => !usedIds.has(id));
  }

  async staleUnreferenced(before: Date, limit: number): Promise<AttachmentDocument[]> {
    // Read a few pages of old attachments until `limit` unused ones are found: a message's files are old too.
    const found: AttachmentDocument[] = [];
    let after: Date | undefined;
    let afterId = '';
    while (found.length < limit) {
      const page = await this.attachments
        .find(
          after === undefined
            ? { createdAt: { $lt: before } }
            : {
                $or: [
                  { createdAt: { $gt: after, $lt: before } },
                  { createdAt: after, _id: { $gt: afterId } },
                ],
              },
        )
        .sort({ createdAt: 1, _id: 1 })
        .limit(limit)
        .toArray();
      if (page.length === 0) break;
      const unused = new Set(await this.unreferenced(page.map((document) => document._id)));
      found.push(...page.filter((document) => unused.has(document._id)));
      const last = page[page.length - 1]!;
      after = last.createdAt;
      afterId = last._id;
    }
    return found.slice(0, limit);
  }

  async disown(ids: readonly string[]): Promise<void> {
    if (ids.length > 0)
      await this.attachments.updateMany({ _id: { $in: [...ids] } }, { $set: { ownerId: DELETED_OWNER } });
  }

  async remove(id: string): Promise<boolean> {
    return (await this.attachments.deleteOne({ _id: id })).deletedCount === 1;
  }

  async linkSecret(): Promise<Buffer> {
    try {
      await this.keys.insertOne({ _id: LINK_SECRET_ID, secret: randomBytes(32).toString('base64') });
    } catch (error) {
      if (duplicateKeyField(error) === undefined) throw error;
    }
    const document = await this.keys.findOne({ _id: LINK_SECRET_ID });
    return Buffer.from(document!.secret, 'base64');
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
