import { describeWithInfra } from '@chat/testing';
import {
  createRoom,
  sleep,
  startChatPair,
  type ChatPair,
  type FakeUsers,
  type TestChat,
  type TestClient,
} from './support';

const PRESENCE_TTL_MS = 1_500;

/**
 * Two chat instances on one nats-server and one MongoDB-protocol database, each with a NATS connection of
 * its own, as two processes would have.
 */
describeWithInfra(['nats', 'mongo'], 'two chat instances on NATS', () => {
  let pairOfChats: ChatPair;
  let users: FakeUsers;
  let a: TestChat;
  let b: TestChat;

  beforeAll(async () => {
    pairOfChats = await startChatPair({ PRESENCE_TTL_MS: String(PRESENCE_TTL_MS) });
    ({ a, b, users } = pairOfChats);
  });

  afterAll(() => pairOfChats?.stop());

  async function pair() {
    const ann = users.add('ann');
    const bob = users.add('bob');
    const room = await createRoom(a, ann);
    expect((await b.call('POST', `/api/rooms/${room.id}/members`, { token: bob.token })).status).toBe(200);
    return { ann, bob, room };
  }

  it('delivers a message sent on one instance once to every socket of the room on both', async () => {
    const { ann, bob, room } = await pair();
    const annOnA = await a.connect(ann);
    const annOnB = await b.connect(ann);
    const bobOnB = await b.connect(bob);
    const ack = await annOnA.request({ type: 'send', roomId: room.id, text: 'across', clientMsgId: 'x1' });
    for (const socket of [annOnA, annOnB, bobOnB]) {
      expect(await socket.waitFor((e) => e.type === 'message')).toEqual({
        type: 'message',
        message: ack.message,
      });
    }
    await sleep(150);
    expect([annOnA, annOnB, bobOnB].map((socket) => socket.of('message').length)).toEqual([1, 1, 1]);
    expect(a.app.stats().subscribedRooms).toBeGreaterThan(0);
  });

  it('numbers concurrent sends on both instances without gaps or repeats', async () => {
    const { ann, bob, room } = await pair();
    const sockets = [await a.connect(ann), await b.connect(bob), await a.connect(bob), await b.connect(ann)];
    const acks = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        sockets[i % 4]!.request({ type: 'send', roomId: room.id, text: `n${i}` }),
      ),
    );
    expect(acks.map((ack) => ack.message.seq).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    for (const socket of sockets) {
      const messages = await socket.waitForCount((e) => e.type === 'message', 40);
      expect(new Set(messages.map((e) => e.message.seq)).size).toBe(40);
    }
  });

  it('sends typing across instances to the other users only', async () => {
    const { ann, bob, room } = await pair();
    const annOnA = await a.connect(ann);
    const annOnB = await b.connect(ann);
    const bobOnB = await b.connect(bob);
    annOnA.send({ type: 'typing', roomId: room.id, active: true });
    expect(await bobOnB.waitFor((e) => e.type === 'typing')).toMatchObject({
      roomId: room.id,
      user: { id: ann.id },
      active: true,
    });
    await sleep(150);
    expect([...annOnA.of('typing'), ...annOnB.of('typing')]).toEqual([]);
  });

  it('makes an invitee with a socket on the other instance receive the room at once', async () => {
    const ann = users.add('ann');
    const bob = users.add('bob');
    const room = await createRoom(a, ann, undefined, 'private');
    const annOnA = await a.connect(ann);
    const bobOnB = await b.connect(bob);
    const invited = await a.call('POST', `/api/rooms/${room.id}/invitations`, {
      token: ann.token,
      body: { userId: bob.id },
    });
    expect(invited.status).toBe(201);
    expect(await bobOnB.waitFor((e) => e.type === 'room.invited')).toMatchObject({ room: { id: room.id } });
    const ack = await annOnA.request({ type: 'send', roomId: room.id, text: 'you are in' });
    await bobOnB.waitFor((e) => e.type === 'message' && e.message.id === ack.message.id);
  });

  it('shows presence across instances: online when the first socket opens anywhere, offline when the last closes', async () => {
    const { ann, bob } = await pair();
    const annOnA = await a.connect(ann);
    const bobFirst = await b.connect(bob);
    expect(await annOnA.waitFor((e) => e.type === 'presence')).toMatchObject({
      user: { id: bob.id },
      status: 'online',
    });
    const bobSecond = await a.connect(bob);
    expect(bobSecond.of('hello')[0].online.map((user: { id: string }) => user.id)).toEqual([ann.id]);
    bobFirst.close();
    await sleep(400);
    expect(annOnA.of('presence')).toHaveLength(1);
    bobSecond.close();
    expect(await annOnA.waitFor((e) => e.type === 'presence' && e.status === 'offline')).toMatchObject({
      user: { id: bob.id },
    });
  });

  describe('when two users online on different instances start sharing a room', () => {
    /** ann on A and bob on B, online and sharing no room. */
    async function strangers() {
      const ann = users.add('ann');
      const bob = users.add('bob');
      const annOnA = await a.connect(ann);
      const bobOnB = await b.connect(bob);
      expect([annOnA.of('hello')[0].online, bobOnB.of('hello')[0].online]).toEqual([[], []]);
      // Past the presence batches of their connecting: what follows comes from the shared room alone.
      await sleep(200);
      expect([...annOnA.of('presence'), ...bobOnB.of('presence')]).toEqual([]);
      return { ann, bob, annOnA, bobOnB };
    }

    async function expectMutuallyOnline({ ann, bob, annOnA, bobOnB }: Awaited<ReturnType<typeof strangers>>) {
      for (const [socket, other] of [
        [annOnA, bob],
        [bobOnB, ann],
      ] as const) {
        expect(
          await socket.waitFor(
            (e) => e.type === 'presence' && e.user.id === other.id && e.status === 'online',
          ),
        ).toMatchObject({ user: { id: other.id, username: other.username } });
      }
      await sleep(200);
      // Nothing else (twice is possible: ann's own new room may already hold bob when her joining it is handled).
      const heard = (socket: TestClient) =>
        new Set(socket.of('presence').map((e) => `${e.user.id} ${e.status}`));
      expect(heard(annOnA)).toEqual(new Set([`${bob.id} online`]));
      expect(heard(bobOnB)).toEqual(new Set([`${ann.id} online`]));
    }

    it('an invitation on one instance makes each see the other online', async () => {
      const pair = await strangers();
      const room = await createRoom(a, pair.ann, undefined, 'private');
      const invited = await a.call('POST', `/api/rooms/${room.id}/invitations`, {
        token: pair.ann.token,
        body: { userId: pair.bob.id },
      });
      expect(invited.status).toBe(201);
      await expectMutuallyOnline(pair);
    });

    it('a new direct room makes each see the other online', async () => {
      const pair = await strangers();
      expect((await b.call('POST', `/api/direct/${pair.ann.id}`, { token: pair.bob.token })).status).toBe(
        200,
      );
      await expectMutuallyOnline(pair);
    });

    it('joining a public room over REST makes the joiner and the member see each other online', async () => {
      const pair = await strangers();
      const room = await createRoom(a, pair.ann);
      expect((await b.call('POST', `/api/rooms/${room.id}/members`, { token: pair.bob.token })).status).toBe(
        200,
      );
      await expectMutuallyOnline(pair);
    });

    it('joining a public room on the socket makes the joiner and the member see each other online', async () => {
      const pair = await strangers();
      const room = await createRoom(a, pair.ann);
      expect(await pair.bobOnB.request({ type: 'join', roomId: room.id })).toMatchObject({ type: 'joined' });
      await expectMutuallyOnline(pair);
    });
  });

  it('closes the sockets of an ended session on every instance within 2 s', async () => {
    const cid = users.add('cid');
    const sockets = [await a.connect(cid), await b.connect(cid)];
    const started = Date.now();
    await users.endSession(cid);
    for (const socket of sockets) expect((await socket.closed).code).toBe(4001);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("takes a silent instance's users offline within its TTL", async () => {
    const { ann, bob } = await pair();
    const annOnA = await a.connect(ann);
    await b.connect(bob);
    await annOnA.waitFor((e) => e.type === 'presence' && e.status === 'online');
    // B's connection to NATS dies with no goodbye: no offline notice, no more heartbeats.
    const started = Date.now();
    await pairOfChats.busB.close();
    const offline = await annOnA.waitFor(
      (e) => e.type === 'presence' && e.status === 'offline',
      2 * PRESENCE_TTL_MS + 1_000,
    );
    expect(offline.user.id).toBe(bob.id);
    expect(Date.now() - started).toBeLessThan(PRESENCE_TTL_MS + 1_000);
  });
});
