import { CHAT_METRICS, metricValue, PROCESS_METRICS, scrapeMetrics } from '@chat/testing';
import { startSystem, type TestSystem } from './support/system';

const TOKEN = 'one-process-metrics-token';

/** `GET /metrics` on the one-process run (contract v1.1, "Operations"): the gateway describes the process. */
describe('contract: /metrics of the one-process run', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem({ METRICS_TOKEN: TOKEN });
  });

  afterAll(async () => {
    await system.stop();
  });

  const scrape = async () => {
    const { status, text } = await scrapeMetrics(system.url, TOKEN);
    expect(status).toBe(200);
    return text;
  };

  it('requires METRICS_TOKEN as a bearer token at the gateway', async () => {
    for (const token of [undefined, 'not-the-token']) {
      const { status, headers, text } = await scrapeMetrics(system.url, token);
      expect(status).toBe(401);
      expect(headers.get('www-authenticate')).toBe('Bearer');
      expect(JSON.parse(text).error.code).toBe('UNAUTHENTICATED');
    }
  });

  it("the gateway's /metrics has the process's metrics and chat-service's, which follow a socket send", async () => {
    const before = await scrape();
    for (const name of [...PROCESS_METRICS, ...CHAT_METRICS]) expect(metricValue(before, name)).toBeDefined();

    const ann = await system.account('metrics_ann');
    const bob = await system.account('metrics_bob');
    const created = await system.call('POST', '/api/rooms', {
      token: ann.accessToken,
      body: { name: `metrics ${process.pid}`, kind: 'public' },
    });
    expect(created.status).toBe(201);
    const roomId = created.body.id as string;
    expect(
      (await system.call('POST', `/api/rooms/${roomId}/members`, { token: bob.accessToken })).status,
    ).toBe(200);
    const annSocket = await system.connect(ann.accessToken);
    const bobSocket = await system.connect(bob.accessToken);
    const sockets = metricValue(await scrape(), 'chat_sockets')!;
    expect(sockets).toBe(metricValue(before, 'chat_sockets')! + 2);

    const ack = await annSocket.request({ type: 'send', roomId, text: 'measured' });
    expect(ack.type).toBe('ack');
    for (const socket of [annSocket, bobSocket])
      await socket.waitFor((event) => event.type === 'message' && event.message.id === ack.message.id);

    const after = await scrape();
    expect(metricValue(after, 'chat_messages_total')! - metricValue(before, 'chat_messages_total')!).toBe(1);
    expect(
      metricValue(after, 'chat_deliveries_total')! - metricValue(before, 'chat_deliveries_total')!,
    ).toBeGreaterThanOrEqual(2);
  });
});
