import { randomUUID } from 'node:crypto';
import { subjects } from '@chat/shared';
import { createRoom, sleep, startChat, type TestChat, type TestUser } from './support';

describe('rooms over REST', () => {
  let chat: TestChat;
  let ann: TestUser;
  let bob: TestUser;
  let cid: TestUser;

  beforeAll(async () => {
    chat = await startChat();
    ann = chat.users.add('ann');
    bob = chat.users.add('bob');
    cid = chat.users.add('cid');
  });

  afterAll(() => chat.stop());

  describe('authentication', () => {
    it('answers 401 with WWW-Authenticate without a token or with a forged one', async () => {
      for (const token of [undefined, 'not-a-jwt']) {
        const response = await chat.call('GET', '/api/rooms', { token });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer');
        expect(response.body.error.code).toBe('UNAUTHENTICATED');
      }
    });
  });

  describe('POST /api/rooms', () => {
    it('creates a room owned by its creator, who is its first member', async () => {
      const response = await chat.call('POST', '/api/rooms', {
        token: ann.token,
        body: { name: '  Lobby  ', kind: 'public' },
      });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        id: expect.any(String),
        name: 'Lobby',
        kind: 'public',
        memberCount: 1,
        createdBy: ann.id,
        createdAt: expect.any(String),
        topic: null,
        myRole: 'owner',
        lastSeq: 0,
        lastReadSeq: 0,
        unread: 0,
        mentions: 0,
      });
      expect(new Date(response.body.createdAt).toISOString()).toBe(response.body.createdAt);
    });

    it('refuses a public name taken by a public room in any case with 409 ROOM_NAME_TAKEN', async () => {
      await createRoom(chat, ann, 'Taken');
      const response = await chat.call('POST', '/api/rooms', {
        token: bob.token,
        body: { name: 'TAKEN', kind: 'public' },
      });
      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('ROOM_NAME_TAKEN');
    });

    it("never reveals another private room's name: probing with private rooms always creates (issue 9)", async () => {
      await createRoom(chat, ann, 'Merger talks', 'private');
      for (const name of ['Merger talks', 'MERGER TALKS', 'Taken']) {
        const probe = await chat.call('POST', '/api/rooms', {
          token: bob.token,
          body: { name, kind: 'private' },
        });
        expect(probe.status).toBe(201);
        expect(probe.body).toMatchObject({ name, kind: 'private', createdBy: bob.id });
      }
    });

    it.each([
      ['an unknown field', { name: 'x1', kind: 'public', owner: 'me' }],
      ['a direct kind', { name: 'x2', kind: 'direct' }],
      ['a blank name', { name: '   ', kind: 'public' }],
      ['a name of 65 characters', { name: 'n'.repeat(65), kind: 'public' }],
      ['no kind', { name: 'x3' }],
    ])('answers 400 VALIDATION_FAILED for %s', async (_case, body) => {
      const response = await chat.call('POST', '/api/rooms', { token: ann.token, body });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
      expect(response.body.error.details.length).toBeGreaterThan(0);
    });
  });

  describe('GET /api/rooms', () => {
    it("lists the rooms you belong to and every public room, not others' private rooms", async () => {
      const open = await createRoom(chat, ann, undefined, 'public');
      const annsSecret = await createRoom(chat, ann, undefined, 'private');
      const bobsSecret = await createRoom(chat, bob, undefined, 'private');
      const response = await chat.call('GET', '/api/rooms', { token: bob.token });
      expect(response.status).toBe(200);
      const ids = response.body.items.map((room: { id: string }) => room.id);
      expect(ids).toEqual(expect.arrayContaining([open.id, bobsSecret.id]));
      expect(ids).not.toContain(annsSecret.id);
    });
  });

  describe('GET /api/rooms/public', () => {
    it('pages the public directory by name, with a name prefix, never listing private rooms', async () => {
      const prefix = `dir-${randomUUID().slice(0, 6)}`;
      for (const name of ['c', 'A', 'b', 'D', 'e']) await createRoom(chat, ann, `${prefix}-${name}`);
      await createRoom(chat, ann, `${prefix}-0-private`, 'private');
      const seen: string[] = [];
      let cursor: string | null = '';
      for (let pages = 0; cursor !== null; pages++) {
        expect(pages).toBeLessThan(3);
        const query: string = `?q=${prefix.toUpperCase()}&limit=2&cursor=${encodeURIComponent(cursor)}`;
        const response = await chat.call('GET', `/api/rooms/public${query}`, { token: bob.token });
        expect(response.status).toBe(200);
        expect(Object.keys(response.body).sort()).toEqual(['items', 'nextCursor']);
        expect(response.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...response.body.items.map((room: { name: string }) => room.name));
        cursor = response.body.nextCursor;
      }
      expect(seen).toEqual(['A', 'b', 'c', 'D', 'e'].map((name) => `${prefix}-${name}`));
    });

    it('refuses a bad limit or a forged cursor with 400, and answers 401 without a token', async () => {
      for (const query of ['?limit=0', '?limit=101', '?cursor=forged', '?sort=name']) {
        const response = await chat.call('GET', `/api/rooms/public${query}`, { token: bob.token });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
      }
      expect((await chat.call('GET', '/api/rooms/public')).status).toBe(401);
    });
  });

  describe('joining and leaving', () => {
    it('joins a public room (200, counted) once, and leaves it (204)', async () => {
      const room = await createRoom(chat, ann);
      const joined = await chat.call('POST', `/api/rooms/${room.id}/members`, { token: bob.token });
      expect(joined.status).toBe(200);
      expect(joined.body).toMatchObject({ id: room.id, memberCount: 2 });
      const again = await chat.call('POST', `/api/rooms/${room.id}/members`, { token: bob.token });
      expect(again.body.memberCount).toBe(2);
      const left = await chat.call('DELETE', `/api/rooms/${room.id}/members/me`, { token: bob.token });
      expect(left.status).toBe(204);
      const list = await chat.call('GET', '/api/rooms', { token: ann.token });
      expect(list.body.items.find((item: { id: string }) => item.id === room.id).memberCount).toBe(1);
    });

    it('refuses to join a private room with 403 and an unknown room with 404', async () => {
      const room = await createRoom(chat, ann, undefined, 'private');
      const forbidden = await chat.call('POST', `/api/rooms/${room.id}/members`, { token: bob.token });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error.code).toBe('FORBIDDEN');
      const missing = await chat.call('POST', '/api/rooms/no-such-room/members', { token: bob.token });
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('NOT_FOUND');
    });

    it('confirms a member of a private room with 200', async () => {
      const room = await createRoom(chat, ann, undefined, 'private');
      const response = await chat.call('POST', `/api/rooms/${room.id}/members`, { token: ann.token });
      expect(response.status).toBe(200);
      expect(response.body.id).toBe(room.id);
    });
  });

  describe('POST /api/rooms/:id/invitations', () => {
    it('does not let a profile looked up while its user was being deleted come back: later invitations are 404', async () => {
      const room = await createRoom(chat, ann, undefined, 'private');
      const doomed = chat.users.add('doomed');
      chat.users.lookupDelayMs = 200;
      try {
        // The lookup's answer was computed before the deletion and arrives after it.
        const invited = chat.call('POST', `/api/rooms/${room.id}/invitations`, {
          token: ann.token,
          body: { userId: doomed.id },
        });
        await sleep(50);
        await chat.bus.publishDurable(subjects.userDeleted.subject, {
          userId: doomed.id,
          deletedAt: new Date().toISOString(),
        });
        await invited;
      } finally {
        chat.users.lookupDelayMs = 0;
      }
      const other = await createRoom(chat, ann, undefined, 'private');
      const again = await chat.call('POST', `/api/rooms/${other.id}/invitations`, {
        token: ann.token,
        body: { userId: doomed.id },
      });
      expect(again.status).toBe(404);
    });

    it('lets a member add a user to a private room (201), who can then read it', async () => {
      const room = await createRoom(chat, ann, undefined, 'private');
      const response = await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
        token: ann.token,
        body: { userId: bob.id },
      });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ id: room.id, memberCount: 2 });
      const history = await chat.call('GET', `/api/rooms/${room.id}/messages`, { token: bob.token });
      expect(history.status).toBe(200);
    });

    it('refuses non-members (403), unknown users (404) and unknown fields (400)', async () => {
      const room = await createRoom(chat, ann, undefined, 'private');
      const outsider = await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
        token: cid.token,
        body: { userId: cid.id },
      });
      expect(outsider.status).toBe(403);
      const unknown = await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
        token: ann.token,
        body: { userId: 'u-nobody' },
      });
      expect(unknown.status).toBe(404);
      const extra = await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
        token: ann.token,
        body: { userId: bob.id, role: 'owner' },
      });
      expect(extra.status).toBe(400);
    });

    it('keeps a direct room to its two members (403)', async () => {
      const direct = await chat.call('POST', `/api/direct/${bob.id}`, { token: ann.token });
      const response = await chat.call('POST', `/api/rooms/${direct.body.id}/invitations`, {
        token: ann.token,
        body: { userId: cid.id },
      });
      expect(response.status).toBe(403);
    });
  });

  describe('POST /api/direct/:userId', () => {
    it('answers the same direct room every time, from either side, with both as members', async () => {
      const dee = chat.users.add('dee');
      const eve = chat.users.add('eve');
      const first = await chat.call('POST', `/api/direct/${eve.id}`, { token: dee.token });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ kind: 'direct', memberCount: 2, createdBy: dee.id });
      expect(first.body.name).toBe([dee.username, eve.username].sort().join(', '));
      const again = await chat.call('POST', `/api/direct/${eve.id}`, { token: dee.token });
      const reverse = await chat.call('POST', `/api/direct/${dee.id}`, { token: eve.token });
      expect(again.body.id).toBe(first.body.id);
      expect(reverse.body.id).toBe(first.body.id);
      const rooms = await chat.call('GET', '/api/rooms', { token: eve.token });
      expect(rooms.body.items.map((room: { id: string }) => room.id)).toContain(first.body.id);
      const outsider = await chat.call('GET', `/api/rooms/${first.body.id}/messages`, { token: ann.token });
      expect(outsider.status).toBe(403);
    });

    it('refuses a room with yourself (400) and with an unknown user (404)', async () => {
      const self = await chat.call('POST', `/api/direct/${ann.id}`, { token: ann.token });
      expect(self.status).toBe(400);
      expect(self.body.error.code).toBe('VALIDATION_FAILED');
      const unknown = await chat.call('POST', '/api/direct/u-nobody', { token: ann.token });
      expect(unknown.status).toBe(404);
    });
  });

  describe('GET /api/rooms/:id/messages', () => {
    it('is for members only (403), of rooms that exist (404)', async () => {
      const room = await createRoom(chat, ann);
      expect((await chat.call('GET', `/api/rooms/${room.id}/messages`, { token: bob.token })).status).toBe(
        403,
      );
      expect((await chat.call('GET', '/api/rooms/nope/messages', { token: bob.token })).status).toBe(404);
      const empty = await chat.call('GET', `/api/rooms/${room.id}/messages`, { token: ann.token });
      expect(empty.body).toEqual({ items: [], hasMore: false });
    });

    it.each([
      ['limit=0'],
      ['limit=201'],
      ['limit=ten'],
      ['before=no%20such'],
      ['page=2'],
      ['before=unknown-id'],
    ])('answers 400 for %s', async (query) => {
      const room = await createRoom(chat, ann);
      const response = await chat.call('GET', `/api/rooms/${room.id}/messages?${query}`, {
        token: ann.token,
      });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    });
  });
});
