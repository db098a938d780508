import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import {
  LogCapture,
  natsServerBinary,
  skipForMissing,
  startNatsNodes,
  uniqueName,
  type NatsNodes,
} from '@chat/testing';
import type { BusMessage, ConsumerSubscription } from '../src/bus/bus';
import { connectNatsBus, type NatsBus } from '../src/bus/nats-bus';

/**
 * NatsBus when nats-server fails under it (issue 15): a restart on the same port and store, a server
 * that stops answering, consumers deleted on the server, and a 3-node JetStream cluster. Each suite runs
 * nats-server processes of its own (the run's shared server must not be killed).
 */

const binary = natsServerBinary();
const describeWithNatsServer = (name: string, fn: () => void) =>
  binary ? describe(name, fn) : skipForMissing(name, 'no nats-server binary in .tools/bin or on PATH', fn);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retries `assertion` until it passes; fails with its last error (and the bus log) after `timeoutMs`. */
async function waitFor(assertion: () => unknown, timeoutMs: number, logs?: LogCapture): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        if (logs && error instanceof Error)
          error.message += `\nbus log:\n${logs.lines.slice(-30).join('\n')}`;
        throw error;
      }
    }
    await sleep(25);
  }
}

/** Publishes once the bus takes it: right after a restart the publisher may still be reconnecting. */
async function publishWhenBack(bus: NatsBus, subject: string, data: unknown): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await bus.publishDurable(subject, data);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

function dataOf(into: unknown[]) {
  return (message: BusMessage) => void into.push(message.data);
}

describeWithNatsServer('NatsBus when nats-server restarts, stops answering or loses consumers', () => {
  let nats: NatsNodes;
  let logs: LogCapture;
  let prefix: string;
  const buses: NatsBus[] = [];

  const bus = async (name: string) => {
    const opened = await connectNatsBus({
      servers: nats.url,
      name,
      logger: logs.logger(name),
      subjectPrefix: prefix,
      eventMaxAgeSeconds: 600,
    });
    buses.push(opened);
    return opened;
  };

  beforeAll(async () => {
    nats = await startNatsNodes(1, binary);
  });

  afterAll(async () => {
    await nats?.stop();
  });

  beforeEach(() => {
    logs = new LogCapture();
    prefix = `${uniqueName('faults')}.`;
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((opened) => opened.close()));
    if (!nats.nodes[0]!.running) await nats.nodes[0]!.start();
  });

  it('follows again after a restart: a consumer replaying from `since` and a durable one get every later event, none twice, and say they did not follow meanwhile', async () => {
    const node = nats.nodes[0]!;
    const publisher = await bus('publisher');
    const subscriber = await bus('subscriber');
    const replayed: unknown[] = [];
    const named: unknown[] = [];
    await publisher.publishDurable('events.faults.x', 1);
    const fromSince = await subscriber.consume('events.faults.>', dataOf(replayed), {
      since: new Date(Date.now() - 60_000),
    });
    const durable = await subscriber.consume('events.faults.>', dataOf(named), { durable: 'faults' });
    await waitFor(() => expect([replayed, named]).toEqual([[1], [1]]), 5_000, logs);

    await node.kill();
    await waitFor(
      () => expect([fromSince.isFollowing(), durable.isFollowing()]).toEqual([false, false]),
      2_000,
    );
    await expect(subscriber.isReady()).resolves.toBe(false);

    await node.start();
    await waitFor(
      () => expect([fromSince.isFollowing(), durable.isFollowing()]).toEqual([true, true]),
      10_000,
      logs,
    );
    await expect(subscriber.isReady()).resolves.toBe(true);
    await publishWhenBack(publisher, 'events.faults.x', 2);
    await publisher.publishDurable('events.faults.y', 3);

    await waitFor(
      () =>
        expect([replayed, named]).toEqual([
          [1, 2, 3],
          [1, 2, 3],
        ]),
      5_000,
      logs,
    );
    const states = logs.entries().filter((entry) => String(entry.message).startsWith('bus consumer'));
    expect(states).toContainEqual(
      expect.objectContaining({ message: 'bus consumer not following', reason: 'disconnected' }),
    );
    expect(states).toContainEqual(
      expect.objectContaining({ message: 'bus consumer following', reason: 'recreated', kind: 'ordered' }),
    );
  });

  it('recreates consumers deleted on the server, from after the last event handled', async () => {
    const publisher = await bus('publisher');
    const subscriber = await bus('subscriber');
    const replayed: unknown[] = [];
    const named: unknown[] = [];
    const subscriptions: ConsumerSubscription[] = [
      await subscriber.consume('events.lost.>', dataOf(replayed), { since: new Date(0) }),
      await subscriber.consume('events.lost.>', dataOf(named), { durable: 'lost' }),
    ];
    await publisher.publishDurable('events.lost.x', 1);
    await waitFor(() => expect([replayed, named]).toEqual([[1], [1]]), 5_000, logs);

    const admin = await jetstream(nats.url);
    try {
      const stream = await admin.jsm.streams.find(`${prefix}events.lost.x`);
      for await (const consumer of admin.jsm.consumers.list(stream))
        await admin.jsm.consumers.delete(stream, consumer.name);
    } finally {
      await admin.nc.close();
    }
    await publisher.publishDurable('events.lost.x', 2);
    await publisher.publishDurable('events.lost.x', 3);

    await waitFor(
      () =>
        expect([replayed, named]).toEqual([
          [1, 2, 3],
          [1, 2, 3],
        ]),
      5_000,
      logs,
    );
    expect(subscriptions.map((subscription) => subscription.isFollowing())).toEqual([true, true]);
    expect(logs.entries()).toContainEqual(
      expect.objectContaining({ message: 'bus consumer trouble', status: 'consumer_deleted' }),
    );
  });

  it('says it is not ready and its consumers do not follow while the server does not answer, and recovers when it does', async () => {
    const node = nats.nodes[0]!;
    const publisher = await bus('publisher');
    const subscriber = await bus('subscriber');
    const seen: unknown[] = [];
    const subscription = await subscriber.consume('events.paused.>', dataOf(seen));

    node.pause();
    try {
      // The connection stays open: only the missing answers and heartbeats tell.
      await waitFor(() => expect(subscription.isFollowing()).toBe(false), 6_000, logs);
      expect(subscriber.isConnected()).toBe(true);
      await expect(subscriber.isReady()).resolves.toBe(false);
    } finally {
      node.resume();
    }

    await waitFor(() => expect(subscription.isFollowing()).toBe(true), 15_000, logs);
    await waitFor(async () => expect(await subscriber.isReady()).toBe(true), 5_000);
    await publisher.publishDurable('events.paused.x', 'after');
    await waitFor(() => expect(seen).toEqual(['after']), 5_000, logs);
  });
});

describeWithNatsServer('NatsBus on a 3-node JetStream cluster', () => {
  let cluster: NatsNodes;
  let logs: LogCapture;
  let admin: { nc: NatsConnection; jsm: JetStreamManager };
  const buses: NatsBus[] = [];

  const bus = async (servers: string, prefix: string, streamReplicas?: number) => {
    const opened = await connectNatsBus({
      servers,
      name: 'cluster-faults',
      logger: logs.logger('bus'),
      subjectPrefix: prefix,
      eventMaxAgeSeconds: 600,
      streamReplicas,
    });
    buses.push(opened);
    return opened;
  };
  const replicas = async (prefix: string) =>
    (await admin.jsm.streams.info(`${prefix.replace(/\./g, '_')}EVENTS`)).config.num_replicas;

  beforeAll(async () => {
    cluster = await startNatsNodes(3, binary);
    admin = await jetstream(cluster.url);
  }, 30_000);

  afterAll(async () => {
    await admin?.nc.close();
    await cluster?.stop();
  });

  beforeEach(() => {
    logs = new LogCapture();
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((opened) => opened.close()));
  });

  it('connects to the servers in the order NATS_URL gives them', async () => {
    const orders = [
      [2, 0, 1],
      [1, 2, 0],
      [2, 1, 0],
      [0, 2, 1],
      [1, 0, 2],
    ].map((order) => order.map((index) => cluster.nodes[index]!));
    const prefix = `${uniqueName('order')}.`;
    for (const order of orders) {
      const opened = await bus(order.map((node) => node.url).join(','), prefix);
      expect(opened.server()).toBe(order[0]!.hostPort);
    }
  });

  it('gives the event stream 3 replicas by default and raises an existing one-replica stream to 3', async () => {
    const fresh = `${uniqueName('fresh')}.`;
    await bus(cluster.url, fresh);
    expect(await replicas(fresh)).toBe(3);

    const old = `${uniqueName('old')}.`;
    // As connectNatsBus created it before issue 15.
    await admin.jsm.streams.add({
      name: `${old.replace(/\./g, '_')}EVENTS`,
      subjects: [`${old}events.>`],
      storage: StorageType.File,
      num_replicas: 1,
    });
    await bus(cluster.url, old);
    expect(await replicas(old)).toBe(3);
    expect(logs.entries()).toContainEqual(
      expect.objectContaining({ message: 'bus event stream replicas changed', from: 1, to: 3 }),
    );
  });

  it('applies a configured replica count, to a new stream and to an existing one', async () => {
    const prefix = `${uniqueName('configured')}.`;
    await bus(cluster.url, prefix, 1);
    expect(await replicas(prefix)).toBe(1);
    await bus(cluster.url, prefix, 3);
    expect(await replicas(prefix)).toBe(3);
    await bus(cluster.url, prefix, 1);
    expect(await replicas(prefix)).toBe(1);
  });
});

async function jetstream(servers: string): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const nc = await connect({ servers: servers.split(','), name: 'faults-admin' });
  return { nc, jsm: await jetstreamManager(nc) };
}
