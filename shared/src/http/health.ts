import { Router } from 'express';
import type { Bus } from '../bus/bus';

/** A named dependency check: resolves true when reachable. */
export type ReadinessCheck = () => Promise<boolean> | boolean;

/**
 * The readiness checks of a service on the bus: `bus`, connected with its event stream answering (not
 * just a connection, issue 15), and, for a service that verifies tokens, `revocations`, its revocation
 * consumers following the stream: a service that cannot learn of ended sessions would accept their tokens.
 */
export function busReadiness(
  bus: Pick<Bus, 'isReady'>,
  verification?: { isFollowing(): boolean },
): Record<string, ReadinessCheck> {
  return {
    bus: () => bus.isReady(),
    ...(verification ? { revocations: () => verification.isFollowing() } : {}),
  };
}

/**
 * `GET /healthz`: the process answers. `GET /readyz`: every dependency answers (503 and which failed
 * otherwise), each check bounded by a timeout so a hung dependency cannot hang the probe.
 */
export function healthRouter(checks: Record<string, ReadinessCheck>, timeoutMs = 2_000): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        });
        const ok = await Promise.race([Promise.resolve().then(check), timeout]).catch(() => false);
        clearTimeout(timer);
        return [name, ok ? 'ok' : 'unavailable'] as const;
      }),
    );
    const ready = entries.every(([, state]) => state === 'ok');
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(entries) });
  });
  return router;
}
