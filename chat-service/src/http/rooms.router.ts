import { Router } from 'express';
import { authOf, parseInput, requireAuth, type TokenVerifier } from '@chat/shared';
import type { ChatService } from '../domain/chat.service';
import type { PeopleService } from '../domain/people.service';
import { actorOf } from '../domain/entities';
import {
  announcementBody,
  banBody,
  memberParams,
  pageQuery,
  roleBody,
  updateRoomBody,
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
export function roomsRouter(options: {
  chat: ChatService;
  people: PeopleService;
  verifier: TokenVerifier;
}): Router {
  const { chat, people } = options;
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

  router.get('/api/rooms/:id/members', auth, async (req, res) => {
    const { id } = parseInput(roomIdParams, req.params);
    res.json(await people.members(actorOf(authOf(req)), id, parseInput(pageQuery, req.query)));
  });

  router.patch('/api/rooms/:id', auth, async (req, res) => {
    const { id } = parseInput(roomIdParams, req.params);
    res.json(await people.updateRoom(actorOf(authOf(req)), id, parseInput(updateRoomBody, req.body)));
  });

  router.delete('/api/rooms/:id', auth, async (req, res) => {
    const { id } = parseInput(roomIdParams, req.params);
    await people.deleteRoom(actorOf(authOf(req)), id);
    res.status(204).end();
  });

  router.put('/api/rooms/:id/members/:userId/role', auth, async (req, res) => {
    const { id, userId } = parseInput(memberParams, req.params);
    const { role } = parseInput(roleBody, req.body);
    res.json(await people.setRole(actorOf(authOf(req)), id, userId, role));
  });

  router.delete('/api/rooms/:id/members/:userId', auth, async (req, res) => {
    const { id, userId } = parseInput(memberParams, req.params);
    await people.removeMember(actorOf(authOf(req)), id, userId);
    res.status(204).end();
  });

  router.post('/api/rooms/:id/bans', auth, async (req, res) => {
    const { id } = parseInput(roomIdParams, req.params);
    const { userId } = parseInput(banBody, req.body);
    await people.ban(actorOf(authOf(req)), id, userId);
    res.status(204).end();
  });

  router.delete('/api/rooms/:id/bans/:userId', auth, async (req, res) => {
    const { id, userId } = parseInput(memberParams, req.params);
    await people.unban(actorOf(authOf(req)), id, userId);
    res.status(204).end();
  });

  router.get('/api/users/me/blocks', auth, async (req, res) => {
    res.json(await people.blocks(actorOf(authOf(req))));
  });

  router.put('/api/users/me/blocks/:userId', auth, async (req, res) => {
    const { userId } = parseInput(userIdParams, req.params);
    await people.block(actorOf(authOf(req)), userId);
    res.status(204).end();
  });

  router.delete('/api/users/me/blocks/:userId', auth, async (req, res) => {
    const { userId } = parseInput(userIdParams, req.params);
    await people.unblock(actorOf(authOf(req)), userId);
    res.status(204).end();
  });

  router.post('/api/announcements', auth, async (req, res) => {
    const { text } = parseInput(announcementBody, req.body);
    res.status(201).json(await people.announce(actorOf(authOf(req)), text));
  });

  router.get('/api/announcements', auth, async (req, res) => {
    res.json(await people.announcements(parseInput(pageQuery, req.query)));
  });

  return router;
}
