import { ChatClient, type ChatClientOptions, type SocketLike } from './chat-client';
import {
  serverEventSchema,
  type Message,
  type ServerEvent,
  type ServerEventOf,
  type ServerEventType,
} from '@chat/protocol';

/** A scripted server end: the test decides what the server sends and sees what the client wrote. */
class ScriptedSocket implements SocketLike {
  readyState = 0;
  sent: Array<Record<string, unknown>> = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  serverSends(events: ServerEvent | ServerEvent[]): void {
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify(events) });
  }
}

const user = {
  id: 'u1',
  username: 'ann',
  name: null,
  avatarUrl: null,
  createdAt: '2026-01-01T00:00:00.000Z',
};
const room = {
  id: 'r1',
  name: 'general',
  kind: 'public' as const,
  memberCount: 2,
  createdBy: 'u1',
  createdAt: user.createdAt,
  topic: null,
};
const hello: ServerEvent = {
  type: 'hello',
  user,
  sessionId: 's1',
  rooms: [room],
  online: [],
  presenceMaxRoomMembers: 1000,
  announcements: [],
};

function message(seq: number): Message {
  return {
    id: `m${seq}`,
    roomId: 'r1',
    seq,
    rev: seq,
    sender: { id: 'u2', username: 'bob' },
    text: `#${seq}`,
    createdAt: user.createdAt,
    reactions: [],
    mentions: [],
    attachments: [],
  };
}

function setup(history: Message[] = [], options: Partial<ChatClientOptions> = {}) {
  const sockets: ScriptedSocket[] = [];
  const fetched: string[] = [];
  const client = new ChatClient({
    baseUrl: 'http://chat.test',
    token: () => 'tok',
    createSocket: (url) => {
      const socket = new ScriptedSocket(url);
      sockets.push(socket);
      return socket;
    },
    fetch: (async (url: string) => {
      fetched.push(url);
      const after = Number(new URL(url).searchParams.get('after')?.slice(1));
      const items = history.filter((item) => item.seq > after);
      return new Response(JSON.stringify({ items, hasMore: false }), { status: 200 });
    }) as typeof fetch,
    minReconnectDelayMs: 1,
    maxReconnectDelayMs: 2,
    random: () => 1,
    ...options,
  });
  const delivered: number[] = [];
  client.on('message', (item) => delivered.push(item.seq));
  return { client, sockets, fetched, delivered };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('ChatClient', () => {
  it('puts the token in the socket URL and resolves connect with hello', async () => {
    const { client, sockets } = setup();
    const connected = client.connect();
    await tick();
    expect(sockets[0]!.url).toBe('ws://chat.test/ws?token=tok');
    sockets[0]!.serverSends(hello);
    await expect(connected).resolves.toMatchObject({ sessionId: 's1' });
    client.close();
  });

  it('delivers each message once, in order, from single and array frames', async () => {
    const { client, sockets, delivered } = setup();
    void client.connect();
    await tick();
    const socket = sockets[0]!;
    socket.serverSends(hello);
    socket.serverSends([
      { type: 'message', message: message(1) },
      { type: 'message', message: message(2) },
    ]);
    socket.serverSends({ type: 'message', message: message(2) });
    socket.serverSends({ type: 'message', message: message(3) });
    expect(delivered).toEqual([1, 2, 3]);
    client.close();
  });

  it('fills a gap in seq from history before delivering what came after it', async () => {
    const { client, sockets, delivered, fetched } = setup([message(1), message(2), message(3), message(4)]);
    void client.connect();
    await tick();
    const socket = sockets[0]!;
    socket.serverSends(hello);
    socket.serverSends({ type: 'message', message: message(1) });
    socket.serverSends({ type: 'message', message: message(4) });
    await tick();
    expect(fetched[0]).toContain('/api/rooms/r1/messages?after=m1');
    expect(delivered).toEqual([1, 2, 3, 4]);
    client.close();
  });

  it('delivers in seq order when its own ack overtakes a message another instance stored just before', async () => {
    const { client, sockets, delivered } = setup();
    void client.connect();
    await tick();
    const socket = sockets[0]!;
    socket.serverSends(hello);
    const sent = client.send('r1', 'mine');
    const frame = socket.sent.find((sentFrame) => sentFrame.type === 'send')!;
    const mine = {
      ...message(2),
      sender: { id: 'u1', username: 'ann' },
      clientMsgId: String(frame.clientMsgId),
    };
    socket.serverSends({ type: 'ack', ref: String(frame.ref), message: mine });
    await expect(sent).resolves.toMatchObject({ id: 'm2' });
    socket.serverSends({ type: 'message', message: message(1) });
    socket.serverSends({ type: 'message', message: mine });
    expect(delivered).toEqual([1, 2]);
    client.close();
  });

  it('delivers an acknowledged message whose own message event never comes, after a while', async () => {
    const { client, sockets, delivered } = setup();
    void client.connect();
    await tick();
    const socket = sockets[0]!;
    socket.serverSends(hello);
    void client.send('r1', 'mine');
    const frame = socket.sent.find((sentFrame) => sentFrame.type === 'send')!;
    const mine = {
      ...message(1),
      sender: { id: 'u1', username: 'ann' },
      clientMsgId: String(frame.clientMsgId),
    };
    socket.serverSends({ type: 'ack', ref: String(frame.ref), message: mine });
    expect(delivered).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(delivered).toEqual([1]);
    client.close();
  });

  it('reconnects after a restart close, resends unacknowledged sends with the same clientMsgId and rejoins with since', async () => {
    const { client, sockets } = setup();
    void client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    sockets[0]!.serverSends({ type: 'message', message: message(7) });
    const sent = client.send('r1', 'hi');
    const first = sockets[0]!.sent.find((frame) => frame.type === 'send')!;
    sockets[0]!.close(1012, 'restarting');
    await tick();
    expect(sockets).toHaveLength(2);
    sockets[1]!.serverSends(hello);
    const resent = sockets[1]!.sent.find((frame) => frame.type === 'send')!;
    expect(resent.clientMsgId).toBe(first.clientMsgId);
    expect(sockets[1]!.sent).toContainEqual(
      expect.objectContaining({ type: 'join', roomId: 'r1', since: 'm7' }),
    );
    const stored = {
      ...message(8),
      sender: { id: 'u1', username: 'ann' },
      clientMsgId: String(first.clientMsgId),
    };
    sockets[1]!.serverSends({ type: 'ack', ref: String(resent.ref), message: stored });
    await expect(sent).resolves.toMatchObject({ id: 'm8' });
    client.close();
  });

  it('on resync joins every room it delivered from again with since, and delivers what was missed once', async () => {
    const { client, sockets, delivered } = setup();
    void client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    sockets[0]!.serverSends({ type: 'message', message: message(3) });
    sockets[0]!.serverSends({ type: 'resync' });
    const join = sockets[0]!.sent.find((frame) => frame.type === 'join')!;
    expect(join).toMatchObject({ roomId: 'r1', since: 'm3' });
    sockets[0]!.serverSends({
      type: 'joined',
      ref: String(join.ref),
      roomId: 'r1',
      missed: [message(4), message(5)],
      hasMore: false,
      rev: 5,
      changed: [],
      changedHasMore: false,
    });
    sockets[0]!.serverSends({ type: 'message', message: message(5) });
    await tick();
    expect(delivered).toEqual([3, 4, 5]);
    client.close();
  });

  it('rejoins with since the newest message the app marked seen from history, and drops live copies of it', async () => {
    const { client, sockets, delivered } = setup();
    void client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    client.markSeen(message(5));
    sockets[0]!.serverSends({ type: 'message', message: message(5) });
    sockets[0]!.serverSends({ type: 'message', message: message(6) });
    expect(delivered).toEqual([6]);
    client.markSeen(message(4));
    sockets[0]!.close(1006, '');
    await tick();
    sockets[1]!.serverSends(hello);
    expect(sockets[1]!.sent).toContainEqual(
      expect.objectContaining({ type: 'join', roomId: 'r1', since: 'm6' }),
    );
    client.close();
  });

  it('sends with a fresh clientMsgId where crypto.randomUUID is missing (a page on plain http)', async () => {
    // An own property shadows the prototype's method; deleting it restores the method.
    Object.defineProperty(globalThis.crypto, 'randomUUID', { value: undefined, configurable: true });
    try {
      const { client, sockets } = setup();
      void client.connect();
      await tick();
      sockets[0]!.serverSends(hello);
      void client.send('r1', 'one').catch(() => undefined);
      void client.send('r2', 'two').catch(() => undefined);
      const ids = sockets[0]!.sent.filter((frame) => frame.type === 'send').map((frame) => frame.clientMsgId);
      expect(ids).toHaveLength(2);
      expect(ids[0]).toMatch(/^[0-9a-f]{32}$/);
      expect(ids[0]).not.toBe(ids[1]);
      client.close();
    } finally {
      delete (globalThis.crypto as { randomUUID?: unknown }).randomUUID;
    }
  });

  it('sends again, with the same clientMsgId, a message the server refused for the rate limit', async () => {
    const { client, sockets } = setup();
    void client.connect();
    await tick();
    const socket = sockets[0]!;
    socket.serverSends(hello);
    const sent = client.send('r1', 'hi');
    const first = socket.sent.find((frame) => frame.type === 'send')!;
    socket.serverSends({ type: 'error', ref: String(first.ref), code: 'RATE_LIMITED', message: 'slow down' });
    await tick();
    const sends = socket.sent.filter((frame) => frame.type === 'send');
    expect(sends).toHaveLength(2);
    expect(sends[1]!.clientMsgId).toBe(first.clientMsgId);
    const stored = {
      ...message(1),
      sender: { id: 'u1', username: 'ann' },
      clientMsgId: String(first.clientMsgId),
    };
    socket.serverSends({ type: 'ack', ref: String(sends[1]!.ref), message: stored });
    await expect(sent).resolves.toMatchObject({ id: 'm1' });
    client.close();
  });

  it('keeps a room in typed order: one send in flight, later ones held behind a rate-limited one, none dropped', async () => {
    const { client, sockets } = setup();
    void client.connect();
    await tick();
    const socket = sockets[0]!;
    socket.serverSends(hello);
    const texts = ['one', 'two', 'three'];
    const acked = texts.map((text) => client.send('r1', text));
    const other = client.send('r2', 'elsewhere');
    const sends = (roomId = 'r1') =>
      socket.sent.filter((frame) => frame.type === 'send' && frame.roomId === roomId);
    // One in flight per room: 'one' for r1, and r2 does not wait for r1.
    expect(sends().map((frame) => frame.text)).toEqual(['one']);
    expect(sends('r2').map((frame) => frame.text)).toEqual(['elsewhere']);
    // 'one' is refused for the rate limit many times over: 'two' never overtakes it, and it is never given up.
    for (let refusal = 0; refusal < 12; refusal++) {
      const last = sends().at(-1)!;
      expect(last.text).toBe('one');
      socket.serverSends({
        type: 'error',
        ref: String(last.ref),
        code: 'RATE_LIMITED',
        message: 'slow down',
      });
      await tick();
    }
    const ack = (frame: Record<string, unknown>, seq: number) =>
      socket.serverSends({
        type: 'ack',
        ref: String(frame.ref),
        message: {
          ...message(seq),
          text: String(frame.text),
          sender: { id: 'u1', username: 'ann' },
          clientMsgId: String(frame.clientMsgId),
        },
      });
    for (const [index, text] of texts.entries()) {
      const frame = sends().at(-1)!;
      expect(frame.text).toBe(text);
      ack(frame, index + 1);
      await expect(acked[index]).resolves.toMatchObject({ text });
    }
    ack(sends('r2')[0]!, 1);
    await expect(other).resolves.toMatchObject({ text: 'elsewhere' });
    expect(sends().filter((frame) => frame.text !== 'one')).toHaveLength(2);
    client.close();
  });

  it('sends under the clientMsgId it is given, as for a message kept across a reload', async () => {
    const { client, sockets } = setup();
    void client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    void client.send('r1', 'kept', 'kept-id-1').catch(() => undefined);
    expect(sockets[0]!.sent).toContainEqual(
      expect.objectContaining({ type: 'send', text: 'kept', clientMsgId: 'kept-id-1' }),
    );
    client.close();
  });

  it('sends the attachments it is given, with empty text, and no attachmentIds without them', async () => {
    const { client, sockets } = setup();
    void client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    void client.send('r1', '', 'with-files', undefined, ['a1', 'a2']).catch(() => undefined);
    void client.send('r2', 'plain', 'without-files', undefined, []).catch(() => undefined);
    const sends = sockets[0]!.sent.filter((frame) => frame.type === 'send');
    expect(sends).toHaveLength(2);
    expect(sends[0]).toMatchObject({ text: '', clientMsgId: 'with-files', attachmentIds: ['a1', 'a2'] });
    expect(sends[1]).not.toHaveProperty('attachmentIds');
    client.close();
  });

  it('fails a send the server refuses for another reason', async () => {
    const { client, sockets } = setup();
    void client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    const sent = client.send('r1', 'hi');
    const first = sockets[0]!.sent.find((frame) => frame.type === 'send')!;
    sockets[0]!.serverSends({
      type: 'error',
      ref: String(first.ref),
      code: 'FORBIDDEN',
      message: 'not a member',
    });
    await expect(sent).rejects.toMatchObject({ code: 'FORBIDDEN' });
    client.close();
  });

  it('does not reconnect after the session ended (4001) and says so', async () => {
    const { client, sockets } = setup();
    const closed: Array<{ code: number; final: boolean }> = [];
    client.on('closed', (event) => closed.push(event));
    void client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    sockets[0]!.close(4001, 'session ended');
    await tick();
    expect(closed).toEqual([{ code: 4001, reason: 'session ended', final: true }]);
    expect(sockets).toHaveLength(1);
    expect(client.connectionState).toBe('closed');
  });
});

describe('ChatClient liveness', () => {
  const quick = { pingIntervalMs: 20, pingTimeoutMs: 20, connectTimeoutMs: 40 };

  it('pings an open socket and replaces one that answers nothing within the deadline', async () => {
    const { client, sockets } = setup([], quick);
    const closed: Array<{ code: number; reason: string; final: boolean }> = [];
    client.on('closed', (event) => closed.push(event));
    void client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(sockets[0]!.sent).toContainEqual({ type: 'ping' });
    expect(closed).toEqual([{ code: 1006, reason: 'no answer to ping', final: false }]);
    expect(sockets[0]!.readyState).toBe(3);
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    sockets[1]!.serverSends(hello);
    expect(client.connectionState).toBe('open');
    client.close();
  });

  it('keeps a socket that answers its pings', async () => {
    const { client, sockets } = setup([], quick);
    void client.connect();
    await tick();
    const socket = sockets[0]!;
    socket.serverSends(hello);
    const answer = setInterval(() => socket.serverSends({ type: 'pong' }), 5);
    await new Promise((resolve) => setTimeout(resolve, 150));
    clearInterval(answer);
    expect(socket.sent.filter((frame) => frame.type === 'ping').length).toBeGreaterThanOrEqual(3);
    expect(sockets).toHaveLength(1);
    expect(client.connectionState).toBe('open');
    client.close();
  });

  it('replaces a socket whose hello does not come in time', async () => {
    const { client, sockets } = setup([], quick);
    const connected = client.connect();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(sockets[0]!.readyState).toBe(3);
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    sockets.at(-1)!.serverSends(hello);
    await expect(connected).resolves.toMatchObject({ sessionId: 's1' });
    client.close();
  });

  it('drops the socket when the browser goes offline and reconnects at once when it is back online', async () => {
    const network = new EventTarget();
    const { client, sockets } = setup([], {
      network,
      minReconnectDelayMs: 60_000,
      maxReconnectDelayMs: 60_000,
    });
    const states: string[] = [];
    client.on('state', (state) => states.push(state));
    void client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    network.dispatchEvent(new Event('offline'));
    expect(sockets[0]!.readyState).toBe(3);
    expect(client.connectionState).toBe('reconnecting');
    await tick();
    // The backoff is a minute: only 'online' brings the next socket this soon.
    expect(sockets).toHaveLength(1);
    network.dispatchEvent(new Event('online'));
    await tick();
    expect(sockets).toHaveLength(2);
    sockets[1]!.serverSends(hello);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    client.close();
    network.dispatchEvent(new Event('online'));
    await tick();
    expect(sockets).toHaveLength(2);
  });
});

describe('message changes and read state (issue 11)', () => {
  it('gives each rev of a message once, drops an older one, and rejoins asking for changes since the rev it saw', async () => {
    const { client, sockets } = setup();
    const updates: Array<[string, number]> = [];
    client.on('message.updated', (updated) => updates.push([updated.text, updated.rev]));
    void client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    sockets[0]!.serverSends({ type: 'message', message: message(4) });
    const edited = { ...message(4), text: 'edited', rev: 9, editedAt: user.createdAt };
    sockets[0]!.serverSends({ type: 'message.updated', message: edited });
    sockets[0]!.serverSends({ type: 'message.updated', message: edited });
    sockets[0]!.serverSends({ type: 'message.updated', message: { ...edited, text: 'stale', rev: 7 } });
    expect(updates).toEqual([['edited', 9]]);
    sockets[0]!.close(1012, 'restarting');
    await tick();
    sockets[1]!.serverSends(hello);
    const join = sockets[1]!.sent.find((frame) => frame.type === 'join')!;
    expect(join).toMatchObject({ roomId: 'r1', since: 'm4', sinceRev: 9 });
    const deleted = { ...message(4), text: '', rev: 12, deletedAt: user.createdAt };
    sockets[1]!.serverSends({
      type: 'joined',
      ref: String(join.ref),
      roomId: 'r1',
      missed: [],
      hasMore: false,
      rev: 12,
      changed: [deleted, edited],
      changedHasMore: false,
    });
    await tick();
    expect(updates).toEqual([
      ['edited', 9],
      ['', 12],
    ]);
    client.close();
  });

  it('sends edits, deletions and reactions as requests answered by ack, and the read position at most twice a second', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'queueMicrotask'] });
    try {
      const { client, sockets } = setup();
      const reads: number[] = [];
      client.on('read', ({ seq }) => reads.push(seq));
      void client.connect();
      await Promise.resolve();
      sockets[0]!.serverSends(hello);
      const reacted = client.react('r1', 'm1', '👍', true);
      const frame = sockets[0]!.sent.at(-1)!;
      expect(frame).toMatchObject({ type: 'react', roomId: 'r1', messageId: 'm1', emoji: '👍', on: true });
      const withReaction = { ...message(1), rev: 2, reactions: [{ emoji: '👍', count: 1, userIds: ['u1'] }] };
      sockets[0]!.serverSends({ type: 'ack', ref: String(frame.ref), message: withReaction });
      await expect(reacted).resolves.toEqual(withReaction);
      client.markRead('r1', 3);
      client.markRead('r1', 5);
      client.markRead('r1', 4);
      expect(sockets[0]!.sent.filter((sent) => sent.type === 'read')).toEqual([]);
      jest.advanceTimersByTime(500);
      const read = sockets[0]!.sent.filter((sent) => sent.type === 'read');
      expect(read).toEqual([expect.objectContaining({ roomId: 'r1', seq: 5 })]);
      sockets[0]!.serverSends({
        type: 'read',
        ref: String(read[0]!.ref),
        roomId: 'r1',
        userId: 'u1',
        seq: 5,
      });
      expect(reads).toEqual([5]);
      client.close();
    } finally {
      jest.useRealTimers();
    }
  });
});

/** One sample of every event the server may send: a type the protocol lacks, or one left out here, fails to compile. */
const samples: { [K in ServerEventType]: ServerEventOf<K> } = {
  hello,
  joined: {
    type: 'joined',
    ref: 'j',
    roomId: 'r1',
    missed: [message(1)],
    hasMore: false,
    rev: 1,
    changed: [],
    changedHasMore: false,
  },
  left: { type: 'left', ref: 'l', roomId: 'r1' },
  ack: { type: 'ack', ref: 'a', message: message(2) },
  pong: { type: 'pong', ref: 'p' },
  refreshed: { type: 'refreshed', ref: 'f', expiresAt: user.createdAt },
  error: { type: 'error', ref: 'e', code: 'FORBIDDEN', message: 'no' },
  message: { type: 'message', message: message(1) },
  'message.updated': {
    type: 'message.updated',
    message: { ...message(1), rev: 3, editedAt: user.createdAt },
  },
  read: { type: 'read', roomId: 'r1', userId: 'u1', seq: 1 },
  typing: { type: 'typing', roomId: 'r1', user, active: true },
  'member.joined': { type: 'member.joined', roomId: 'r1', user },
  'member.left': { type: 'member.left', roomId: 'r1', user },
  'room.invited': { type: 'room.invited', room },
  'room.updated': { type: 'room.updated', room: { ...room, topic: 'plans' } },
  'room.deleted': { type: 'room.deleted', roomId: 'r2' },
  'room.removed': { type: 'room.removed', roomId: 'r3' },
  announcement: {
    type: 'announcement',
    announcement: {
      id: 'a1',
      text: 'maintenance at noon',
      createdAt: user.createdAt,
      sender: { id: 'u9', username: 'admin' },
    },
  },
  presence: { type: 'presence', user, status: 'online' },
  'session.expiring': { type: 'session.expiring', expiresAt: user.createdAt },
  resync: { type: 'resync' },
};

describe('the protocol as the client library sees it', () => {
  it('has a sample of every server event type, each valid by the schema the server sends with', () => {
    const types = serverEventSchema.options.map((option) => option.shape.type.value);
    expect(Object.keys(samples).sort()).toEqual([...types].sort());
    for (const sample of Object.values(samples)) expect(serverEventSchema.parse(sample)).toEqual(sample);
  });

  it('handles every server event type and reports one it does not know', async () => {
    const { client, sockets } = setup();
    const errors: string[] = [];
    client.on('error', ({ code }) => errors.push(code));
    const connected = client.connect();
    await tick();
    sockets[0]!.serverSends(hello);
    await connected;
    sockets[0]!.serverSends(Object.values(samples));
    await tick();
    expect(errors).toEqual(['FORBIDDEN']);
    sockets[0]!.onmessage?.({ data: JSON.stringify([{ type: 'from.the.future' }, { notAnEvent: true }]) });
    expect(errors).toEqual(['FORBIDDEN', 'UNKNOWN_EVENT', 'INVALID_EVENT']);
    client.close();
  });
});
