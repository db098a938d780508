import { createRoom, refusal, startChat, type TestChat } from './support';

/** The contract's "Limits" on the socket: what one user may hold and send, across all their sockets. */
describe('per-user limits on the socket', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat({
      env: { WS_MAX_SOCKETS_PER_USER: '3', MESSAGES_PER_USER_PER_SECOND: '2', MESSAGES_PER_USER_BURST: '4' },
    });
  });

  afterAll(() => chat.stop());

  it('refuses a socket past WS_MAX_SOCKETS_PER_USER with 403 LIMIT_REACHED, and takes one again once a socket closes', async () => {
    const hoarder = chat.users.add('hoarder');
    const sockets = await Promise.all([1, 2, 3].map(() => chat.connect(hoarder)));
    const refused = await refusal(chat.wsUrl, { token: hoarder.token });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({
      code: 'LIMIT_REACHED',
      details: [{ limit: 'socketsPerUser', value: 3 }],
    });
    // Another user is not affected by the hoarder.
    const bystander = await chat.connect(chat.users.add('bystander'));
    expect(bystander.of('hello')).toHaveLength(1);
    sockets[0]!.ws.close();
    await sockets[0]!.closed;
    const again = await chat.connect(hoarder);
    expect(again.of('hello')).toHaveLength(1);
  });

  it('shares one message budget between all sockets of a user: sends past it get RATE_LIMITED, others keep theirs', async () => {
    const sender = chat.users.add('spreader');
    const other = chat.users.add('other-sender');
    const room = await createRoom(chat, sender);
    await chat.call('POST', `/api/rooms/${room.id}/members`, { token: other.token });
    const [first, second, third] = await Promise.all([1, 2, 3].map(() => chat.connect(sender)));
    const replies = await Promise.all(
      [first!, second!, third!].flatMap((client, index) =>
        [1, 2].map((n) =>
          client.request({
            type: 'send',
            roomId: room.id,
            text: `socket ${index} message ${n}`,
            clientMsgId: `${index}-${n}`,
          }),
        ),
      ),
    );
    const acked = replies.filter((reply) => reply.type === 'ack');
    const limited = replies.filter((reply) => reply.type === 'error');
    expect(acked).toHaveLength(4);
    expect(limited).toHaveLength(2);
    expect(limited.every((reply) => reply.code === 'RATE_LIMITED')).toBe(true);
    // The sockets stay open, and another user's budget is untouched.
    const otherSocket = await chat.connect(other);
    expect(
      await otherSocket.request({ type: 'send', roomId: room.id, text: 'mine', clientMsgId: 'o-1' }),
    ).toMatchObject({ type: 'ack' });
    expect(await first!.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });
});
