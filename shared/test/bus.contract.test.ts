import { busContractSuite, describeWithInfra, testNatsUrl, uniqueName } from '@chat/testing';
import { MemoryBus } from '../src/bus/memory-bus';
import { connectNatsBus } from '../src/bus/nats-bus';

busContractSuite('MemoryBus', async (logger) => {
  const bus = new MemoryBus({ logger });
  return [bus, bus];
});

describeWithInfra(['nats'], 'NatsBus on a real nats-server', () => {
  busContractSuite('NatsBus', async (logger) => {
    // A prefix per test gives each test its own subjects and its own event stream on the shared server.
    const subjectPrefix = `${uniqueName('contract')}.`;
    const connectOne = (name: string) =>
      connectNatsBus({ servers: testNatsUrl() ?? '', name, logger, subjectPrefix, eventMaxAgeSeconds: 600 });
    return Promise.all([connectOne('contract-a'), connectOne('contract-b')]);
  });
});
