import { CHAT_METRICS, metricValue, PROCESS_METRICS, scrapeMetrics } from '@chat/testing';
import { startTestService, type TestService } from './support';

const TOKEN = 'users-metrics-token';

describe('GET /metrics on users-service', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService();
  });

  afterAll(() => service.stop());

  it('is open without METRICS_TOKEN and answers the process metrics, none of chat-service', async () => {
    const { status, headers, text } = await scrapeMetrics(service.url);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of PROCESS_METRICS) expect(metricValue(text, name)).toBeGreaterThan(0);
    for (const name of CHAT_METRICS) expect(text).not.toContain(name);
  });

  it('with METRICS_TOKEN set, answers only a request bearing it', async () => {
    await service.restart({ METRICS_TOKEN: TOKEN });
    const refused = await scrapeMetrics(service.url);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(JSON.parse(refused.text)).toEqual({
      error: { code: 'UNAUTHENTICATED', message: expect.any(String) },
    });
    expect((await scrapeMetrics(service.url, `${TOKEN}x`)).status).toBe(401);
    const allowed = await scrapeMetrics(service.url, TOKEN);
    expect(allowed.status).toBe(200);
    expect(metricValue(allowed.text, 'process_cpu_seconds_total')).toBeDefined();
  });
});
