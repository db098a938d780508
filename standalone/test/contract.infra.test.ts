import { connectNatsBus, createLogger, subjects, type Bus, type BusMessage } from '@chat/shared';
import { describeWithInfra, testNatsUrl, uniqueMongoUrl, uniqueName } from '@chat/testing';
import { expectError, startSystem, within, type Json, type Session, type TestSystem } from './support/system';

/**
 * Running it (README, "Configuration"): with MONGO_URL and NATS_URL set, the same command runs on them. The
 * smoke of the one-process run, on a real NATS and a MongoDB-protocol server: the data must outlive a
 * system started on an empty DATA_DIR, and session events must travel through NATS.
 */
describeWithInfra(['nats', 'mongo'], 'contract: the one-process run on NATS and MongoDB', () => {
  const logger = createLogger('standalone-infra-test', 'error');
  let env: Record<string, string>;
  let system: TestSystem;
  let peer: Bus;
  const ended: BusMessage[] = [];

  beforeAll(async () => {
    env = { NATS_URL: testNatsUrl()!, MONGO_URL: uniqueMongoUrl() };
    peer = await connectNatsBus({ servers: testNatsUrl()!, name: uniqueName('standalone-peer-'), logger });
    await peer.consume(subjects.sessionEnded.subject, (message) => void ended.push(message));
    system = await startSystem(env);
  });

  afterAll(async () => {
    await system?.stop();
    await peer?.close();
  });

  it('signup, login, a room, a message over a socket to another member, history, logout', async () => {
    const ann: Session = await system.account('ann');
    const ben: Session = await system.account('ben');
    const room = (
      await system.call('POST', '/api/rooms', {
        token: ann.accessToken,
        body: { name: `infra ${uniqueName('')}`, kind: 'public' },
      })
    ).body;
    expect(
      (await system.call('POST', `/api/rooms/${room.id}/members`, { token: ben.accessToken })).status,
    ).toBe(200);

    const annSocket = await system.connect(ann.accessToken);
    const benSocket = await system.connect(ben.accessToken);
    const ack = await annSocket.request({
      type: 'send',
      roomId: room.id,
      text: 'over NATS',
      clientMsgId: 'n-1',
    });
    expect(ack.type).toBe('ack');
    const delivered = await benSocket.waitFor(
      (event) => event.type === 'message' && event.message.id === ack.message.id,
    );
    expect(delivered.message).toEqual(ack.message);
    const history = await system.call('GET', `/api/rooms/${room.id}/messages`, { token: ben.accessToken });
    expect(history.body).toEqual({ items: [ack.message], hasMore: false });

    expect((await system.call('POST', '/api/auth/logout', { token: ann.accessToken })).status).toBe(204);
    expect((await annSocket.closedWithin(2_000)).code).toBe(4001);
    await within(2_000, async () => {
      expectError(
        await system.call('GET', '/api/users/me', { token: ann.accessToken }),
        401,
        'UNAUTHENTICATED',
      );
      expectError(await system.call('GET', '/api/rooms', { token: ann.accessToken }), 401, 'UNAUTHENTICATED');
    });
    // The session's end went through the JetStream stream on NATS.
    await within(2_000, async () => {
      expect(ended.map((message) => (message.data as Json).sessionId)).toContain(ann.sid);
    });
    expect((await system.call('GET', '/readyz')).status).toBe(200);
  });

  it('the data lives in MongoDB: a system on an empty DATA_DIR with the same MONGO_URL has it all', async () => {
    const carl = await system.account('carl');
    const room = (
      await system.call('POST', '/api/rooms', {
        token: carl.accessToken,
        body: { name: `kept ${uniqueName('')}`, kind: 'private' },
      })
    ).body;
    const socket = await system.connect(carl.accessToken);
    const ack = await socket.request({
      type: 'send',
      roomId: room.id,
      text: 'kept in mongo',
      clientMsgId: 'k-1',
    });
    await system.stop();

    system = await startSystem(env);
    const again = await system.login(carl.username);
    expect(again.user).toEqual(carl.user);
    const history = await system.call('GET', `/api/rooms/${room.id}/messages`, { token: again.accessToken });
    expect(history.body.items).toEqual([ack.message]);
    // Access tokens from before still verify: the signing key is shared through the database.
    expect((await system.call('GET', '/api/users/me', { token: carl.accessToken })).status).toBe(200);
  });
});
