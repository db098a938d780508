import fc from 'fast-check';
import { clientFrameSchema } from '@chat/protocol';
import { createRoom, startChat, type Json, type TestChat, type TestClient, type TestUser } from './support';

/** Events that answer a client frame (as opposed to room events any member gets). */
const REPLIES = new Set(['error', 'ack', 'joined', 'left', 'pong', 'refreshed', 'read']);

type Frame = { kind: 'text'; text: string } | { kind: 'binary'; bytes: Uint8Array };

describe('fuzzed frames', () => {
  let chat: TestChat;
  let user: TestUser;
  let roomId: string;
  let messageId: string;
  let client: TestClient;
  let sentinel = 0;

  beforeAll(async () => {
    chat = await startChat({ env: { WS_RATE_LIMIT_PER_SECOND: '1000000', WS_RATE_LIMIT_BURST: '1000000' } });
    user = chat.users.add('fuzzer');
    roomId = (await createRoom(chat, user)).id;
    client = await chat.connect(user);
    messageId = (await client.request({ type: 'send', roomId, text: 'to change', clientMsgId: 'target' }))
      .message.id;
  });

  afterAll(() => chat.stop());

  /** Valid-looking frames, with fields drawn from good values and from anything at all. */
  function frames(): fc.Arbitrary<Record<string, unknown>> {
    const anything = fc.jsonValue({ maxDepth: 3 });
    const id = fc.oneof(fc.constant(roomId), fc.string({ maxLength: 70 }), anything);
    const text = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.string({ unit: 'binary', maxLength: 50 }),
      anything,
    );
    const ref = fc.option(fc.oneof(fc.string({ maxLength: 70 }), anything), { nil: undefined });
    const type = fc.oneof(
      fc.constantFrom(
        'join',
        'leave',
        'send',
        'edit',
        'delete',
        'react',
        'read',
        'typing',
        'ping',
        'refresh',
      ),
      fc.string({ maxLength: 12 }),
      anything,
    );
    return fc.record(
      {
        type,
        ref,
        roomId: id,
        since: id,
        text,
        clientMsgId: fc.oneof(fc.string({ maxLength: 70 }), anything),
        active: fc.oneof(fc.boolean(), anything),
        messageId: fc.oneof(fc.constant(messageId), fc.string({ maxLength: 70 }), anything),
        replyTo: fc.oneof(fc.constant(messageId), anything),
        emoji: fc.oneof(fc.constantFrom('👍', '🎉', 'x'), fc.string({ maxLength: 40 }), anything),
        on: fc.oneof(fc.boolean(), anything),
        seq: fc.oneof(fc.nat(), fc.integer(), anything),
        sinceRev: fc.oneof(fc.nat(), anything),
        token: fc.oneof(fc.string({ maxLength: 40 }), fc.constant(user.token)),
        extra: anything,
      },
      { requiredKeys: ['type'] },
    );
  }

  /** A valid frame mutated at the level of its text: cut, spliced, or with a byte changed. */
  function mutated(): fc.Arbitrary<string> {
    return fc
      .tuple(frames(), fc.nat(), fc.nat(), fc.string({ unit: 'binary', maxLength: 8 }))
      .map(([frame, at, length, insert]) => {
        const text = JSON.stringify(frame);
        const cut = at % (text.length + 1);
        return text.slice(0, cut) + insert + text.slice(cut + (length % 4));
      });
  }

  function anyFrame(): fc.Arbitrary<Frame> {
    return fc.oneof(
      frames().map((frame) => ({ kind: 'text' as const, text: JSON.stringify(frame) })),
      mutated().map((text) => ({ kind: 'text' as const, text })),
      fc.json({ maxDepth: 4 }).map((text) => ({ kind: 'text' as const, text })),
      fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ kind: 'text' as const, text })),
      fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ kind: 'binary' as const, bytes })),
    );
  }

  /**
   * A valid typing frame has no reply by design; a valid `read` without a `ref` is answered only by the
   * `read` every socket of the user gets, which carries no ref.
   */
  function unanswered(frame: Frame): boolean {
    if (frame.kind !== 'text') return false;
    try {
      const parsed = clientFrameSchema.safeParse(JSON.parse(frame.text));
      if (!parsed.success) return false;
      return parsed.data.type === 'typing' || (parsed.data.type === 'read' && parsed.data.ref === undefined);
    } catch {
      return false;
    }
  }

  it('answers thousands of random and mutated frames without closing the socket or crashing', async () => {
    await fc.assert(
      fc.asyncProperty(anyFrame(), async (frame) => {
        const before = client.events.length;
        if (frame.kind === 'text') client.ws.send(frame.text);
        else client.ws.send(frame.bytes, { binary: true });
        const ref = `sentinel-${++sentinel}`;
        client.send({ type: 'ping', ref });
        await client.waitFor((event: Json) => event.ref === ref, 5_000);
        const replies = client.events
          .slice(before)
          .filter(
            (event: Json) =>
              REPLIES.has(event.type) &&
              event.ref !== ref &&
              !(event.type === 'read' && event.ref === undefined),
          );
        if (unanswered(frame)) expect(replies.length).toBeLessThanOrEqual(1);
        else expect(replies).toHaveLength(1);
        expect(client.ws.readyState).toBe(client.ws.OPEN);
      }),
      { numRuns: 3_000 },
    );
    const fresh = await chat.connect(user);
    expect(await fresh.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect((await chat.call('GET', '/api/rooms', { token: user.token })).status).toBe(200);
    expect(client.of('error').some((event: Json) => event.code === 'INTERNAL')).toBe(false);
  }, 120_000);
});
