import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { bearerToken } from '../auth/verifier';
import { UnauthenticatedError } from '../errors';

/**
 * The one registry of this process (README, "Operations"). Every service in a process registers here, so
 * the one-process run's `/metrics` describes the whole process and no metric is registered twice.
 */
const registry = new Registry();

/** Sources of each summed gauge, by metric name: one per live instance of what it counts. */
const gaugeSources = new Map<string, Set<() => number>>();

let defaultsCollected = false;

/** A counter as the code that counts sees it. */
export interface MetricCounter {
  inc(value?: number): void;
}

/**
 * The counter `name` of this process, created on first use: several apps in one process (the one-process
 * run, a test file) share it.
 */
export function processCounter(name: string, help: string): MetricCounter {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, registers: [registry] });
}

/**
 * A gauge whose value, read at each scrape, is the sum of what its sources report then: one source per
 * live instance (several chat apps may share a process in tests). Returns the function that adds a
 * source; that returns the function that removes it again (on stop).
 */
export function summedGauge(name: string, help: string): (source: () => number) => () => void {
  let sources = gaugeSources.get(name);
  if (!sources) {
    const live = new Set<() => number>();
    sources = live;
    gaugeSources.set(name, live);
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        let sum = 0;
        for (const source of live) sum += source();
        this.set(sum);
      },
    });
  }
  const live = sources;
  return (source) => {
    live.add(source);
    return () => {
      live.delete(source);
    };
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export interface MetricsRouterOptions {
  /** When set, `/metrics` answers only requests bearing this token (`Authorization: Bearer <token>`). */
  token?: string;
}

/**
 * `GET /metrics` in the Prometheus text format: the process's default metrics (memory, heap, CPU, event
 * loop, collected once per process) and whatever the services of this process registered. With a token,
 * a request without it answers 401 UNAUTHENTICATED; the comparison takes the same time whatever the
 * guess (both sides are hashed to equal lengths first).
 */
export function metricsRouter(options: MetricsRouterOptions = {}): Router {
  if (!defaultsCollected) {
    collectDefaultMetrics({ register: registry });
    defaultsCollected = true;
  }
  const expected = options.token === undefined ? undefined : digest(options.token);
  const router = Router();
  router.get('/metrics', async (req, res) => {
    if (expected) {
      const given = bearerToken(req.get('authorization'));
      if (given === undefined || !timingSafeEqual(digest(given), expected))
        throw new UnauthenticatedError('/metrics requires the metrics token as a bearer token.');
    }
    const text = await registry.metrics();
    res.set('Content-Type', registry.contentType).set('Cache-Control', 'no-store').send(text);
  });
  return router;
}
