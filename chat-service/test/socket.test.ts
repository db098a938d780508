import { generateKeyPairSync, randomUUID } from 'node:crypto';
import net from 'node:net';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { subjects } from '@chat/shared';
import type { TestClient } from './support';
import {
  createRoom,
  protocolViolations,
  publicProfile,
  refusal,
  sleep,
  startChat,
  type TestChat,
  type TestUser,
} from './support';

describe('the WebSocket protocol', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat({ logLevel: 'debug', env: { WS_ALLOWED_ORIGINS: 'https://chat.example.com' } });
  });

  afterAll(() => chat.stop());

  describe('the upgrade', () => {
    it.each([
      ['no token', () => ({})],
      ['a forged token', () => ({ token: forged() })],
      [
        'an expired token',
        () => ({ token: chat.users.token(chat.users.add('old'), { expiresInSeconds: -60 }) }),
      ],
      ['a malformed token', () => ({ token: 'abc.def.ghi' })],
      ['a forged bearer header', () => ({ token: forged(), bearer: true })],
    ])('refuses %s with 401 and the contract error, no socket opened', async (_case, options) => {
      const before = chat.app.stats().sockets;
      const refused = await refusal(chat.wsUrl, options());
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Bearer');
      expect(refused.body.error.code).toBe('UNAUTHENTICATED');
      expect(chat.app.stats().sockets).toBe(before);
    });

    it('refuses an origin not on the allowlist with 403, and accepts one on it or none', async () => {
      const user = chat.users.add('origin');
      const refused = await refusal(chat.wsUrl, {
        token: user.token,
        headers: { origin: 'https://evil.example.com' },
      });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('FORBIDDEN');
      const allowed = await chat.connect(user, { headers: { origin: 'https://chat.example.com' } });
      const noOrigin = await chat.connect(user, { bearer: true });
      expect(allowed.of('hello')).toHaveLength(1);
      expect(noOrigin.of('hello')).toHaveLength(1);
    });

    it('answers 404 for a request target that is no path at all, never 500', async () => {
      const { port } = new URL(chat.url);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(
            'GET //:99999/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
          );
        });
        let received = '';
        socket.on('data', (chunk) => (received += chunk.toString()));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    });

    it('carries the request id on the 101 answer', async () => {
      const user = chat.users.add('request-id');
      const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const ws = new WebSocket(`${chat.wsUrl}?token=${user.token}`, {
          headers: { 'x-request-id': 'socket-42' },
        });
        ws.once('upgrade', (res) => {
          resolve(res.headers);
          ws.close();
        });
        ws.once('error', reject);
      });
      expect(headers['x-request-id']).toBe('socket-42');
    });

    it('closes with 4001 a socket whose session ended while the upgrade was under way', async () => {
      const user = chat.users.add('racing');
      chat.users.lookupDelayMs = 300;
      try {
        const ws = new WebSocket(`${chat.wsUrl}?token=${user.token}`);
        const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
        ws.on('error', () => undefined);
        await sleep(100);
        await chat.bus.publishDurable(subjects.sessionEnded.subject, {
          sessionId: user.sid,
          userId: user.id,
          reason: 'logout',
          endedAt: new Date().toISOString(),
        });
        expect(await closed).toBe(4001);
      } finally {
        chat.users.lookupDelayMs = 0;
      }
    });

    it('answers 404 for another path', async () => {
      const user = chat.users.add('path');
      const refused = await refusal(chat.wsUrl.replace(/\/ws$/, '/socket'), { token: user.token });
      expect(refused.status).toBe(404);
    });

    it('never writes the token to the log', async () => {
      const user = chat.users.add('secret');
      const client = await chat.connect(user);
      await refusal(chat.wsUrl, { token: `${user.token}x` });
      await chat.call('GET', `/api/rooms?token=${user.token}`, { token: user.token });
      client.close();
      await client.closed;
      const signature = user.token.split('.')[2]!;
      expect(chat.logs.lines.some((line) => line.includes('socket opened'))).toBe(true);
      expect(chat.logs.lines.filter((line) => line.includes(signature))).toEqual([]);
    });
  });

  function forged(): string {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return jwt.sign({ username: 'x', role: 'user', sid: 's' }, privateKey, {
      algorithm: 'ES256',
      keyid: chat.issuer.kid,
      subject: 'u-x',
      issuer: 'chat-auth',
      audience: 'chat',
      expiresIn: 60,
    });
  }

  describe('hello', () => {
    it('says who you are, your session, your rooms, and who of your rooms is online', async () => {
      const ann = chat.users.add('ann');
      const bob = chat.users.add('bob');
      const stranger = chat.users.add('stranger');
      const room = await createRoom(chat, ann, undefined, 'private');
      await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
        token: ann.token,
        body: { userId: bob.id },
      });
      await chat.connect(bob);
      await chat.connect(stranger);
      await sleep(50);
      const client = await chat.connect(ann);
      const hello = client.of('hello')[0];
      expect(hello).toEqual({
        type: 'hello',
        user: publicProfile(ann),
        sessionId: ann.sid,
        rooms: [expect.objectContaining({ id: room.id, kind: 'private', memberCount: 2 })],
        online: [publicProfile(bob)],
        presenceMaxRoomMembers: 1000,
        announcements: [],
      });
      expect(client.events[0].type).toBe('hello');
    });
  });

  describe('rooms on the socket', () => {
    let ann: TestUser;
    let bob: TestUser;
    let room: { id: string };

    beforeEach(async () => {
      ann = chat.users.add('ann');
      bob = chat.users.add('bob');
      room = await createRoom(chat, ann);
    });

    it('joins a public room, acks a send, and delivers the message once to every receiving socket', async () => {
      const annFirst = await chat.connect(ann);
      const annSecond = await chat.connect(ann);
      const bobSocket = await chat.connect(bob);
      const joined = await bobSocket.request({ type: 'join', roomId: room.id });
      expect(joined).toEqual({
        type: 'joined',
        ref: expect.any(String),
        roomId: room.id,
        missed: [],
        hasMore: false,
        rev: 0,
        changed: [],
        changedHasMore: false,
      });

      const ack = await annFirst.request({
        type: 'send',
        roomId: room.id,
        text: '  hello there ',
        clientMsgId: 'c1',
      });
      expect(ack.type).toBe('ack');
      expect(ack.message).toEqual({
        id: expect.any(String),
        roomId: room.id,
        seq: 1,
        rev: 1,
        sender: { id: ann.id, username: ann.username },
        text: 'hello there',
        clientMsgId: 'c1',
        createdAt: expect.any(String),
        reactions: [],
        mentions: [],
        attachments: [],
      });
      for (const socket of [annFirst, annSecond, bobSocket]) {
        const event = await socket.waitFor((e) => e.type === 'message' && e.message.id === ack.message.id);
        expect(event).toEqual({ type: 'message', message: ack.message });
      }
      await sleep(100);
      for (const socket of [annFirst, annSecond, bobSocket]) {
        expect(socket.events.filter((e) => e.type === 'message')).toHaveLength(1);
      }
      const ackIndex = annFirst.events.indexOf(ack);
      const messageIndex = annFirst.events.findIndex((e) => e.type === 'message');
      expect(ackIndex).toBeLessThan(messageIndex);
    });

    it('stores a burst of sends from one socket in the order they came, acks each, and delivers them together', async () => {
      const sender = await chat.connect(ann);
      const reader = await chat.connect(bob);
      await reader.request({ type: 'join', roomId: room.id });
      const texts = Array.from({ length: 20 }, (_, i) => `burst ${i}`);
      // Written back to back, none waiting for the one before it.
      const acks = await Promise.all(
        texts.map((text, i) =>
          sender.request({ type: 'send', roomId: room.id, text, clientMsgId: `burst-${i}` }),
        ),
      );
      expect(acks.map((ack) => ack.type)).toEqual(texts.map(() => 'ack'));
      const seqs = acks.map((ack) => ack.message.seq as number);
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
      expect(acks.map((ack) => ack.message.text)).toEqual(texts);
      await reader.waitFor((e) => e.type === 'message' && e.message.text === 'burst 19');
      const delivered = reader.of('message').filter((e) => String(e.message.text).startsWith('burst'));
      expect(delivered.map((e) => e.message.text)).toEqual(texts);
      // Stored while the next ones were coming, they reach the reader in fewer frames than messages.
      const framesWithBurst = reader.frames.filter((frame) => frame.includes('"burst '));
      expect(framesWithBurst.length).toBeLessThan(texts.length);
    });

    it('answers a repeated clientMsgId with the first message and broadcasts nothing new', async () => {
      const annSocket = await chat.connect(ann);
      const first = await annSocket.request({
        type: 'send',
        roomId: room.id,
        text: 'once',
        clientMsgId: 'dup',
      });
      const again = await annSocket.request({
        type: 'send',
        roomId: room.id,
        text: 'once more',
        clientMsgId: 'dup',
      });
      expect(again.message).toEqual(first.message);
      const next = await annSocket.request({
        type: 'send',
        roomId: room.id,
        text: 'next',
        clientMsgId: 'other',
      });
      expect(next.message.seq).toBe(2);
      await annSocket.waitFor((e) => e.type === 'message' && e.message.seq === 2);
      expect(annSocket.of('message').map((e) => e.message.seq)).toEqual([1, 2]);
    });

    it('numbers 50 concurrent sends from several sockets 1..50 without gaps, each delivered once', async () => {
      const sockets = await Promise.all([
        chat.connect(ann),
        chat.connect(ann),
        chat.connect(bob),
        chat.connect(bob),
      ]);
      await sockets[2]!.request({ type: 'join', roomId: room.id });
      const acks = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          sockets[i % 4]!.request({ type: 'send', roomId: room.id, text: `m${i}`, clientMsgId: `k${i}` }),
        ),
      );
      expect(acks.map((ack) => ack.message.seq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      for (const socket of sockets) {
        const messages = await socket.waitForCount((e) => e.type === 'message', 50);
        expect(messages.map((e) => e.message.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      }
      await sleep(100);
      expect(sockets.map((socket) => socket.of('message').length)).toEqual([50, 50, 50, 50]);
    });

    it('refuses sends and joins where the user does not belong', async () => {
      const secret = await createRoom(chat, ann, undefined, 'private');
      const bobSocket = await chat.connect(bob);
      const send = await bobSocket.request({ type: 'send', roomId: secret.id, text: 'let me in' });
      expect(send).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
      const join = await bobSocket.request({ type: 'join', roomId: secret.id });
      expect(join).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
      const missing = await bobSocket.request({ type: 'join', roomId: 'no-such-room' });
      expect(missing).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
      const history = await chat.call('GET', `/api/rooms/${secret.id}/messages`, { token: bob.token });
      expect(history.status).toBe(403);
    });

    it('gives a rejoining client the messages after `since`, and history pages by id', async () => {
      const annSocket = await chat.connect(ann);
      const acks = [];
      for (let i = 1; i <= 6; i++)
        acks.push(await annSocket.request({ type: 'send', roomId: room.id, text: `m${i}` }));
      const ids = acks.map((ack) => ack.message.id as string);

      const rejoin = await chat.connect(ann);
      const joined = await rejoin.request({ type: 'join', roomId: room.id, since: ids[3] });
      expect(joined.missed.map((m: { text: string }) => m.text)).toEqual(['m5', 'm6']);
      expect(joined.hasMore).toBe(false);

      const latest = await chat.call('GET', `/api/rooms/${room.id}/messages?limit=2`, { token: ann.token });
      expect(latest.body.items.map((m: { seq: number }) => m.seq)).toEqual([5, 6]);
      expect(latest.body.hasMore).toBe(true);
      const before = await chat.call('GET', `/api/rooms/${room.id}/messages?before=${ids[4]}&limit=3`, {
        token: ann.token,
      });
      expect(before.body.items.map((m: { seq: number }) => m.seq)).toEqual([2, 3, 4]);
      expect(before.body.hasMore).toBe(true);
      const after = await chat.call('GET', `/api/rooms/${room.id}/messages?after=${ids[3]}`, {
        token: ann.token,
      });
      expect(after.body).toEqual({ items: [acks[4].message, acks[5].message], hasMore: false });

      const other = await createRoom(chat, ann);
      const foreign = await chat.call('GET', `/api/rooms/${other.id}/messages?before=${ids[0]}`, {
        token: ann.token,
      });
      expect(foreign.status).toBe(400);
      const badSince = await rejoin.request({ type: 'join', roomId: other.id, since: ids[0] });
      expect(badSince).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
    });

    it('sends typing to the other users of the room only', async () => {
      const annFirst = await chat.connect(ann);
      const annSecond = await chat.connect(ann);
      const bobSocket = await chat.connect(bob);
      await bobSocket.request({ type: 'join', roomId: room.id });
      const outsider = await chat.connect(chat.users.add('outsider'));
      annFirst.send({ type: 'typing', roomId: room.id, active: true });
      const typing = await bobSocket.waitFor((e) => e.type === 'typing');
      expect(typing).toEqual({
        type: 'typing',
        roomId: room.id,
        user: publicProfile(ann),
        active: true,
      });
      await annFirst.request({ type: 'ping' });
      await sleep(100);
      expect([...annFirst.of('typing'), ...annSecond.of('typing'), ...outsider.of('typing')]).toEqual([]);
      const foreign = await outsider.request({ type: 'typing', roomId: room.id, active: true });
      expect(foreign).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    });

    it('tells members who joins and leaves, and stops delivering to a socket that left', async () => {
      const annSocket = await chat.connect(ann);
      const bobSocket = await chat.connect(bob);
      await bobSocket.request({ type: 'join', roomId: room.id });
      const joined = await annSocket.waitFor((e) => e.type === 'member.joined');
      expect(joined).toEqual({
        type: 'member.joined',
        roomId: room.id,
        user: expect.objectContaining({ id: bob.id }),
      });
      const left = await bobSocket.request({ type: 'leave', roomId: room.id });
      expect(left).toEqual({ type: 'left', ref: expect.any(String), roomId: room.id });
      expect(await annSocket.waitFor((e) => e.type === 'member.left')).toMatchObject({
        user: { id: bob.id },
      });
      const ack = await annSocket.request({ type: 'send', roomId: room.id, text: 'after bob left' });
      await annSocket.waitFor((e) => e.type === 'message' && e.message.id === ack.message.id);
      await sleep(100);
      expect(bobSocket.of('message')).toEqual([]);
    });

    it('delivers room.invited to every socket of the invitee, who receive the room at once', async () => {
      const secret = await createRoom(chat, ann, undefined, 'private');
      const annSocket = await chat.connect(ann);
      const bobSockets = [await chat.connect(bob), await chat.connect(bob)];
      const invited = await chat.call('POST', `/api/rooms/${secret.id}/invitations`, {
        token: ann.token,
        body: { userId: bob.id },
      });
      expect(invited.status).toBe(201);
      for (const socket of bobSockets) {
        const event = await socket.waitFor((e) => e.type === 'room.invited');
        expect(event).toEqual({
          type: 'room.invited',
          room: expect.objectContaining({ id: secret.id, memberCount: 2 }),
        });
      }
      const ack = await annSocket.request({ type: 'send', roomId: secret.id, text: 'welcome' });
      for (const socket of bobSockets)
        await socket.waitFor((e) => e.type === 'message' && e.message.id === ack.message.id);
    });

    it('opens a direct room that the peer receives at once, the same room every time', async () => {
      const annSocket = await chat.connect(ann);
      const bobSocket = await chat.connect(bob);
      const first = await chat.call('POST', `/api/direct/${bob.id}`, { token: ann.token });
      const invited = await bobSocket.waitFor((e) => e.type === 'room.invited');
      expect(invited.room).toMatchObject({ id: first.body.id, kind: 'direct' });
      const ack = await annSocket.request({ type: 'send', roomId: first.body.id, text: 'psst' });
      await bobSocket.waitFor((e) => e.type === 'message' && e.message.id === ack.message.id);
      const again = await chat.call('POST', `/api/direct/${ann.id}`, { token: bob.token });
      expect(again.body.id).toBe(first.body.id);
      await sleep(50);
      expect(bobSocket.of('room.invited')).toHaveLength(1);
    });
  });

  describe('bad frames', () => {
    let user: TestUser;
    let client: TestClient;

    beforeAll(async () => {
      user = chat.users.add('fuzzy');
      client = await chat.connect(user);
    });

    it.each([
      ['not JSON', '{"type": "ping"', 'INVALID_JSON', undefined],
      ['an unknown type', { type: 'dance', ref: 'a1' }, 'VALIDATION_FAILED', 'a1'],
      ['an extra field', { type: 'ping', ref: 'a2', admin: true }, 'VALIDATION_FAILED', 'a2'],
      ['a missing field', { type: 'send', ref: 'a3', text: 'x' }, 'VALIDATION_FAILED', 'a3'],
      [
        'text of 4001 characters',
        { type: 'send', ref: 'a4', roomId: 'r', text: 'x'.repeat(4001) },
        'VALIDATION_FAILED',
        'a4',
      ],
      ['blank text', { type: 'send', ref: 'a5', roomId: 'r', text: ' \n ' }, 'VALIDATION_FAILED', 'a5'],
      ['a JSON array', [{ type: 'ping' }], 'VALIDATION_FAILED', undefined],
      ['a JSON string', '"ping"', 'VALIDATION_FAILED', undefined],
      ['a ref over 64 characters', { type: 'ping', ref: 'r'.repeat(65) }, 'VALIDATION_FAILED', undefined],
    ])('answers %s with an error frame and keeps the socket open', async (_case, frame, code, ref) => {
      const before = client.of('error').length;
      client.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
      const errors = await client.waitForCount((e) => e.type === 'error', before + 1);
      const error = errors[before];
      expect(error.code).toBe(code);
      expect(error.ref).toBe(ref);
      expect(typeof error.message).toBe('string');
      expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    });

    it('answers a binary frame with an error frame', async () => {
      const before = client.of('error').length;
      client.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
      const errors = await client.waitForCount((e) => e.type === 'error', before + 1);
      expect(errors[before].code).toBe('INVALID_JSON');
      expect(await client.request({ type: 'ping' })).toEqual({ type: 'pong', ref: expect.any(String) });
    });

    it('closes with 1009 on a frame over 16 KiB', async () => {
      const big = await chat.connect(user);
      big.send(JSON.stringify({ type: 'send', roomId: 'r', text: 'x'.repeat(17_000) }));
      expect((await big.closed).code).toBe(1009);
    });
  });

  describe('rate limit', () => {
    it('answers frames past the limit with RATE_LIMITED, then closes a client that keeps going with 1008', async () => {
      const client = await chat.connect(chat.users.add('flood'));
      for (let i = 0; i < 60; i++) client.send({ type: 'ping', ref: `p${i}` });
      const limited = await client.waitFor((e) => e.type === 'error' && e.code === 'RATE_LIMITED');
      expect(limited.ref).toMatch(/^p\d+$/);
      // The frames within the burst are answered in turn, so on a busy machine their pongs may still be
      // coming when the refusal of a later frame (answered at once) arrives.
      await client.waitForCount((event) => event.type === 'pong', 40);
      for (let i = 0; i < 200; i++) client.send({ type: 'ping' });
      expect(await client.closed).toEqual({ code: 1008, reason: expect.any(String) });
    });
  });

  it('answers ping with pong and its ref', async () => {
    const client = await chat.connect(chat.users.add('pinger'));
    const ref = randomUUID();
    client.send({ type: 'ping', ref });
    expect(await client.waitFor((e) => e.ref === ref)).toEqual({ type: 'pong', ref });
  });
});

describe('origins without an allowlist', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat();
  });

  afterAll(() => chat.stop());

  it('accepts the host the request was addressed to (Host, or X-Forwarded-Host from a proxy), refuses others', async () => {
    const user = chat.users.add('same-host');
    const host = new URL(chat.url).host;
    expect((await chat.connect(user, { headers: { origin: `http://${host}` } })).of('hello')).toHaveLength(1);
    const refused = await refusal(chat.wsUrl, {
      token: user.token,
      headers: { origin: 'http://elsewhere.example' },
    });
    expect(refused.status).toBe(403);
    const proxied = await chat.connect(user, {
      headers: { origin: 'https://chat.example.org', 'x-forwarded-host': 'chat.example.org' },
    });
    expect(proxied.of('hello')).toHaveLength(1);
  });
});

// Everything the server sent in this suite is an event of the protocol package.
afterAll(() => expect(protocolViolations).toEqual([]));
