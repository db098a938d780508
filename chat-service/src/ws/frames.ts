import type { RawData } from 'ws';
import {
  ForbiddenError,
  InvalidJsonError,
  issuesToDetails,
  RateLimitedError,
  ValidationError,
  type Logger,
  type TokenVerifier,
} from '@chat/shared';
import { clientFrameSchema, CloseCode, refSchema, type ClientFrame } from '@chat/protocol';
import type { ChangeRequest, ChatService } from '../domain/chat.service';
import { actorOf } from '../domain/entities';
import type { ClientSocket } from './client-socket';
import { errorEvent } from './socket-errors';
import type { SocketHub } from './socket-hub';
import type { UserQuotas } from './user-quotas';

export interface FrameContext {
  chat: ChatService;
  hub: SocketHub;
  verifier: TokenVerifier;
  logger: Logger;
  /** Each user's message budget across their sockets. */
  quotas: UserQuotas;
  /** Frames one socket may have accepted and not yet answered (WS_MAX_PENDING_FRAMES). */
  maxPendingFrames: number;
  /** Reschedules the socket's expiry after a refresh. */
  renewed: (client: ClientSocket) => void;
}

function refOf(raw: unknown): string | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const parsed = refSchema.safeParse((raw as { ref?: unknown }).ref);
  return parsed.success ? parsed.data : undefined;
}

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
}

/**
 * Handles one client frame: rate limit, JSON, validation, then the frame itself, in order per socket.
 * Every frame gets an answer (its reply, or an `error` frame with its `ref`) except `typing`, which
 * has none by design; the socket stays open unless the client keeps going past its rate limit (1008).
 */
export function handleFrame(
  context: FrameContext,
  client: ClientSocket,
  data: RawData,
  isBinary: boolean,
): void {
  if (client.isClosing) return;
  const verdict = client.limiter.take();
  if (verdict === 'abusive') return client.close(CloseCode.POLICY, 'Rate limit exceeded.');
  const fail = (ref: string | undefined, error: unknown) =>
    client.send(errorEvent(context.logger, client.userId, ref, error));
  if (isBinary)
    return fail(undefined, new InvalidJsonError('Frames are JSON text; binary frames are refused.'));
  let raw: unknown;
  try {
    raw = JSON.parse(textOf(data));
  } catch (error) {
    return fail(undefined, new InvalidJsonError('The frame is not valid JSON.', error));
  }
  const ref = refOf(raw);
  if (verdict === 'limited') return fail(ref, new RateLimitedError(1, 'Too many frames; slow down.'));
  const parsed = clientFrameSchema.safeParse(raw);
  if (!parsed.success)
    return fail(ref, new ValidationError(issuesToDetails(parsed.error), 'The frame is not valid.'));
  if (client.pending >= context.maxPendingFrames)
    return fail(ref, new RateLimitedError(1, 'Too many frames waiting for an answer; slow down.'));
  client.pending += 1;
  // The next frame waits for this one's turn only; a send's ack may follow later (see `dispatch`).
  const step = client.chain.then(() => dispatch(context, client, parsed.data));
  client.chain = step.then(
    () => undefined,
    () => undefined,
  );
  step
    .then((outcome) => outcome?.answered)
    .catch((error: unknown) => fail(ref, error))
    .finally(() => {
      client.pending -= 1;
    });
}

/**
 * Handles one frame. A `send` returns as soon as its message is queued for the store, with `answered`
 * settling once it is acknowledged: the socket's later frames go on meanwhile, and its messages are still
 * stored in the order they came.
 */
async function dispatch(
  context: FrameContext,
  client: ClientSocket,
  frame: ClientFrame,
): Promise<{ answered: Promise<void> } | void> {
  if (client.isClosing) return;
  const { chat, hub } = context;
  const actor = actorOf(client.claims);
  const ref = frame.ref === undefined ? {} : { ref: frame.ref };
  switch (frame.type) {
    case 'ping':
      return client.send({ type: 'pong', ...ref });
    case 'join': {
      await chat.joinRoom(actor, frame.roomId);
      // Receive the room before reading what was missed: an event in between then arrives twice (the
      // client keeps one by id and rev) instead of never.
      hub.enterForUser(actor.id, frame.roomId);
      if (frame.since !== undefined) await hub.settled();
      const caughtUp = await chat.catchUp(actor, frame.roomId, frame.since, frame.sinceRev);
      return client.send({ type: 'joined', ...ref, roomId: frame.roomId, ...caughtUp });
    }
    case 'leave':
      await chat.leaveRoom(actor, frame.roomId);
      hub.leaveForUser(actor.id, frame.roomId);
      return client.send({ type: 'left', ...ref, roomId: frame.roomId });
    case 'send': {
      context.quotas.takeMessage(client.userId);
      const { stored } = await chat.startSend(actor, {
        roomId: frame.roomId,
        text: frame.text,
        ...(frame.clientMsgId === undefined ? {} : { clientMsgId: frame.clientMsgId }),
        ...(frame.replyTo === undefined ? {} : { replyTo: frame.replyTo }),
        ...(frame.attachmentIds === undefined ? {} : { attachmentIds: frame.attachmentIds }),
      });
      return { answered: stored.then(({ message }) => client.send({ type: 'ack', ...ref, message })) };
    }
    case 'edit':
    case 'delete':
    case 'react': {
      context.quotas.takeMessage(client.userId);
      const message = await chat.changeMessage(actor, changeRequestOf(frame));
      return client.send({ type: 'ack', ...ref, message });
    }
    case 'read': {
      const position = await chat.markRead(actor, frame.roomId, frame.seq);
      return client.send({ type: 'read', ...ref, userId: actor.id, ...position });
    }
    case 'typing':
      if (!client.rooms.has(frame.roomId)) {
        await chat.requireMember(actor, frame.roomId);
        hub.enterForUser(actor.id, frame.roomId);
      }
      return chat.typing(client.user, frame.roomId, frame.active);
    case 'refresh': {
      const claims = await context.verifier.verify(frame.token);
      if (claims.sub !== client.userId) throw new ForbiddenError('The token belongs to another user.');
      client.renew(claims);
      context.renewed(client);
      return client.send({ type: 'refreshed', ...ref, expiresAt: new Date(claims.exp * 1000).toISOString() });
    }
    default:
      // Every frame the schema accepts has its case above: a new one without a case does not compile.
      return frame satisfies never;
  }
}

/** The domain's change request for an `edit`, `delete` or `react` frame. */
function changeRequestOf(frame: Extract<ClientFrame, { type: 'edit' | 'delete' | 'react' }>): ChangeRequest {
  const { roomId, messageId } = frame;
  switch (frame.type) {
    case 'edit':
      return { kind: 'edit', roomId, messageId, text: frame.text };
    case 'delete':
      return { kind: 'delete', roomId, messageId };
    case 'react':
      return { kind: 'react', roomId, messageId, emoji: frame.emoji, on: frame.on };
  }
}
