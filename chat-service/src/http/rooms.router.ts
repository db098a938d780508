import { Router } from 'express';
import { authOf, parseInput, requireAuth, type AccessClaims, type TokenVerifier } from '@chat/shared';
import type { ChatService } from '../domain/chat.service';
import type { Actor } from '../domain/entities';
import {
  createRoomBody,
  historyQuery,
  inviteBody,
  publicRoomsQuery,
  roomIdParams,
  userIdParams,
} from './rooms.schemas';

const actorOf = (claims: AccessClaims): Actor => ({ id: claims.sub, username: claims.username });

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

  return router;
}
