import { metricValue, scrapeMetrics } from '@chat/testing';
import { baseConfigShape, loadConfig } from '../config';
import { ConfigError } from '../errors';
import { createLogger } from '../logger';
import { metricsRouter, processCounter, summedGauge } from './metrics';
import { createServiceApp, listen, type RunningServer } from './server';

describe('the process registry behind /metrics', () => {
  let server: RunningServer;

  beforeAll(async () => {
    const logger = createLogger('metrics-test', 'error');
    // Two routers in one process, as in the one-process run: the default metrics are registered once.
    metricsRouter();
    server = await listen(createServiceApp({ logger, routes: [metricsRouter()] }), 0, '127.0.0.1');
  });

  afterAll(() => server.close());

  const scrape = async () => (await scrapeMetrics(server.url)).text;

  it('hands every app of the process the same counter for one name', async () => {
    processCounter('test_things_total', 'Things.').inc();
    processCounter('test_things_total', 'Things.').inc(2);
    const text = await scrape();
    expect(metricValue(text, 'test_things_total')).toBe(3);
    expect(text.match(/^# TYPE test_things_total /gm)).toHaveLength(1);
  });

  it('sums a gauge over its live sources and drops a source once removed', async () => {
    const add = summedGauge('test_open_things', 'Open things.');
    const removeFirst = add(() => 2);
    const removeSecond = summedGauge('test_open_things', 'Open things.')(() => 5);
    expect(metricValue(await scrape(), 'test_open_things')).toBe(7);
    removeFirst();
    expect(metricValue(await scrape(), 'test_open_things')).toBe(5);
    removeSecond();
    expect(metricValue(await scrape(), 'test_open_things')).toBe(0);
  });

  it('refuses a METRICS_TOKEN that cannot travel as a bearer token', () => {
    expect(() => loadConfig(baseConfigShape, { PORT: '0', METRICS_TOKEN: 'has space' })).toThrow(ConfigError);
    expect(loadConfig(baseConfigShape, { PORT: '0', METRICS_TOKEN: 'a-Z_0.9~+/=' }).METRICS_TOKEN).toBe(
      'a-Z_0.9~+/=',
    );
    expect(loadConfig(baseConfigShape, { PORT: '0' }).METRICS_TOKEN).toBeUndefined();
  });
});
