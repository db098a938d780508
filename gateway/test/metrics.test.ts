import { CHAT_METRICS, metricValue, PROCESS_METRICS, scrapeMetrics } from '@chat/testing';
import { startGateway, startUpstream, type Upstream } from './helpers';

const TOKEN = 'gateway-metrics-token';

describe('GET /metrics on the gateway', () => {
  let users: Upstream;
  let auth: Upstream;
  let chat: Upstream;
  let open: { url: string; stop(): Promise<void> };
  let guarded: { url: string; stop(): Promise<void> };

  beforeAll(async () => {
    [users, auth, chat] = await Promise.all([
      startUpstream('users'),
      startUpstream('auth'),
      startUpstream('chat'),
    ]);
    const upstreams = { USERS_URL: users.url, AUTH_URL: auth.url, CHAT_URLS: chat.url };
    open = await startGateway({ ...upstreams, RATE_LIMIT_PER_MINUTE: '2' });
    guarded = await startGateway({ ...upstreams, METRICS_TOKEN: TOKEN });
  });

  afterAll(async () => {
    await Promise.all([open?.stop(), guarded?.stop()]);
    await Promise.all([users.close(), auth.close(), chat.close()]);
  });

  it("answers its own process's metrics, asks no upstream, and never counts against the rate limit", async () => {
    for (let scrape = 0; scrape < 4; scrape += 1) {
      const { status, headers, text } = await scrapeMetrics(open.url);
      expect(status).toBe(200);
      expect(headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(headers.get('x-request-id')).toBeTruthy();
      for (const name of PROCESS_METRICS) expect(metricValue(text, name)).toBeGreaterThan(0);
      // A gateway in a process of its own has no chat metrics; the one-process run's has (standalone tests).
      for (const name of CHAT_METRICS) expect(text).not.toContain(name);
    }
    expect([...users.seen, ...auth.seen, ...chat.seen]).toEqual([]);
  });

  it.each([
    ['no token', undefined, 401],
    ['a wrong token', 'gateway-metrics-tokem', 401],
    ['the token', TOKEN, 200],
  ])('with METRICS_TOKEN set, answers %s with %i', async (_case, token, expected) => {
    const { status, headers, text } = await scrapeMetrics(guarded.url, token);
    expect(status).toBe(expected);
    if (expected === 401) {
      expect(headers.get('www-authenticate')).toBe('Bearer');
      expect(JSON.parse(text)).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
    } else {
      expect(metricValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    }
    expect([...users.seen, ...auth.seen, ...chat.seen]).toEqual([]);
  });
});
