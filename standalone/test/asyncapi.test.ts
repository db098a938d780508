import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Parser } from '@asyncapi/parser';
import { clientFrameSchema, serverEventSchema } from '@chat/protocol';
import { buildAsyncApiDocument, renderAsyncApiDocument } from '@chat/standalone';
import type { Json } from './support/system';

const DOCS_FILE = path.resolve(__dirname, '../../docs/asyncapi.json');
/** Spectral's severities: 0 error, 1 warning (2 information and 3 hint are advice). */
const WARNING = 1;

describe('AsyncAPI document', () => {
  const document: Json = buildAsyncApiDocument();

  it('docs/asyncapi.json is what the code generates (run `npm run docs` after changing the protocol)', () => {
    expect(readFileSync(DOCS_FILE, 'utf8')).toBe(renderAsyncApiDocument());
  });

  it('is a valid AsyncAPI 3.0 document, with neither errors nor warnings', async () => {
    const { document: parsed, diagnostics } = await new Parser().parse(renderAsyncApiDocument());
    const problems = diagnostics
      .filter((diagnostic) => diagnostic.severity <= WARNING)
      .map((diagnostic) => `${diagnostic.path.join('.')}: ${diagnostic.message}`);
    expect(problems).toEqual([]);
    expect(parsed?.version()).toBe('3.0.0');
  });

  it('describes every client frame and server event of the protocol package on the socket channel', () => {
    const frames = clientFrameSchema.options.map((option) => `frame.${option.shape.type.value}`);
    const events = serverEventSchema.options.map((option) => `event.${option.shape.type.value}`);
    expect(Object.keys(document.channels.socket.messages).sort()).toEqual([...frames, ...events].sort());
    expect(document.operations.receiveFrames.messages).toHaveLength(frames.length);
    expect(document.operations.sendEvents.messages).toHaveLength(events.length);
    const send = document.components.schemas['frame.send'];
    expect(send.required).toEqual(expect.arrayContaining(['type', 'roomId', 'text']));
    expect(send.additionalProperties).toBe(false);
  });

  it('describes the NATS subjects, durable ones with their stream and requests with their replies', () => {
    const addresses = Object.values(document.channels as Record<string, Json>).map(
      (channel) => channel.address,
    );
    expect(addresses).toEqual(
      expect.arrayContaining([
        'events.auth.session.ended',
        'events.users.user.deleted',
        'users.v1.get-public',
        'auth.v1.jwks',
        'chat.room.{roomId}',
        'chat.user.{userId}',
        'chat.presence.heartbeat',
        'chat.instances',
      ]),
    );
    expect(document.channels.sessionEnded.description).toContain('JetStream');
    expect(document.operations.getPublicUsers.reply.messages).toHaveLength(1);
  });
});
