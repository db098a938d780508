import type { Message } from '@chat/protocol';
import {
  describeWithInfra,
  natsServerBinary,
  skipForMissing,
  startNatsNodes,
  type NatsNode,
  type NatsNodes,
} from '@chat/testing';
import { api, eventually, history, Member, signUp, type Account } from './support/clients';
import { startCluster, type Cluster } from './support/cluster';
import { sleep, type ChatProcess } from './support/processes';

/**
 * Room delivery while nats-server is down and just after it is back (issue 15, item 3): two chat-service
 * processes on a nats-server of the suite's own, killed with SIGKILL and restarted on the same port and
 * store, with users-service, auth-service and the gateway in this process and FerretDB under them all.
 * Each member is a `@chat/client` whose socket is pinned to one instance (it connects to that instance,
 * as the gateway would have placed it), so who shares an instance with whom is known. No service is
 * restarted.
 */

const binary = natsServerBinary();
const describeWithNatsServer = (name: string, fn: () => void) =>
  binary
    ? describeWithInfra(['mongo'], name, fn)
    : skipForMissing(name, 'no nats-server binary in .tools/bin or on PATH', fn);

/** How soon a socket gets what its own instance stored (live delivery: a few event-loop turns). */
const LIVE_MS = 2_000;
/** How soon after nats-server is back each socket is told to resync: nats.js retries every 2 s. */
const RESYNC_MS = 6_000;
/** How soon after that every client has delivered every acknowledged message. */
const CAUGHT_UP_MS = 6_000;
/** Bound on how long the instances take to be ready again (revocation consumers following) after NATS. */
const RECOVERY_MS = 20_000;
/** Each instance's sends during the outage. */
const SENDS = 5;

describeWithNatsServer('room delivery while nats-server is down and after it is back', () => {
  let nats: NatsNodes;
  let node: NatsNode;
  let cluster: Cluster;
  let chatA: ChatProcess;
  let chatB: ChatProcess;
  let ann: Account, bob: Account, cid: Account, dan: Account;
  let members: Member[] = [];

  async function status(url: string): Promise<number> {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3_000) }).catch(
      () => undefined,
    );
    return response?.status ?? 0;
  }

  /** Polls until both chat instances' `/readyz` answers `expected`. */
  async function chatsReadiness(expected: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: number[] = [];
    for (;;) {
      last = await Promise.all([chatA, chatB].map((chat) => status(chat.url)));
      if (last.every((code) => code === expected)) return;
      if (Date.now() > deadline)
        throw new Error(
          `chat /readyz answered ${JSON.stringify(last)}, not ${expected}, for ${timeoutMs} ms\n` +
            `${chatA.id}:\n${chatA.log().slice(-2_000)}\n${chatB.id}:\n${chatB.log().slice(-2_000)}`,
        );
      await sleep(50);
    }
  }

  /**
   * A public room of the four, each member connected to the instance given and past a first message,
   * so every client has a place in the room to resync from (README: the client rejoins with `since`).
   */
  async function roomOfFour(): Promise<{
    roomId: string;
    onA: [Member, Member];
    onB: [Member, Member];
    first: Message;
  }> {
    const created = await api(cluster.gatewayUrl, 'POST', '/api/rooms', {
      token: ann.token,
      body: { name: `outage-${Math.random().toString(36).slice(2, 10)}`, kind: 'public' },
    });
    expect(created.status).toBe(201);
    const roomId = created.body.id as string;
    for (const joiner of [bob, cid, dan]) {
      const joined = await api(cluster.gatewayUrl, 'POST', `/api/rooms/${roomId}/members`, {
        token: joiner.token,
      });
      expect(joined.status).toBe(200);
    }
    const on = (chat: ChatProcess, account: Account) => {
      const member = new Member(account, chat.url);
      members.push(member);
      return member;
    };
    const onA: [Member, Member] = [on(chatA, ann), on(chatA, bob)];
    const onB: [Member, Member] = [on(chatB, cid), on(chatB, dan)];
    await Promise.all(members.map((member) => member.connect()));
    const first = await onA[0].client.send(roomId, 'before the outage');
    await everyoneDelivered([...onA, ...onB], roomId, [first.id]);
    return { roomId, onA, onB, first };
  }

  /** Waits until each client delivered exactly `ids`, in that order (once each, nothing else). */
  async function everyoneDelivered(people: Member[], roomId: string, ids: string[], timeoutMs = LIVE_MS) {
    for (const person of people) {
      await eventually(
        () => (person.deliveredIds(roomId).length >= ids.length ? true : undefined),
        timeoutMs,
        () =>
          `${person.account.username} to deliver ${ids.length} messages (has ${person.deliveredIds(roomId).length})`,
      );
      expect(person.deliveredIds(roomId)).toEqual(ids);
    }
  }

  /** Kills nats-server and waits until both instances know it is gone (their `/readyz` says so). */
  async function killNats(): Promise<void> {
    await node.kill();
    await chatsReadiness(503, 3_000);
  }

  /** `count` messages from `member`, sent one after another, each resolved on its ack. */
  async function sendSome(member: Member, roomId: string, count: number): Promise<Message[]> {
    const acked: Message[] = [];
    for (let i = 0; i < count; i++)
      acked.push(await member.client.send(roomId, `${member.account.username} #${i}`));
    return acked;
  }

  /** History's ids, which must run seq 1..n without a gap, and hold exactly `acked` past the first. */
  async function storedIds(roomId: string, first: Message, acked: Message[]): Promise<string[]> {
    const stored = await history(cluster.gatewayUrl, ann, roomId);
    expect(stored.map((message) => message.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(new Set(stored.map((message) => message.id))).toEqual(
      new Set([first.id, ...acked.map((message) => message.id)]),
    );
    return stored.map((message) => message.id);
  }

  /** No service restarted and no socket reconnected: the catch-up came over the same sockets. */
  function expectSameProcessesAndSockets(): void {
    expect([chatA.running, chatB.running]).toEqual([true, true]);
    for (const member of members) expect([member.hellos, member.sockets.length]).toEqual([1, 1]);
  }

  beforeAll(async () => {
    nats = await startNatsNodes(1, binary);
    node = nats.nodes[0]!;
    cluster = await startCluster({ natsUrl: nats.url });
    [chatA, chatB] = cluster.chats as [ChatProcess, ChatProcess];
    const as = (name: string) => signUp(cluster.gatewayUrl, name);
    [ann, bob, cid, dan] = await Promise.all([as('ann'), as('bob'), as('cid'), as('dan')]);
  }, 40_000);

  beforeEach(async () => {
    // Each test starts with NATS up and both instances ready, whatever the one before left.
    if (!node.running) await node.start();
    await chatsReadiness(200, RECOVERY_MS);
  }, RECOVERY_MS + 5_000);

  afterEach(() => {
    for (const member of members) member.close();
    members = [];
  });

  afterAll(async () => {
    await cluster?.stop();
    await nats?.stop();
  });

  it('delivers each acknowledged message live to the sockets on the instance that stored it while NATS is down', async () => {
    const { roomId, onA, onB, first } = await roomOfFour();
    await killNats();

    const [fromA, fromB] = await Promise.all([
      sendSome(onA[0], roomId, SENDS),
      sendSome(onB[1], roomId, SENDS),
    ]);
    // Every socket on the sender's instance, the sender's own included, gets each message as it is
    // stored, in order; the other instance cannot hear of it until NATS is back.
    for (const [local, acked] of [
      [onA, fromA],
      [onB, fromB],
    ] as const) {
      const ids = [first.id, ...acked.map((message) => message.id)];
      for (const person of local) {
        await eventually(
          () => (Member.messagesOn(person.socket, roomId).length >= ids.length ? true : undefined),
          LIVE_MS,
          () =>
            `${person.account.username}'s socket to receive ${ids.length} messages live (has ${Member.messagesOn(person.socket, roomId).length})`,
        );
        expect(Member.messagesOn(person.socket, roomId).map((message) => message.id)).toEqual(ids);
      }
    }
    expect(node.running).toBe(false);
    expect(await Promise.all([chatA, chatB].map((chat) => status(chat.url)))).toEqual([503, 503]);
  }, 20_000);

  it('tells every socket to resync once NATS is back, and every client then holds every acknowledged message once, in order', async () => {
    const { roomId, onA, onB, first } = await roomOfFour();
    await killNats();
    const acked = (
      await Promise.all([sendSome(onA[0], roomId, SENDS), sendSome(onB[1], roomId, SENDS)])
    ).flat();

    await node.start();
    // Sockets on each instance missed what the other stored; nothing else is sent from now on, so no
    // later message's seq jump can reveal the gap: only `resync` can.
    for (const person of [...onA, ...onB]) {
      await eventually(
        () => (person.socket.events.some((event) => event.type === 'resync') ? true : undefined),
        RESYNC_MS,
        `${person.account.username}'s socket to be told to resync`,
      );
    }
    const ids = await storedIds(roomId, first, acked);
    expect(ids).toHaveLength(1 + 2 * SENDS);
    await everyoneDelivered([...onA, ...onB], roomId, ids, CAUGHT_UP_MS);

    // And live delivery between the instances works again, both ways, on the same sockets.
    const later = [
      await onA[0].client.send(roomId, 'back from a'),
      await onB[1].client.send(roomId, 'back from b'),
    ];
    for (const person of [...onA, ...onB]) {
      await eventually(
        () => {
          const live = Member.messagesOn(person.socket, roomId).map((message) => message.id);
          return later.every((message) => live.includes(message.id)) ? true : undefined;
        },
        LIVE_MS,
        `${person.account.username}'s socket to receive the messages sent after recovery live`,
      );
    }
    await everyoneDelivered(
      [...onA, ...onB],
      roomId,
      [...ids, ...later.map((message) => message.id)],
      LIVE_MS,
    );
    expectSameProcessesAndSockets();
  }, 30_000);

  it('loses none of the messages acknowledged in the first second after NATS is back', async () => {
    const { roomId, onA, onB, first } = await roomOfFour();
    await killNats();
    await node.start();
    const restartedAt = Date.now();

    // Both instances store messages while they reconnect, one after the other (nats.js retries every 2 s):
    // a message stored by one instance before the other is back on NATS never reaches the other live.
    const sends: Array<Promise<{ message: Message; at: number }>> = [];
    const senders = [onA[0], onB[1]];
    for (let i = 0; Date.now() - restartedAt < 1_000; i++) {
      const sender = senders[i % 2]!;
      sends.push(
        sender.client
          .send(roomId, `${sender.account.username} after #${i}`)
          .then((message) => ({ message, at: Date.now() })),
      );
      await sleep(50);
    }
    const acked = await Promise.all(sends);
    // Each instance acknowledged messages inside that first second (the window under test).
    for (const sender of senders) {
      const early = acked.filter(
        ({ message, at }) => message.sender.id === sender.id && at - restartedAt < 1_000,
      );
      expect({ sender: sender.account.username, early: early.length >= 2 }).toEqual({
        sender: sender.account.username,
        early: true,
      });
    }

    const ids = await storedIds(
      roomId,
      first,
      acked.map(({ message }) => message),
    );
    await everyoneDelivered([...onA, ...onB], roomId, ids, RESYNC_MS + CAUGHT_UP_MS);
    expectSameProcessesAndSockets();
  }, 30_000);
});
