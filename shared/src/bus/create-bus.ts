import type { Logger } from '../logger';
import type { Bus } from './bus';
import { MemoryBus } from './memory-bus';
import { connectNatsBus } from './nats-bus';

/** The bus a service runs on: NATS when `natsUrl` is set, else the in-process bus of the one-process run. */
export async function createBus(options: { natsUrl?: string; name: string; logger: Logger }): Promise<Bus> {
  if (options.natsUrl)
    return connectNatsBus({ servers: options.natsUrl, name: options.name, logger: options.logger });
  return new MemoryBus({ logger: options.logger });
}
