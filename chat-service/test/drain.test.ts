import type { BusMessage } from '@chat/shared';
import { refusal, startChat, type TestChat } from './support';

describe('announcing and draining an instance', () => {
  let chat: TestChat;
  const announcements: BusMessage['data'][] = [];

  beforeAll(async () => {
    chat = await startChat({
      env: {
        DRAIN_SPREAD_MS: '400',
        INSTANCE_ANNOUNCE_INTERVAL_MS: '100',
        PUBLIC_URL: 'http://chat-1.internal:3003',
      },
    });
    chat.bus.subscribe('chat.instances', (message) => {
      announcements.push(message.data);
    });
  });

  afterAll(() => chat.stop());

  it('announces where it is and how many sockets it holds', async () => {
    const user = chat.users.add('load');
    await chat.connect(user);
    await chat.connect(user);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(announcements.at(-1)).toEqual({
      id: chat.app.instanceId,
      url: 'http://chat-1.internal:3003',
      sockets: 2,
      draining: false,
      ttlMs: 300,
    });
  });

  it('on stop announces draining, refuses new sockets with 503 and closes the open ones with 1012, spread out', async () => {
    const user = chat.users.add('drained');
    const clients = await Promise.all(Array.from({ length: 4 }, () => chat.connect(user)));
    const closedAt: number[] = [];
    const codes = Promise.all(
      clients.map((client) =>
        client.closed.then(({ code }) => {
          closedAt.push(Date.now());
          return code;
        }),
      ),
    );
    const stopping = chat.app.stop();
    const refused = await refusal(chat.wsUrl, { token: user.token });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(await codes).toEqual([1012, 1012, 1012, 1012]);
    // Four sockets over 400 ms close at 0, 100, 200 and 300 ms; all at once would span ~0 ms. Half the
    // nominal span leaves room for a busy machine's timer jitter.
    expect(Math.max(...closedAt) - Math.min(...closedAt)).toBeGreaterThanOrEqual(150);
    expect(announcements).toContainEqual(
      expect.objectContaining({ id: chat.app.instanceId, draining: true }),
    );
    await stopping;
  });
});
