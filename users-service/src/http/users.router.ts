import { Router } from 'express';
import { authOf, parseInput, requireAuth, type TokenVerifier } from '@chat/shared';
import type { UsersService } from '../domain/users.service';
import { listUsersQuery, signupBody, updateUserBody, userIdParams } from './users.schemas';

/** The `/api/users` routes of the public contract. */
export function usersRouter(options: { users: UsersService; verifier: TokenVerifier }): Router {
  const { users } = options;
  const auth = requireAuth(options.verifier);
  const router = Router();

  router.post('/api/users', async (req, res) => {
    res.status(201).json(await users.signup(parseInput(signupBody, req.body)));
  });

  router.get('/api/users', auth, async (req, res) => {
    res.json(await users.list(authOf(req).sub, parseInput(listUsersQuery, req.query)));
  });

  router.get('/api/users/me', auth, async (req, res) => {
    res.json(await users.me(authOf(req).sub));
  });

  router.get('/api/users/:id', auth, async (req, res) => {
    const { id } = parseInput(userIdParams, req.params);
    res.json(await users.view(authOf(req).sub, id));
  });

  router.patch('/api/users/:id', auth, async (req, res) => {
    const { id } = parseInput(userIdParams, req.params);
    const { sub, sid } = authOf(req);
    res.json(await users.update(sub, id, parseInput(updateUserBody, req.body), sid));
  });

  router.delete('/api/users/:id', auth, async (req, res) => {
    const { id } = parseInput(userIdParams, req.params);
    await users.remove(authOf(req).sub, id);
    res.status(204).end();
  });

  return router;
}
