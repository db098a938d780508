import { z } from 'zod';
import {
  instancesSubject,
  presenceHeartbeatSubject,
  presenceSubject,
  presenceSyncSubject,
  roomSubject,
  userSubject,
} from '@chat/chat-service';
import {
  clientFrameSchema,
  CloseCode,
  errorCodes,
  messageSchema,
  roomSchema,
  serverEventSchema,
  userPublicSchema,
  userSchema,
} from '@chat/protocol';
import {
  defineSubject,
  subjects,
  userOnBusSchema,
  userPublicOnBusSchema,
  type SubjectDef,
} from '@chat/shared';

type Json = Record<string, unknown>;

/** How a subject is used: durable (JetStream `EVENTS`), core (at most once), or request/reply. */
type SubjectKind = 'durable' | 'core' | 'request';

interface NatsChannel {
  id: string;
  def: SubjectDef<z.ZodType>;
  kind: SubjectKind;
  /** Who publishes (or answers, for a request) and who listens. */
  description: string;
  /** For a request: the schema of the answer's `data` (inside `{ok: true, data}`). */
  reply?: z.ZodType;
}

/** Every NATS subject of the system, with the schema its publishers and consumers validate with. */
const natsChannels: NatsChannel[] = [
  {
    id: 'userCreated',
    def: subjects.userCreated,
    kind: 'durable',
    description: 'users-service after a signup. Never carries a password or hash.',
  },
  {
    id: 'userUpdated',
    def: subjects.userUpdated,
    kind: 'durable',
    description:
      "users-service after an update. auth-service refreshes its sessions (with `passwordChanged`, ends the user's sessions but `keepSessionId`); chat instances refresh their profile cache.",
  },
  {
    id: 'userDeleted',
    def: subjects.userDeleted,
    kind: 'durable',
    description:
      "users-service after a deletion. auth-service ends the user's sessions, every verifier refuses their tokens, chat closes their sockets (4003).",
  },
  {
    id: 'sessionEnded',
    def: subjects.sessionEnded,
    kind: 'durable',
    description:
      'auth-service when a session ends (logout, refresh-token reuse, user deleted, password changed): every verifier refuses its tokens and chat closes its sockets (4001). Verifiers replay it from REVOCATION_WINDOW_SECONDS ago when they start.',
  },
  {
    id: 'verifyCredentials',
    def: subjects.verifyCredentials,
    kind: 'request',
    reply: subjects.verifyCredentialsReply.schema,
    description:
      'auth-service asks, users-service answers: the user for a login and password, or INVALID_CREDENTIALS.',
  },
  {
    id: 'resolveLogin',
    def: subjects.resolveLogin,
    kind: 'request',
    reply: subjects.resolveLoginReply.schema,
    description:
      'auth-service asks, users-service answers: the id of the account a login names (or null), so failed logins are counted per account and client address whichever form of the login was typed.',
  },
  {
    id: 'getPublicUsers',
    def: subjects.getPublicUsers,
    kind: 'request',
    reply: subjects.getPublicUsersReply.schema,
    description: 'chat-service asks, users-service answers: public profiles; unknown ids are left out.',
  },
  {
    id: 'jwks',
    def: defineSubject(subjects.jwks.subject, z.object({})),
    kind: 'request',
    reply: subjects.jwks.schema,
    description: 'Every verifier asks, auth-service answers: the public keys that verify access tokens.',
  },
  {
    id: 'chatInstances',
    def: instancesSubject,
    kind: 'core',
    description:
      'Each chat instance every few seconds and at once when draining: where it is and how loaded, for the gateway.',
  },
  {
    id: 'chatRoom',
    def: roomSubject,
    kind: 'core',
    description:
      'Room fan-out between chat instances: each instance delivers its own events to its sockets at once and publishes them here for the others, which subscribe while a local socket receives the room. `origin` is the publishing instance.',
  },
  {
    id: 'chatUser',
    def: userSubject,
    kind: 'core',
    description: "A user's sockets start or stop receiving a room, on every instance.",
  },
  {
    id: 'chatPresence',
    def: presenceSubject,
    kind: 'core',
    description:
      'An instance starts or stops holding a user (their first socket there, or their last one gone).',
  },
  {
    id: 'chatPresenceHeartbeat',
    def: presenceHeartbeatSubject,
    kind: 'core',
    description:
      "Every PRESENCE_TTL_MS / 3: all users an instance holds; a silent instance's users go offline after `ttlMs`.",
  },
  {
    id: 'chatPresenceSync',
    def: presenceSyncSubject,
    kind: 'core',
    description: "A starting instance asks for everyone's heartbeat now.",
  },
];

/** `chat.room.*` → `chat.room.{roomId}` with its parameter, as AsyncAPI addresses are written. */
function natsAddress(subject: string): { address: string; parameters?: Json } {
  if (!subject.includes('*')) return { address: subject };
  const name = subject.startsWith('chat.room.') ? 'roomId' : 'userId';
  return {
    address: subject.replace('*', `{${name}}`),
    parameters: { [name]: { description: `An id (\`[A-Za-z0-9_-]\`, so always one subject token).` } },
  };
}

const kindText: Record<SubjectKind, string> = {
  durable: 'Durable: JetStream stream EVENTS (file storage, 7 days); consumers resume where they left off.',
  core: 'Core NATS: at most once, no history.',
  request: 'Request/reply: the answer is `{ok: true, data}` or `{ok: false, error: {code, message}}`.',
};

const eventTypeOf = (schema: z.ZodObject) => String((schema.shape.type as z.ZodLiteral).value);

/**
 * The AsyncAPI 3.0 document of everything that is not plain REST: the WebSocket protocol at `/ws` (from
 * `@chat/protocol`) and the NATS subjects between services (from the subject definitions the services
 * validate with). docs/asyncapi.md is the readable guide beside it.
 */
export function buildAsyncApiDocument(): Json {
  const registry = z.registry<{ id: string }>();
  registry.add(userSchema, { id: 'User' });
  registry.add(userPublicSchema, { id: 'UserPublic' });
  registry.add(userOnBusSchema, { id: 'UserOnBus' });
  registry.add(userPublicOnBusSchema, { id: 'UserPublicOnBus' });
  registry.add(roomSchema, { id: 'Room' });
  registry.add(messageSchema, { id: 'Message' });
  const frames = clientFrameSchema.options.map((schema) => ({ schema, type: eventTypeOf(schema) }));
  const events = serverEventSchema.options.map((schema) => ({ schema, type: eventTypeOf(schema) }));
  for (const { schema, type } of frames) registry.add(schema, { id: `frame.${type}` });
  for (const { schema, type } of events) registry.add(schema, { id: `event.${type}` });
  for (const channel of natsChannels) {
    registry.add(channel.def.schema, { id: `nats.${channel.id}` });
    if (channel.reply) registry.add(channel.reply, { id: `nats.${channel.id}.reply` });
  }
  const generated = z.toJSONSchema(registry, {
    target: 'draft-7',
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Json> };
  const schemas = Object.fromEntries(
    Object.entries(generated.schemas).map(([id, schema]) => {
      const { $schema: _draft, $id: _id, ...rest } = schema;
      return [id, rest];
    }),
  );
  const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
  const describe = (id: string) => (schemas[id]?.description as string | undefined) ?? '';

  const messages: Json = {};
  for (const { type } of frames)
    messages[`frame.${type}`] = {
      name: type,
      title: `${type} (client → server)`,
      summary: describe(`frame.${type}`),
      payload: ref(`frame.${type}`),
    };
  for (const { type } of events)
    messages[`event.${type}`] = {
      name: type,
      title: `${type} (server → client)`,
      summary: describe(`event.${type}`),
      payload: ref(`event.${type}`),
    };
  const messageRef = (id: string) => ({ $ref: `#/components/messages/${id}` });

  const channels: Json = {
    socket: {
      address: '/ws',
      title: 'The chat socket',
      servers: [{ $ref: '#/servers/gateway' }],
      description: [
        'Open with `?token=<accessToken>` or `Authorization: Bearer`. A refused upgrade is a plain HTTP answer with the error body (401, 403, 404, 429, 503 with Retry-After); no socket opens.',
        'Frames are JSON text, at most 16 KiB from the client (larger: close 1009). A server frame holds one event or a JSON array of events in order. Any client frame may carry `ref`, echoed on its reply.',
        `Close codes: ${Object.entries(CloseCode)
          .map(([name, code]) => `${code} ${name}`)
          .join(
            ', ',
          )}. After ${[CloseCode.POLICY, CloseCode.TOO_BIG, CloseCode.SESSION_ENDED, CloseCode.FORBIDDEN].join(', ')} a client stops; after the others it reconnects with backoff and joins each room with \`since\`.`,
        `Error codes: ${errorCodes.join(', ')}.`,
      ].join('\n\n'),
      messages: Object.fromEntries(Object.keys(messages).map((id) => [id, messageRef(id)])),
    },
  };
  const operations: Json = {
    receiveFrames: {
      action: 'receive',
      title: 'Frames clients send',
      channel: { $ref: '#/channels/socket' },
      messages: frames.map(({ type }) => ({ $ref: `#/channels/socket/messages/frame.${type}` })),
    },
    sendEvents: {
      action: 'send',
      title: 'Events the server sends',
      channel: { $ref: '#/channels/socket' },
      messages: events.map(({ type }) => ({ $ref: `#/channels/socket/messages/event.${type}` })),
    },
  };

  for (const channel of natsChannels) {
    const id = `nats.${channel.id}`;
    messages[id] = { name: channel.def.subject, payload: ref(id), contentType: 'application/json' };
    channels[channel.id] = {
      ...natsAddress(channel.def.subject),
      servers: [{ $ref: '#/servers/nats' }],
      description: `${channel.description}\n\n${kindText[channel.kind]}`,
      messages: { [id]: messageRef(id) },
    };
    const operation: Json = {
      action: channel.kind === 'request' ? 'receive' : 'send',
      channel: { $ref: `#/channels/${channel.id}` },
      messages: [{ $ref: `#/channels/${channel.id}/messages/${id}` }],
    };
    if (channel.reply) {
      const replyId = `${id}.reply`;
      messages[replyId] = {
        name: `${channel.def.subject} reply`,
        payload: ref(replyId),
        contentType: 'application/json',
      };
      channels[`${channel.id}Reply`] = {
        address: null,
        servers: [{ $ref: '#/servers/nats' }],
        description: `The reply inbox of \`${channel.def.subject}\` (\`data\` of \`{ok: true, data}\`).`,
        messages: { [replyId]: messageRef(replyId) },
      };
      operation.reply = {
        channel: { $ref: `#/channels/${channel.id}Reply` },
        messages: [{ $ref: `#/channels/${channel.id}Reply/messages/${replyId}` }],
      };
    }
    operations[channel.id] = operation;
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Chat platform messaging',
      version: '1.0.0',
      description:
        'The WebSocket protocol at /ws (through the gateway) and the NATS subjects between services. Generated from @chat/protocol and the subject definitions (`npm run docs`); docs/asyncapi.md is the readable guide, docs/openapi.json the REST API.',
    },
    defaultContentType: 'application/json',
    servers: {
      gateway: { host: 'localhost:8080', protocol: 'ws', description: 'The gateway (PORT); sockets at /ws.' },
      nats: { host: 'localhost:4222', protocol: 'nats', description: 'NATS with JetStream (NATS_URL).' },
    },
    channels,
    operations,
    components: { schemas, messages },
  };
}

/** The document as docs/asyncapi.json holds it: two-space indents and a trailing newline. */
export function renderAsyncApiDocument(document: Json = buildAsyncApiDocument()): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
