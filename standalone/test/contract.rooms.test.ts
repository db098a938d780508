import {
  expectError,
  expectInvalidField,
  isIsoTime,
  MEMBER_ROOM_KEYS,
  ROOM_KEYS,
  startSystem,
  type Json,
  type Session,
  type TestSystem,
} from './support/system';

let roomCounter = 0;
const roomName = (prefix: string) => `${prefix} ${process.pid}-${(roomCounter += 1)}`;

const MESSAGE_KEYS = [
  'attachments',
  'clientMsgId',
  'createdAt',
  'id',
  'mentions',
  'reactions',
  'rev',
  'roomId',
  'sender',
  'seq',
  'text',
];

/** Rooms and history (docs/openapi.json, tag rooms): through the gateway, history written over a socket. */
describe('contract: rooms and history', () => {
  let system: TestSystem;
  let owner: Session;
  let guest: Session;
  let outsider: Session;

  beforeAll(async () => {
    system = await startSystem();
    [owner, guest, outsider] = [
      await system.account('owner'),
      await system.account('guest'),
      await system.account('outsider'),
    ];
  });

  afterAll(async () => {
    await system.stop();
  });

  const createRoom = async (as: Session, kind: 'public' | 'private', name = roomName(kind)) => {
    const reply = await system.call('POST', '/api/rooms', { token: as.accessToken, body: { name, kind } });
    expect(reply.status).toBe(201);
    return reply.body;
  };
  const idsOf = (rooms: Json[]) => rooms.map((room) => room.id);

  /** Sends `texts` into `roomId` as `as`, over a socket, and resolves with the stored messages. */
  const post = async (as: Session, roomId: string, texts: string[]) => {
    const socket = await system.connect(as.accessToken);
    const messages: Json[] = [];
    for (const text of texts) {
      const ack = await socket.request({ type: 'send', roomId, text, clientMsgId: `c-${Math.random()}` });
      expect(ack.type).toBe('ack');
      messages.push(ack.message);
    }
    socket.ws.close();
    return messages;
  };

  describe('POST /api/rooms', () => {
    it('201 Room; the creator is its first member', async () => {
      const name = roomName('Lobby');
      const reply = await system.call('POST', '/api/rooms', {
        token: owner.accessToken,
        body: { name, kind: 'public' },
      });
      expect(reply.status).toBe(201);
      expect(Object.keys(reply.body).sort()).toEqual(MEMBER_ROOM_KEYS);
      expect(reply.body).toMatchObject({ name, kind: 'public', memberCount: 1, createdBy: owner.id });
      expect(isIsoTime(reply.body.createdAt)).toBe(true);
      const history = await system.call('GET', `/api/rooms/${reply.body.id}/messages`, {
        token: owner.accessToken,
      });
      expect(history.body).toEqual({ items: [], hasMore: false });
    });

    it('a private room too', async () => {
      const room = await createRoom(owner, 'private');
      expect(room).toMatchObject({ kind: 'private', memberCount: 1, createdBy: owner.id });
    });

    it('a public name taken by a public room, in any case, is 409 ROOM_NAME_TAKEN', async () => {
      const name = roomName('Unique');
      await createRoom(owner, 'public', name);
      for (const taken of [name, name.toUpperCase()]) {
        const reply = await system.call('POST', '/api/rooms', {
          token: guest.accessToken,
          body: { name: taken, kind: 'public' },
        });
        expectError(reply, 409, 'ROOM_NAME_TAKEN');
      }
    });

    it('a private room may have any name: names are unique among public rooms only (v1.1)', async () => {
      const name = roomName('Shared');
      await createRoom(owner, 'public', name);
      await createRoom(owner, 'private', `${name} hidden`);
      expect((await createRoom(guest, 'private', name.toUpperCase())).kind).toBe('private');
      expect((await createRoom(guest, 'private', `${name} HIDDEN`)).kind).toBe('private');
    });

    it.each([
      [{ name: 'direct one', kind: 'direct' }, 'kind'],
      [{ name: 'no kind' }, 'kind'],
      [{ kind: 'public' }, 'name'],
      [{ name: '   ', kind: 'public' }, 'name'],
      [{ name: 'x'.repeat(65), kind: 'public' }, 'name'],
      [{ name: 42, kind: 'public' }, 'name'],
    ])('refuses %j: 400 naming the field', async (body, field) => {
      expectInvalidField(await system.call('POST', '/api/rooms', { token: owner.accessToken, body }), field);
    });

    it('401 without a token', async () => {
      expectError(
        await system.call('POST', '/api/rooms', { body: { name: 'anon', kind: 'public' } }),
        401,
        'UNAUTHENTICATED',
      );
    });
  });

  describe('GET /api/rooms', () => {
    it("{items: [Room]}: your rooms plus every public room, never others' private rooms", async () => {
      const open = await createRoom(owner, 'public');
      const secret = await createRoom(owner, 'private');
      const guestSecret = await createRoom(guest, 'private');

      const forGuest = await system.call('GET', '/api/rooms', { token: guest.accessToken });
      expect(forGuest.status).toBe(200);
      expect(Object.keys(forGuest.body)).toEqual(['items']);
      // Rooms you belong to carry your read state (v1.1); the public ones you are not in do not.
      for (const room of forGuest.body.items) {
        expect([ROOM_KEYS, MEMBER_ROOM_KEYS]).toContainEqual(Object.keys(room).sort());
      }
      expect(Object.keys(forGuest.body.items.find((room: Json) => room.id === open.id)).sort()).toEqual(
        ROOM_KEYS,
      );
      expect(
        Object.keys(forGuest.body.items.find((room: Json) => room.id === guestSecret.id)).sort(),
      ).toEqual(MEMBER_ROOM_KEYS);
      expect(idsOf(forGuest.body.items)).toEqual(expect.arrayContaining([open.id, guestSecret.id]));
      expect(idsOf(forGuest.body.items)).not.toContain(secret.id);

      const forOwner = await system.call('GET', '/api/rooms', { token: owner.accessToken });
      expect(idsOf(forOwner.body.items)).toEqual(expect.arrayContaining([open.id, secret.id]));
      expect(idsOf(forOwner.body.items)).not.toContain(guestSecret.id);
    });

    it('401 without a token', async () => {
      expectError(await system.call('GET', '/api/rooms'), 401, 'UNAUTHENTICATED');
    });
  });

  describe('POST /api/rooms/:id/members and DELETE /api/rooms/:id/members/me', () => {
    it('joining a public room: 200 Room with the new member counted; again changes nothing', async () => {
      const room = await createRoom(owner, 'public');
      const reply = await system.call('POST', `/api/rooms/${room.id}/members`, { token: guest.accessToken });
      expect(reply.status).toBe(200);
      expect(Object.keys(reply.body).sort()).toEqual(MEMBER_ROOM_KEYS);
      expect(reply.body).toMatchObject({ id: room.id, memberCount: 2 });
      const again = await system.call('POST', `/api/rooms/${room.id}/members`, { token: guest.accessToken });
      expect(again.body.memberCount).toBe(2);
      expect(
        (await system.call('GET', `/api/rooms/${room.id}/messages`, { token: guest.accessToken })).status,
      ).toBe(200);
    });

    it('a private room: 403 FORBIDDEN, and no membership', async () => {
      const room = await createRoom(owner, 'private');
      expectError(
        await system.call('POST', `/api/rooms/${room.id}/members`, { token: guest.accessToken }),
        403,
        'FORBIDDEN',
      );
      expectError(
        await system.call('GET', `/api/rooms/${room.id}/messages`, { token: guest.accessToken }),
        403,
        'FORBIDDEN',
      );
    });

    it('a room that does not exist: 404', async () => {
      expectError(
        await system.call('POST', '/api/rooms/no-such-room/members', { token: guest.accessToken }),
        404,
        'NOT_FOUND',
      );
    });

    it('leaving: 204, then history is 403 and the count drops', async () => {
      const room = await createRoom(owner, 'public');
      await system.call('POST', `/api/rooms/${room.id}/members`, { token: guest.accessToken });
      const reply = await system.call('DELETE', `/api/rooms/${room.id}/members/me`, {
        token: guest.accessToken,
      });
      expect(reply.status).toBe(204);
      expect(reply.text).toBe('');
      expectError(
        await system.call('GET', `/api/rooms/${room.id}/messages`, { token: guest.accessToken }),
        403,
        'FORBIDDEN',
      );
      const listed = (await system.call('GET', '/api/rooms', { token: owner.accessToken })).body.items.find(
        (candidate: Json) => candidate.id === room.id,
      );
      expect(listed.memberCount).toBe(1);
    });

    it('401 without a token', async () => {
      expectError(await system.call('POST', '/api/rooms/any/members'), 401, 'UNAUTHENTICATED');
      expectError(await system.call('DELETE', '/api/rooms/any/members/me'), 401, 'UNAUTHENTICATED');
    });
  });

  describe('POST /api/rooms/:id/invitations', () => {
    it('a member invites: 201, the invitee is a member of the private room', async () => {
      const room = await createRoom(owner, 'private');
      const reply = await system.call('POST', `/api/rooms/${room.id}/invitations`, {
        token: owner.accessToken,
        body: { userId: guest.id },
      });
      expect(reply.status).toBe(201);
      expect(reply.body).toMatchObject({ id: room.id, memberCount: 2 });
      expect(
        (await system.call('GET', `/api/rooms/${room.id}/messages`, { token: guest.accessToken })).status,
      ).toBe(200);
      const rooms = await system.call('GET', '/api/rooms', { token: guest.accessToken });
      expect(idsOf(rooms.body.items)).toContain(room.id);
    });

    it('a non-member may not invite: 403, and the invitee is not added', async () => {
      const room = await createRoom(owner, 'private');
      const reply = await system.call('POST', `/api/rooms/${room.id}/invitations`, {
        token: outsider.accessToken,
        body: { userId: outsider.id },
      });
      expectError(reply, 403, 'FORBIDDEN');
      expectError(
        await system.call('GET', `/api/rooms/${room.id}/messages`, { token: outsider.accessToken }),
        403,
        'FORBIDDEN',
      );
    });

    it('an unknown user or room is 404; a bad body is 400', async () => {
      const room = await createRoom(owner, 'private');
      expectError(
        await system.call('POST', `/api/rooms/${room.id}/invitations`, {
          token: owner.accessToken,
          body: { userId: 'nobody' },
        }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await system.call('POST', '/api/rooms/no-such-room/invitations', {
          token: owner.accessToken,
          body: { userId: guest.id },
        }),
        404,
        'NOT_FOUND',
      );
      for (const body of [{}, { userId: { $ne: null } }, { userId: guest.id, role: 'owner' }]) {
        expectError(
          await system.call('POST', `/api/rooms/${room.id}/invitations`, { token: owner.accessToken, body }),
          400,
          'VALIDATION_FAILED',
        );
      }
    });
  });

  describe('POST /api/direct/:userId', () => {
    it('200 Room of kind direct, the same room every time and from either side', async () => {
      const first = await system.call('POST', `/api/direct/${guest.id}`, { token: owner.accessToken });
      expect(first.status).toBe(200);
      expect(Object.keys(first.body).sort()).toEqual(MEMBER_ROOM_KEYS);
      expect(first.body).toMatchObject({ kind: 'direct', memberCount: 2 });
      const again = await system.call('POST', `/api/direct/${guest.id}`, { token: owner.accessToken });
      const reverse = await system.call('POST', `/api/direct/${owner.id}`, { token: guest.accessToken });
      expect(again.body.id).toBe(first.body.id);
      expect(reverse.body.id).toBe(first.body.id);
      // Members only: a third user cannot read it, join it or be invited into it.
      const id = first.body.id;
      expectError(
        await system.call('GET', `/api/rooms/${id}/messages`, { token: outsider.accessToken }),
        403,
        'FORBIDDEN',
      );
      expectError(
        await system.call('POST', `/api/rooms/${id}/members`, { token: outsider.accessToken }),
        403,
        'FORBIDDEN',
      );
      expectError(
        await system.call('POST', `/api/rooms/${id}/invitations`, {
          token: owner.accessToken,
          body: { userId: outsider.id },
        }),
        403,
        'FORBIDDEN',
      );
      const outsiderRooms = await system.call('GET', '/api/rooms', { token: outsider.accessToken });
      expect(idsOf(outsiderRooms.body.items)).not.toContain(id);
      const guestRooms = await system.call('GET', '/api/rooms', { token: guest.accessToken });
      expect(idsOf(guestRooms.body.items)).toContain(id);
    });

    it('a user that does not exist is 404', async () => {
      expectError(
        await system.call('POST', '/api/direct/no-such-user', { token: owner.accessToken }),
        404,
        'NOT_FOUND',
      );
    });
  });

  describe('GET /api/rooms/:id/messages', () => {
    let room: Json;
    let messages: Json[];

    beforeAll(async () => {
      room = await createRoom(owner, 'public');
      await system.call('POST', `/api/rooms/${room.id}/members`, { token: guest.accessToken });
      messages = [
        ...(await post(owner, room.id, ['one', 'two', 'three'])),
        ...(await post(guest, room.id, ['four', '  five  '])),
      ];
    });

    it('{items: [Message], hasMore}, oldest first, seq counting up by exactly 1', async () => {
      const reply = await system.call('GET', `/api/rooms/${room.id}/messages`, { token: guest.accessToken });
      expect(reply.status).toBe(200);
      expect(Object.keys(reply.body).sort()).toEqual(['hasMore', 'items']);
      expect(reply.body.hasMore).toBe(false);
      expect(reply.body.items).toEqual(messages);
      expect(reply.body.items.map((message: Json) => message.text)).toEqual([
        'one',
        'two',
        'three',
        'four',
        'five',
      ]);
      const seqs = reply.body.items.map((message: Json) => message.seq);
      for (let i = 1; i < seqs.length; i += 1) expect(seqs[i]).toBe(seqs[i - 1] + 1);
      for (const message of reply.body.items) {
        expect(Object.keys(message).sort()).toEqual(MESSAGE_KEYS);
        expect(message.roomId).toBe(room.id);
        expect(isIsoTime(message.createdAt)).toBe(true);
      }
      expect(reply.body.items[0].sender).toEqual({ id: owner.id, username: owner.username });
      expect(reply.body.items[3].sender).toEqual({ id: guest.id, username: guest.username });
    });

    it('limit takes the newest; before and after page by message id', async () => {
      const ids = messages.map((message) => message.id);
      const page = async (query: string) =>
        (await system.call('GET', `/api/rooms/${room.id}/messages?${query}`, { token: owner.accessToken }))
          .body;
      expect(await page('limit=2')).toEqual({ items: messages.slice(3), hasMore: true });
      expect(await page(`limit=2&before=${ids[3]}`)).toEqual({ items: messages.slice(1, 3), hasMore: true });
      expect(await page(`limit=2&before=${ids[1]}`)).toEqual({ items: messages.slice(0, 1), hasMore: false });
      expect(await page(`limit=2&after=${ids[0]}`)).toEqual({ items: messages.slice(1, 3), hasMore: true });
      expect(await page(`limit=2&after=${ids[2]}`)).toEqual({ items: messages.slice(3), hasMore: false });
      expect(await page(`after=${ids[4]}`)).toEqual({ items: [], hasMore: false });
    });

    it('members only: 403 for others, 404 for a room that does not exist', async () => {
      expectError(
        await system.call('GET', `/api/rooms/${room.id}/messages`, { token: outsider.accessToken }),
        403,
        'FORBIDDEN',
      );
      expectError(
        await system.call('GET', '/api/rooms/no-such-room/messages', { token: owner.accessToken }),
        404,
        'NOT_FOUND',
      );
      expectError(await system.call('GET', `/api/rooms/${room.id}/messages`), 401, 'UNAUTHENTICATED');
    });

    it.each([
      'limit=0',
      'limit=201',
      'limit=ten',
      'before=no-such-message',
      'after=a%20b',
      'since=x',
      'limit[$gt]=1',
    ])('%s is 400', async (query) => {
      const reply = await system.call('GET', `/api/rooms/${room.id}/messages?${query}`, {
        token: owner.accessToken,
      });
      expectError(reply, 400, 'VALIDATION_FAILED');
    });

    it('limit 1 and 200 are accepted', async () => {
      for (const limit of [1, 200]) {
        const reply = await system.call('GET', `/api/rooms/${room.id}/messages?limit=${limit}`, {
          token: owner.accessToken,
        });
        expect(reply.status).toBe(200);
        expect(reply.body.items.length).toBe(Math.min(limit, messages.length));
      }
    });
  });
});
