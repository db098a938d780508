import type { StartedInfra } from './global-setup';
import { STARTED_INFRA, stopAll } from './global-setup';

/** Jest global teardown: stops what the global setup started, in the same process. */
export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as Record<symbol, StartedInfra[] | undefined>)[STARTED_INFRA];
  if (started) await stopAll(started);
}
