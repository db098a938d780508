import { Router } from 'express';
import { authOf, clientAddressKey, parseInput, requireAuth, type TokenVerifier } from '@chat/shared';
import type { UsersService } from '../domain/users.service';
import { listUsersQuery, signupBody, updateUserBody, userIdParams } from './users.schemas';

/** The `/api/users` routes of the public contract. */
export function usersRouter(options: { users: UsersService; verifier: TokenVerifier }): Router {
  const { users } = options;
  const auth = requireAuth(options.verifier);
  const router = Router();

  router.post('/api/users', async (req, res) => {
    const body = parseInput(signupBody, req.body);
    // The caller going away (the gateway's upstream timeout) aborts the signup: nothing is kept.
    const callerGone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) callerGone.abort();
    });
    const user = await users.signup(body, {
      // req.ip is the client as TRUST_PROXY allows (the peer itself by default).
      address: clientAddressKey(req.ip ?? req.socket.remoteAddress ?? 'unknown'),
      signal: callerGone.signal,
    });
    res.status(201).json(user);
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
