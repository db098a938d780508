import { LogCapture, metricValue, PROCESS_METRICS, scrapeMetrics } from '@chat/testing';
import type { ServiceApp } from '@chat/shared';
import { memoryBus, startAuth, tempDataDir } from './support';

const TOKEN = 'auth-metrics-token';

describe('GET /metrics on auth-service', () => {
  const logs = new LogCapture();
  const data = tempDataDir();
  const bus = memoryBus(logs);
  let app: ServiceApp;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startAuth(
      { DATA_DIR: data.dir, METRICS_TOKEN: TOKEN },
      { bus, logger: logs.logger('auth-service') },
    ));
  });

  afterAll(async () => {
    await app.stop();
    await bus.close();
    data.remove();
  });

  it('answers the process metrics to a request bearing METRICS_TOKEN', async () => {
    const { status, text } = await scrapeMetrics(url, TOKEN);
    expect(status).toBe(200);
    for (const name of PROCESS_METRICS) expect(metricValue(text, name)).toBeGreaterThan(0);
  });

  it.each([
    ['no token', undefined],
    ['a wrong token', 'auth-metrics-tokem'],
  ])('refuses %s with 401 UNAUTHENTICATED and WWW-Authenticate: Bearer', async (_case, token) => {
    const { status, headers, text } = await scrapeMetrics(url, token);
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer');
    expect(JSON.parse(text).error.code).toBe('UNAUTHENTICATED');
  });

  it('never writes the token to a log line', () => {
    expect(logs.lines.join('\n')).not.toContain(TOKEN);
  });
});
