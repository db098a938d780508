import type { RequestHandler } from 'express';
import type { Bus, Logger, TokenVerifier } from '@chat/shared';
import { consumeUserDeletions, USER_ERASURE_DURABLE } from './bus/user-erasure.consumer';
import type { ChatConfig } from './config';
import { AttachmentLinks } from './domain/attachment-links';
import { AttachmentService } from './domain/attachments.service';
import { attachmentsRouter } from './http/attachments.router';
import { EmbeddedAttachmentStore } from './store/attachment.store.embedded';
import { MongoAttachmentStore } from './store/attachment.store.mongo';

/** Attachments as chat-service runs them: the store, the service, its router, the sweep and the erasure. */
export interface RunningAttachments {
  service: AttachmentService;
  links: AttachmentLinks;
  router: RequestHandler;
  stop(): Promise<void>;
}

/**
 * Opens the attachment store (MongoDB and GridFS when MONGO_URL is set, else NeDB and files under
 * DATA_DIR), follows user deletions and sweeps unused uploads every ATTACHMENT_SWEEP_INTERVAL_MS.
 */
export async function startAttachments(
  config: ChatConfig,
  deps: {
    bus: Bus;
    logger: Logger;
    verifier: TokenVerifier;
    isMember: (roomId: string, userId: string) => Promise<boolean>;
  },
): Promise<RunningAttachments> {
  const { store, blobs } = config.MONGO_URL
    ? await MongoAttachmentStore.open(config.MONGO_URL, deps.logger)
    : await EmbeddedAttachmentStore.open(config.DATA_DIR);
  try {
    const links = new AttachmentLinks(await store.linkSecret(), config.ATTACHMENT_LINK_TTL_SECONDS);
    const service = new AttachmentService({
      store,
      blobs,
      links,
      isMember: deps.isMember,
      logger: deps.logger,
      limits: {
        maxBytes: config.ATTACHMENT_MAX_BYTES,
        quotaBytes: config.ATTACHMENT_QUOTA_BYTES,
        maxPixels: config.IMAGE_MAX_PIXELS,
        unreferencedTtlSeconds: config.ATTACHMENT_UNREFERENCED_TTL_SECONDS,
      },
    });
    const erasure = await consumeUserDeletions(
      deps.bus,
      deps.logger,
      USER_ERASURE_DURABLE.attachments,
      (userId) => service.userDeleted(userId),
    );
    let sweeping: Promise<unknown> = Promise.resolve();
    const sweeper = setInterval(() => {
      sweeping = service.sweep().catch((error: unknown) => {
        deps.logger.warn('attachment sweep failed', { error });
      });
    }, config.ATTACHMENT_SWEEP_INTERVAL_MS);
    sweeper.unref();
    return {
      service,
      links,
      router: attachmentsRouter({ attachments: service, verifier: deps.verifier }),
      async stop() {
        clearInterval(sweeper);
        await sweeping;
        await erasure.unsubscribe();
        await blobs.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
