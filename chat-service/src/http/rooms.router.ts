import { Router } from 'express';
import { authOf, parseInput, requireAuth, type TokenVerifier } from '@chat/shared';
import type { ChatService } from '../domain/chat.service';
import { actorOf } from '../domain/entities';
import {
  createRoomBody,
  editBody,
  historyQuery,
  inviteBody,
  messageParams,
  publicRoomsQuery,
  reactionParams,
  roomIdParams,
  userIdParams,
} from './rooms.schemas';

/** The `/api/rooms` and `/api/direct` routes of the public contract. */
export function roomsRouter(options: { chat: ChatService; verifier: TokenVerifier }): Router {
  const { chat } = options;
  const auth = requireAuth(options.verifier);
  const router = Router();

  router.get('/api/rooms', auth, async (req, res) => {
    res.json({ items: await chat.listRooms(authOf(req).sub) });
  });

  // Before the `/api/rooms/:id/...` routes: `public` is the directory, never a room id.
  router.get('/api/rooms/public', auth, async (req, res) => {
    res.json(await chat.publicRooms(parseInput(publicRoomsQuery, req.query)));
  });

  router.post('/api/rooms', auth, async (req, res) => {
    const body = parseInput(createRoomBody, req.body);
    res.status(201).json(await chat.createRoom(actorOf(authOf(req)), body));
  });

  router.post('/api/rooms/:id/members', auth, async (req, res) => {
    const { id } = parseInput(roomIdParams, req.params);
    res.json(await chat.joinRoom(actorOf(authOf(req)), id));
  });

  router.delete('/api/rooms/:id/members/me', auth, async (req, res) => {
    const { id } = parseInput(roomIdParams, req.params);
    await chat.leaveRoom(actorOf(authOf(req)), id);
    res.status(204).end();
  });

  router.post('/api/rooms/:id/invitations', auth, async (req, res) => {
    const { id } = parseInput(roomIdParams, req.params);
    const { userId } = parseInput(inviteBody, req.body);
    res.status(201).json(await chat.invite(actorOf(authOf(req)), id, userId));
  });

  router.post('/api/direct/:userId', auth, async (req, res) => {
    const { userId } = parseInput(userIdParams, req.params);
    res.json(await chat.openDirect(actorOf(authOf(req)), userId));
  });

  router.get('/api/rooms/:id/messages', auth, async (req, res) => {
    const { id } = parseInput(roomIdParams, req.params);
    res.json(await chat.history(actorOf(authOf(req)), id, parseInput(historyQuery, req.query)));
  });

  router.patch('/api/rooms/:id/messages/:messageId', auth, async (req, res) => {
    const { id, messageId } = parseInput(messageParams, req.params);
    const { text } = parseInput(editBody, req.body);
    res.json(await chat.changeMessage(actorOf(authOf(req)), { kind: 'edit', roomId: id, messageId, text }));
  });

  router.delete('/api/rooms/:id/messages/:messageId', auth, async (req, res) => {
    const { id, messageId } = parseInput(messageParams, req.params);
    res.json(await chat.changeMessage(actorOf(authOf(req)), { kind: 'delete', roomId: id, messageId }));
  });

  for (const [method, on] of [
    ['put', true],
    ['delete', false],
  ] as const) {
    router[method]('/api/rooms/:id/messages/:messageId/reactions/:emoji', auth, async (req, res) => {
      const { id, messageId, emoji } = parseInput(reactionParams, req.params);
      const request = { kind: 'react', roomId: id, messageId, emoji, on } as const;
      res.json(await chat.changeMessage(actorOf(authOf(req)), request));
    });
  }

  return router;
}
