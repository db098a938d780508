import type { Socket } from 'node:net';
import { createRoom, startChat, type TestChat } from './support';

const BOUND = 64 * 1024;

describe('a client that stops reading', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat({
      env: {
        WS_MAX_BUFFERED_BYTES: String(BOUND),
        WS_RATE_LIMIT_PER_SECOND: '100000',
        WS_RATE_LIMIT_BURST: '100000',
        MESSAGES_PER_USER_PER_SECOND: '100000',
        MESSAGES_PER_USER_BURST: '100000',
        // The paused client answers no ping either: on a busy machine the flood outlasts two 5 s heartbeats,
        // and the heartbeat, not the bound under test, would end the socket.
        HEARTBEAT_INTERVAL_MS: '120000',
      },
    });
  });

  afterAll(() => chat.stop());

  it('is closed with 1013 once it stays behind, and the server never holds more than twice the bound for it', async () => {
    const owner = chat.users.add('owner');
    const slowUser = chat.users.add('slow');
    const room = await createRoom(chat, owner);
    await chat.call('POST', `/api/rooms/${room.id}/members`, { token: slowUser.token });
    const slow = await chat.connect(slowUser);
    const flooders = await Promise.all(Array.from({ length: 4 }, () => chat.connect(owner)));
    const rawSocket = (slow.ws as unknown as { _socket: Socket })._socket;
    rawSocket.pause();

    const text = 'x'.repeat(3_900);
    const total = 2_400;
    let sent = 0;
    await Promise.all(
      flooders.map(async (flooder) => {
        while (sent < total) {
          sent += 1;
          await flooder.request({ type: 'send', roomId: room.id, text });
        }
      }),
    );

    const stats = chat.app.stats();
    // One message event is about 4 KiB; the bound is checked before each one is queued.
    expect(stats.peakSocketBytes).toBeGreaterThan(BOUND / 2);
    expect(stats.peakSocketBytes).toBeLessThanOrEqual(2 * BOUND + 8 * 1024);

    rawSocket.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/behind/);
    expect(slow.of('message').length).toBeLessThan(total);
    for (const flooder of flooders) expect(flooder.ws.readyState).toBe(flooder.ws.OPEN);
  }, 60_000);
});
