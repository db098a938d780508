import path from 'node:path';
import type { NatsAuth } from '../config';
import type { Logger } from '../logger';
import type { Bus } from './bus';
import { MemoryBus } from './memory-bus';
import { connectNatsBus } from './nats-bus';

/** Where under `dataDir` the in-process bus keeps its durable events. */
const BUS_EVENTS_FILE = 'bus-events.jsonl';

/**
 * The bus a service runs on: NATS when `natsUrl` is set, else the in-process bus of the one-process run,
 * which keeps its durable events under `dataDir` when given one (so a restart does not forget them).
 */
export async function createBus(options: {
  natsUrl?: string;
  /** Credentials for NATS (NATS_USER and NATS_PASSWORD, NATS_TOKEN or NATS_CREDS_FILE). */
  natsAuth?: NatsAuth;
  name: string;
  logger: Logger;
  dataDir?: string;
  /** NATS_STREAM_REPLICAS: copies of each stream on a NATS cluster; unset, chosen from the cluster's size. */
  streamReplicas?: number;
}): Promise<Bus> {
  if (options.natsUrl)
    return connectNatsBus({
      servers: options.natsUrl,
      auth: options.natsAuth,
      name: options.name,
      logger: options.logger,
      streamReplicas: options.streamReplicas,
    });
  return new MemoryBus({
    logger: options.logger,
    ...(options.dataDir ? { file: path.join(options.dataDir, BUS_EVENTS_FILE) } : {}),
  });
}
