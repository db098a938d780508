import { Router } from 'express';
import { authOf, parseInput, requireAuth, type TokenVerifier } from '@chat/shared';
import { closeAfterAnswer, receiveUpload, sendFile } from '@chat/media';
import type { AvatarService } from '../domain/avatars.service';
import { avatarQuery, userIdParams } from './users.schemas';

/** An avatar's URL changes with each new picture, so a browser (or a shared cache: avatars are public) keeps it. */
const AVATAR_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/**
 * `/api/users/me/avatar` and `/api/users/{id}/avatar`. The upload streams to a temporary file under the size
 * cap and is never parsed as JSON, so this router is mounted before the JSON parser. The picture itself needs
 * no token: `<img src>` cannot send one, and avatars are public like the profiles that link them.
 */
export function avatarsRouter(options: { avatars: AvatarService; verifier: TokenVerifier }): Router {
  const { avatars } = options;
  const auth = requireAuth(options.verifier);
  const router = Router();

  router.put('/api/users/me/avatar', auth, async (req, res) => {
    const { sub } = authOf(req);
    let upload;
    try {
      upload = await receiveUpload(req, await avatars.allowance(sub));
    } catch (error) {
      closeAfterAnswer(res);
      throw error;
    }
    try {
      res.json(await avatars.set(sub, upload));
    } finally {
      await upload.discard();
    }
  });

  router.delete('/api/users/me/avatar', auth, async (req, res) => {
    await avatars.remove(authOf(req).sub);
    res.status(204).end();
  });

  router.get('/api/users/:id/avatar', async (req, res) => {
    const { id } = parseInput(userIdParams, req.params);
    const { v } = parseInput(avatarQuery, req.query);
    const avatar = await avatars.content(id, v);
    await sendFile(res, {
      ...avatar,
      contentType: 'image/webp',
      name: 'avatar.webp',
      inline: true,
      cacheControl: AVATAR_CACHE_CONTROL,
    });
  });

  return router;
}
