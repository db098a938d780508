import { Router } from 'express';
import { authOf, parseInput, requireAuth, type TokenVerifier } from '@chat/shared';
import { closeAfterAnswer, receiveUpload, sendFile } from '@chat/media';
import type { AttachmentService } from '../domain/attachments.service';
import { actorOf } from '../domain/entities';
import { attachmentIdParams, signedLinkQuery, uploadQuery } from './attachments.schemas';

/**
 * `/api/attachments`: uploads (streamed to a temporary file under the size cap, never parsed as JSON, so
 * this router is mounted before the JSON parser), the attachment with fresh links, and the bytes behind a
 * signed link (no access token: `<img src>` cannot send one).
 */
export function attachmentsRouter(options: {
  attachments: AttachmentService;
  verifier: TokenVerifier;
}): Router {
  const { attachments } = options;
  const auth = requireAuth(options.verifier);
  const router = Router();

  router.post('/api/attachments', auth, async (req, res) => {
    const { name } = parseInput(uploadQuery, req.query);
    const actor = actorOf(authOf(req));
    let upload;
    try {
      upload = await receiveUpload(req, { ...(await attachments.allowance(actor)), name });
    } catch (error) {
      closeAfterAnswer(res);
      throw error;
    }
    try {
      res.status(201).json(await attachments.upload(actor, upload));
    } finally {
      await upload.discard();
    }
  });

  router.get('/api/attachments/:id', auth, async (req, res) => {
    const { id } = parseInput(attachmentIdParams, req.params);
    res.json(await attachments.get(actorOf(authOf(req)), id));
  });

  for (const what of ['content', 'thumbnail'] as const) {
    router.get(`/api/attachments/:id/${what}`, async (req, res) => {
      const { id } = parseInput(attachmentIdParams, req.params);
      const { exp, sig } = parseInput(signedLinkQuery, req.query);
      const file = await attachments.content(id, what, { path: req.path, exp: Number(exp), sig });
      await sendFile(res, {
        ...file,
        cacheControl: `private, max-age=${file.maxAgeSeconds}, immutable`,
      });
    });
  }

  return router;
}
