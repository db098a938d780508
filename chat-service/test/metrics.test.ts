import { CHAT_METRICS, metricValue, PROCESS_METRICS, scrapeMetrics } from '@chat/testing';
import { createRoom, sleep, startChat, type Json, type TestChat, type TestClient } from './support';

const TOKEN = 'metrics-secret-0123456789';

/** Events the hub pushed to a socket, as opposed to replies to its own frames (which carry `ref`) and `hello`. */
const pushed = (event: Json) => event.ref === undefined && event.type !== 'hello';

describe('GET /metrics on chat-service', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat({ env: { METRICS_TOKEN: TOKEN } });
  });

  afterAll(() => chat.stop());

  async function scrape(): Promise<string> {
    const { status, text } = await scrapeMetrics(chat.url, TOKEN);
    expect(status).toBe(200);
    return text;
  }

  it('answers the process metrics and the chat metrics in the Prometheus text format', async () => {
    const { status, headers, text } = await scrapeMetrics(chat.url, TOKEN);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of [...PROCESS_METRICS, ...CHAT_METRICS]) expect(metricValue(text, name)).toBeDefined();
    expect(text).toContain('# TYPE chat_sockets gauge');
    expect(text).toContain('# TYPE chat_deliveries_total counter');
    expect(text).toContain('# TYPE chat_messages_total counter');
    expect(metricValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it.each([
    ['no token', undefined],
    ['a wrong token', 'metrics-secret-0123456780'],
    ['a prefix of the token', TOKEN.slice(0, -1)],
    ['an access-token-shaped guess', 'abc.def.ghi'],
  ])('refuses %s with 401 in the contract error shape', async (_case, token) => {
    const { status, headers, text } = await scrapeMetrics(chat.url, token);
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer');
    expect(JSON.parse(text)).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
    expect(text).not.toContain('process_cpu_seconds_total');
  });

  it('counts a stored message once and one delivery per socket it was pushed to', async () => {
    const ann = chat.users.add('ann');
    const bob = chat.users.add('bob');
    const room = await createRoom(chat, ann);
    const joined = await chat.call('POST', `/api/rooms/${room.id}/members`, { token: bob.token });
    expect(joined.status).toBe(200);
    const sockets: TestClient[] = [await chat.connect(ann), await chat.connect(ann), await chat.connect(bob)];
    // Let the presence of these sockets go out first, so what is counted below is the send's doing.
    await sleep(300);
    const received = () => sockets.reduce((sum, socket) => sum + socket.events.filter(pushed).length, 0);

    const before = await scrape();
    const receivedBefore = received();
    expect(metricValue(before, 'chat_sockets')).toBe(3);

    const ack = await sockets[0]!.request({
      type: 'send',
      roomId: room.id,
      text: 'counted',
      clientMsgId: 'm1',
    });
    expect(ack.type).toBe('ack');
    for (const socket of sockets)
      await socket.waitFor((event) => event.type === 'message' && event.message.id === ack.message.id);
    // The same clientMsgId again is answered from the store: not a new message, not delivered again.
    const again = await sockets[0]!.request({
      type: 'send',
      roomId: room.id,
      text: 'counted',
      clientMsgId: 'm1',
    });
    expect(again.message.id).toBe(ack.message.id);
    await sleep(200);

    const after = await scrape();
    expect(metricValue(after, 'chat_messages_total')! - metricValue(before, 'chat_messages_total')!).toBe(1);
    const deliveries =
      metricValue(after, 'chat_deliveries_total')! - metricValue(before, 'chat_deliveries_total')!;
    // Three sockets receive the room; anything else pushed meanwhile (presence) was received too.
    expect(deliveries).toBeGreaterThanOrEqual(3);
    expect(deliveries).toBe(received() - receivedBefore);
  });

  it('sums chat_sockets over the chat apps of the process and forgets an app once it stops', async () => {
    const baseline = metricValue(await scrape(), 'chat_sockets')!;
    const other = await startChat();
    try {
      const carol = other.users.add('carol');
      await other.connect(carol);
      await other.connect(carol);
      expect(metricValue(await scrape(), 'chat_sockets')).toBe(baseline + 2);
    } finally {
      await other.stop();
    }
    expect(metricValue(await scrape(), 'chat_sockets')).toBe(baseline);
  });
});
