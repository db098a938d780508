import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@chat/shared';
import { describeWithInfra, uniqueMongoUrl } from '@chat/testing';
import { EmbeddedAttachmentStore } from '../src/store/attachment.store.embedded';
import { MongoAttachmentStore } from '../src/store/attachment.store.mongo';
import { attachmentStoreContract } from './attachment.store.contract';

describe('EmbeddedAttachmentStore', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'attachment-store-'));
  let count = 0;
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  attachmentStoreContract(async () => {
    const dataDir = path.join(root, String(++count));
    return async () => (await EmbeddedAttachmentStore.open(dataDir)).store;
  });
});

describeWithInfra(['mongo'], 'MongoAttachmentStore', () => {
  const logger = createLogger('attachment-store-test', 'error');
  attachmentStoreContract(async () => {
    const url = uniqueMongoUrl();
    return async () => (await MongoAttachmentStore.open(url, logger)).store;
  });
});
