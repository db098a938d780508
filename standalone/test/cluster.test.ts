import WebSocket from 'ws';
import type { Message } from '@chat/protocol';
import { describeWithInfra } from '@chat/testing';
import { api, eventually, history, Member, signUp, type Account, type Json } from './support/clients';
import { CLUSTER_TIMING, startCluster, type Cluster, type Heard } from './support/cluster';
import { sleep, type ChatProcess } from './support/processes';

const { PRESENCE_GRACE_MS, PRESENCE_TTL_MS, DRAIN_SPREAD_MS } = CLUSTER_TIMING;
const SENDERS = 3;
const MESSAGES_PER_SENDER = 30;
const TOTAL = SENDERS * MESSAGES_PER_SENDER;

/**
 * Two chat-service processes behind the gateway, on a real nats-server and a real MongoDB-protocol server
 * (FerretDB), with users-service, auth-service and the gateway in this process. Clients are the
 * `@chat/client` library over `ws`, signed up and logged in through the gateway: what a browser does.
 */
describeWithInfra(['nats', 'mongo'], 'two chat instances behind the gateway', () => {
  /** Where each connected member's socket is, as the instances' announcements tell. */
  class Placement {
    private counts: number[] = [];
    readonly of = new Map<Member, ChatProcess>();

    constructor(private readonly cluster: Cluster) {}

    private get ids() {
      return this.cluster.chats.map((chat) => chat.id);
    }

    /** Waits until no instance holds a socket (what the earlier tests opened is closed). */
    async empty(): Promise<void> {
      this.counts = await this.cluster.instances.sockets(this.ids, (counts) => counts.every((n) => n === 0));
    }

    /** Connects `member` and learns which instance took its socket from the counts they announce next. */
    async connect(member: Member): Promise<ChatProcess> {
      await member.connect();
      const total = this.counts.reduce((sum, n) => sum + n, 0) + 1;
      const counts = await this.cluster.instances.sockets(
        this.ids,
        (next) => next.reduce((sum, n) => sum + n, 0) === total,
      );
      const index = counts.findIndex((n, i) => n > (this.counts[i] ?? 0));
      this.counts = counts;
      const chat = this.cluster.chats[index]!;
      this.of.set(member, chat);
      return chat;
    }
  }

  /** Sends MESSAGES_PER_SENDER from each sender with small random pauses, not waiting for acks in between. */
  async function sendBurst(senders: Member[], roomId: string, onAck: (acked: number) => void) {
    const acked: Message[] = [];
    await Promise.all(
      senders.map(async (sender) => {
        const sends: Promise<Message>[] = [];
        for (let i = 0; i < MESSAGES_PER_SENDER; i++) {
          sends.push(
            sender.client.send(roomId, `${sender.account.username} #${i}`).then((message) => {
              acked.push(message);
              onAck(acked.length);
              return message;
            }),
          );
          await sleep(3 + Math.random() * 15);
        }
        await Promise.all(sends);
      }),
    );
    return acked;
  }

  /**
   * History holds each send once with seq 1..TOTAL, exactly the acknowledged messages, and every member's
   * client delivered exactly those, each once, in seq order.
   */
  async function expectEveryoneSawEveryMessageOnce(
    cluster: Cluster,
    reader: Account,
    roomId: string,
    members: Member[],
    acked: Message[],
  ) {
    const stored = await history(cluster.gatewayUrl, reader, roomId);
    expect(stored.map((message) => message.seq)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    expect(new Set(stored.map((message) => message.clientMsgId)).size).toBe(TOTAL);
    expect(acked).toHaveLength(TOTAL);
    const ids = stored.map((message) => message.id);
    expect(new Set(acked.map((message) => message.id))).toEqual(new Set(ids));
    for (const member of members) {
      await eventually(
        () => (member.deliveredIds(roomId).length >= TOTAL ? true : undefined),
        10_000,
        () =>
          `${member.account.username} to deliver ${TOTAL} messages (has ${member.deliveredIds(roomId).length})`,
      );
      expect(member.deliveredIds(roomId)).toEqual(ids);
    }
  }

  async function createRoom(cluster: Cluster, owner: Account, joiners: Account[]): Promise<string> {
    const created = await api(cluster.gatewayUrl, 'POST', '/api/rooms', {
      token: owner.token,
      body: { name: `room-${Math.random().toString(36).slice(2, 10)}`, kind: 'public' },
    });
    expect(created.status).toBe(201);
    for (const joiner of joiners) {
      const joined = await api(cluster.gatewayUrl, 'POST', `/api/rooms/${created.body.id}/members`, {
        token: joiner.token,
      });
      expect(joined.status).toBe(200);
    }
    return created.body.id as string;
  }

  describe('sharing the load, delivering across instances, surviving a kill -9', () => {
    let cluster: Cluster;
    let ann: Account, bob: Account, cid: Account, dan: Account, eve: Account;
    let members: Member[] = [];
    const lurkers: WebSocket[] = [];

    const member = (account: Account) => {
      const created = new Member(account, cluster.gatewayUrl);
      members.push(created);
      return created;
    };

    beforeAll(async () => {
      cluster = await startCluster();
      const as = (name: string) => signUp(cluster.gatewayUrl, name);
      [ann, bob, cid, dan, eve] = await Promise.all([as('ann'), as('bob'), as('cid'), as('dan'), as('eve')]);
    }, 30_000);

    afterEach(() => {
      for (const each of members) each.close();
      members = [];
      for (const socket of lurkers.splice(0)) socket.terminate();
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it('puts sockets on the instance holding the fewest: four clients at once, two on each', async () => {
      const ids = cluster.chats.map((chat) => chat.id);
      await cluster.instances.sockets(ids, (counts) => counts.every((n) => n === 0));
      await Promise.all([ann, bob, cid, dan].map((account) => member(account).connect()));
      expect(await cluster.instances.sockets(ids, (counts) => counts[0]! + counts[1]! === 4)).toEqual([2, 2]);
    });

    it('delivers room messages, direct messages, typing and presence between users on different instances', async () => {
      const placement = new Placement(cluster);
      await placement.empty();
      const roomId = await createRoom(cluster, ann, [bob, cid, dan, eve]);
      const people = [member(ann), member(bob), member(cid), member(dan)];
      for (const person of people) await placement.connect(person);
      const [a, b] = cluster.chats;
      const onA = people.filter((person) => placement.of.get(person) === a);
      const onB = people.filter((person) => placement.of.get(person) === b);
      expect([onA.length, onB.length]).toEqual([2, 2]);

      // Room messages: every socket gets each one once, whichever instance took the send, and the client
      // delivers them in seq order. The raw order can differ: two instances storing sends of one room at once
      // each publish after their own write, so a later seq may reach a socket first (the contract promises
      // each message once; the client's gap repair orders them).
      await Promise.all(
        people.flatMap((person) => [1, 2, 3].map((i) => person.client.send(roomId, `hi ${i}`))),
      );
      const ids = (await history(cluster.gatewayUrl, ann, roomId)).map((message) => message.id);
      expect(ids).toHaveLength(12);
      for (const person of people) {
        await eventually(
          () => (Member.messagesOn(person.socket, roomId).length >= 12 ? true : undefined),
          5_000,
          `${person.account.username}'s socket to receive 12 messages`,
        );
        const raw = Member.messagesOn(person.socket, roomId).map((message) => message.id);
        expect([...raw].sort()).toEqual([...ids].sort());
        await eventually(
          () => (person.deliveredIds(roomId).length >= 12 ? true : undefined),
          5_000,
          `${person.account.username}'s client to deliver 12 messages`,
        );
        expect(person.deliveredIds(roomId)).toEqual(ids);
      }

      // A direct message from a user on one instance to a user on the other, and to nobody else.
      const sender = onA[0]!;
      const recipient = onB[0]!;
      const bystanders = [onA[1]!, onB[1]!];
      const direct = await api(cluster.gatewayUrl, 'POST', `/api/direct/${recipient.id}`, {
        token: sender.account.token,
      });
      expect(direct.status).toBe(200);
      expect(direct.body.kind).toBe('direct');
      const sent = await sender.client.send(direct.body.id, 'just between us');
      await eventually(
        () => (recipient.deliveredIds(direct.body.id).length > 0 ? true : undefined),
        5_000,
        'the direct message',
      );
      expect(recipient.delivered.get(direct.body.id)).toEqual([sent]);
      expect(Member.messagesOn(recipient.socket, direct.body.id)).toEqual([sent]);

      // Typing reaches the room's other users on both instances, never the typist's own socket.
      sender.client.typing(roomId, true);
      for (const person of people.filter((person) => person !== sender)) {
        await eventually(
          () => person.typing.find((entry) => entry.userId === sender.id) ?? undefined,
          5_000,
          `${person.account.username} to see typing`,
        );
        expect(person.typing).toEqual([{ roomId, userId: sender.id, active: true }]);
      }
      await sleep(200);
      expect(sender.socket.events.filter((event: Json) => event.type === 'typing')).toEqual([]);
      for (const other of bystanders) expect(other.delivered.get(direct.body.id)).toBeUndefined();
      for (const other of bystanders) expect(Member.messagesOn(other.socket, direct.body.id)).toEqual([]);

      // Presence: online with eve's first socket (on either instance), offline only once her last socket,
      // on the other instance, has been closed for the grace period.
      const eveFirst = member(eve);
      const eveSecond = member(eve);
      const firstOn = await placement.connect(eveFirst);
      expect(await placement.connect(eveSecond)).not.toBe(firstOn);
      for (const person of people) {
        await eventually(
          () => person.lastPresenceOf(eve.id),
          5_000,
          `${person.account.username} to see eve online`,
        );
      }
      eveFirst.close();
      await sleep(PRESENCE_GRACE_MS + 400);
      eveSecond.close();
      const closedAt = Date.now();
      for (const person of people) {
        await eventually(
          () => (person.lastPresenceOf(eve.id) === 'offline' ? true : undefined),
          5_000,
          `${person.account.username} to see eve offline`,
        );
        const seen = person.presence.filter((entry) => entry.userId === eve.id);
        expect(seen.map((entry) => entry.status)).toEqual(['online', 'offline']);
        expect(seen[1]!.at - closedAt).toBeGreaterThanOrEqual(PRESENCE_GRACE_MS - 50);
      }
    }, 30_000);

    it('loses no acknowledged message when an instance is killed with SIGKILL while clients send', async () => {
      const placement = new Placement(cluster);
      await placement.empty();
      const roomId = await createRoom(cluster, ann, [bob, cid, dan, eve]);
      const people = [member(ann), member(bob), member(cid), member(dan)];
      for (const person of people) await placement.connect(person);
      // Eve's only socket is a bare one that will not reconnect: she must go offline with its instance.
      const lurker = new WebSocket(
        `${cluster.gatewayUrl.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(eve.token)}`,
      );
      lurkers.push(lurker);
      await new Promise((resolve, reject) => lurker.once('message', resolve).once('error', reject));
      const counts = await cluster.instances.sockets(
        cluster.chats.map((chat) => chat.id),
        (next) => next[0]! + next[1]! === 5,
      );
      const victim = cluster.chats[counts[0]! === 3 ? 0 : 1]!;
      const survivor = cluster.chats.find((chat) => chat !== victim)!;
      const doomed = people.filter((person) => placement.of.get(person) === victim);
      const spared = people.filter((person) => placement.of.get(person) === survivor);
      expect(doomed).toHaveLength(2);
      expect(spared).toHaveLength(2);
      const senders = [doomed[0]!, spared[0]!, doomed[1]!];

      let killedAt = 0;
      const acked = await sendBurst(senders, roomId, (count) => {
        if (count === TOTAL / 3) {
          killedAt = Date.now();
          victim.signal('SIGKILL');
        }
      });
      expect((await victim.exited).signal).toBe('SIGKILL');
      expect(killedAt).toBeGreaterThan(0);

      await expectEveryoneSawEveryMessageOnce(cluster, ann, roomId, people, acked);
      for (const person of doomed) {
        expect(person.closes.map((close) => close.final)).toContain(false);
        expect(person.hellos).toBeGreaterThanOrEqual(2);
      }
      expect(await cluster.instances.sockets([survivor.id], ([n]) => n === 4)).toEqual([4]);

      // Eve is gone within the dead instance's presence TTL; the users who reconnected never go offline.
      for (const person of spared) {
        await eventually(
          () => person.presence.find((entry) => entry.userId === eve.id && entry.status === 'offline'),
          PRESENCE_TTL_MS + 2_000,
          `${person.account.username} to see eve offline`,
        );
      }
      const offlineAt = spared[0]!.presence.find(
        (entry) => entry.userId === eve.id && entry.status === 'offline',
      )!.at;
      expect(offlineAt - killedAt).toBeLessThan(PRESENCE_TTL_MS + 700);
      await sleep(200);
      for (const person of spared) {
        for (const moved of doomed) {
          expect(
            person.presence.filter((entry) => entry.userId === moved.id && entry.status === 'offline'),
          ).toEqual([]);
        }
      }
    }, 30_000);
  });

  describe('draining an instance on SIGTERM', () => {
    let cluster: Cluster;
    let members: Member[] = [];

    beforeAll(async () => {
      cluster = await startCluster();
    }, 30_000);

    afterAll(async () => {
      for (const each of members) each.close();
      await cluster?.stop();
    });

    it('announces draining, closes its sockets with 1012 over DRAIN_SPREAD_MS, moves them with no loss, exits 0', async () => {
      const accounts = await Promise.all(
        ['fay', 'gus', 'hal', 'ivy'].map((name) => signUp(cluster.gatewayUrl, name)),
      );
      const roomId = await createRoom(cluster, accounts[0]!, accounts.slice(1));
      members = accounts.map((account) => new Member(account, cluster.gatewayUrl));
      const placement = new Placement(cluster);
      await placement.empty();
      for (const person of members) await placement.connect(person);
      const victim = placement.of.get(members[0]!)!;
      const survivor = cluster.chats.find((chat) => chat !== victim)!;
      const moving = members.filter((person) => placement.of.get(person) === victim);
      const staying = members.filter((person) => placement.of.get(person) === survivor);
      expect([moving.length, staying.length]).toEqual([2, 2]);

      // Once the gateway heard that the instance drains, a new socket goes to the other one at the first
      // try, although the draining one (still up, closing its sockets) holds no more than the other.
      const newcomer = new Member(accounts[3]!, cluster.gatewayUrl);
      members.push(newcomer);
      let termAt = 0;
      let newcomerArrived: Promise<{ draining: Heard; victimUp: boolean }> | undefined;
      const acked = await sendBurst([moving[0]!, staying[0]!, moving[1]!], roomId, (count) => {
        if (count !== TOTAL / 3) return;
        termAt = Date.now();
        victim.signal('SIGTERM');
        newcomerArrived = (async () => {
          const draining = await cluster.instances.waitFor(
            (heard) => heard.id === victim.id && heard.draining,
          );
          await sleep(50);
          const victimUp = victim.running;
          await newcomer.connect();
          return { draining, victimUp };
        })();
      });
      expect(termAt).toBeGreaterThan(0);
      const { draining, victimUp } = await newcomerArrived!;
      expect(draining.at - termAt).toBeLessThan(500);
      expect(victimUp).toBe(true);
      expect([newcomer.sockets.length, newcomer.closes]).toEqual([1, []]);
      expect(await victim.exited).toEqual({ code: 0, signal: null });

      // Each of its sockets was closed with 1012, spread over the drain period rather than all at once.
      const closes = moving.map((person) => person.sockets[0]!.closed!);
      expect(closes.map((close) => close.code)).toEqual([1012, 1012]);
      const closeTimes = closes.map((close) => close.at).sort((x, y) => x - y);
      expect(closeTimes[1]! - closeTimes[0]!).toBeGreaterThanOrEqual(DRAIN_SPREAD_MS / 2 - 200);
      expect(closeTimes[1]! - termAt).toBeLessThan(DRAIN_SPREAD_MS + 1_000);

      await expectEveryoneSawEveryMessageOnce(cluster, accounts[0]!, roomId, [...moving, ...staying], acked);
      for (const person of moving) expect(person.hellos).toBeGreaterThanOrEqual(2);
      for (const person of staying) expect(person.hellos).toBe(1);
      expect(await cluster.instances.sockets([survivor.id], ([n]) => n === 5)).toEqual([5]);
    }, 30_000);
  });
});
