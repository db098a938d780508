import { randomUUID } from 'node:crypto';
import {
  decodeCursor,
  encodeCursor,
  ForbiddenError,
  LimitReachedError,
  NotFoundError,
  UnauthenticatedError,
  ValidationError,
  WindowLimiter,
  type UserPublic,
} from '@chat/shared';
import { REPLY_PREVIEW_LENGTH, type Message, type Room, type RoomKind } from '@chat/protocol';
import {
  directKeyOf,
  type ChatStore,
  type MessageChange,
  type MessagePage,
  type ReadState,
  type ReplyPreviewDocument,
} from '../store/chat.store';
import type { AttachedFile } from '../store/attachment.store';
import type { AttachmentService } from './attachments.service';
import type { Actor } from './entities';
import { RoomCache } from './room-cache';
import type { ChatEvents, UserDirectory } from './ports';

/** At most this many missed messages come with a `joined` reply; `hasMore` says the client should page on. */
export const MISSED_LIMIT = 200;
/** At most this many changed messages come with a `joined` reply; `changedHasMore` says there were more. */
export const CHANGED_LIMIT = 500;

/** `@name` in a text: a username (3-32 of letters, digits, `.`, `_`, `-`) not glued to a word before it. */
const MENTION = /(?<![A-Za-z0-9_.-])@([A-Za-z0-9_.-]{3,32})/g;

export interface HistoryQuery {
  before?: string;
  after?: string;
  limit: number;
}

/** A message to send: its room, its text, and the client's id for it (a resend answers the first). */
export interface NewSend {
  roomId: string;
  text: string;
  clientMsgId?: string;
  /** The id of a message of the same room this one answers. */
  replyTo?: string;
  /** Uploads of the sender's the message carries. */
  attachmentIds?: string[];
}

/** A change a member asks for: an edit, a deletion, or a reaction on or off. */
export type ChangeRequest =
  | { kind: 'edit'; roomId: string; messageId: string; text: string }
  | { kind: 'delete'; roomId: string; messageId: string }
  | { kind: 'react'; roomId: string; messageId: string; emoji: string; on: boolean };

/** What a `join` catches up on: messages after `since`, and changes to older ones after `sinceRev`. */
export interface CatchUp extends Missed {
  rev: number;
  changed: Message[];
  changedHasMore: boolean;
}

/** What one user may hold and do (the contract's "Limits"). */
export interface ChatLimits {
  /** Rooms one user may belong to (ROOMS_PER_USER). */
  roomsPerUser: number;
  /** Invitations one user may send per minute (INVITATIONS_PER_MINUTE): invites, and direct rooms opened. */
  invitationsPerMinute: number;
  /** How long after sending a message its sender may edit it (MESSAGE_EDIT_WINDOW_SECONDS). */
  editWindowSeconds: number;
  /** Reactions one user may have on one message (REACTIONS_PER_USER_PER_MESSAGE). */
  reactionsPerUserPerMessage: number;
}

export interface Missed {
  missed: Message[];
  hasMore: boolean;
}

function withState(room: Room, state: ReadState | undefined): Room {
  return state ? { ...room, ...state } : room;
}

function byCreation(a: Room, b: Room): number {
  return a.createdAt === b.createdAt ? a.id.localeCompare(b.id) : a.createdAt.localeCompare(b.createdAt);
}

/**
 * The rooms-and-history use cases (docs/openapi.json, tag rooms, and the socket's join, leave
 * and send). Every change is stored first, then announced through {@link ChatEvents}.
 *
 * Who may see what: anyone signed in may see and join public rooms; private and direct rooms are for
 * their members. A non-member asking for a room that exists gets FORBIDDEN (room ids are random, so
 * this tells nothing guessable); a room that does not exist is NOT_FOUND.
 */
export class ChatService {
  private readonly now: () => Date;
  private readonly cache: RoomCache;
  /** `helloRooms` reads under way, by user. */
  private readonly helloReads = new Map<string, Promise<Room[]>>();
  private readonly invitations: WindowLimiter;

  constructor(
    private readonly deps: {
      store: ChatStore;
      users: UserDirectory;
      events: ChatEvents;
      limits: ChatLimits;
      /** Files in messages; without it, a send with `attachmentIds` is refused. */
      attachments?: AttachmentService;
      /** Signs the attachment links of every message handed out (`AttachmentLinks.message`). */
      linked?: (message: Message) => Message;
      now?: () => Date;
    },
  ) {
    this.now = deps.now ?? (() => new Date());
    this.cache = new RoomCache(deps.store);
    const perMinute = deps.limits.invitationsPerMinute;
    this.invitations = new WindowLimiter(
      perMinute,
      60_000,
      `At most ${perMinute} invitations per minute; try again later.`,
    );
  }

  /** The rooms `userId` belongs to, oldest first, with their read state. */
  async roomsOf(userId: string): Promise<Room[]> {
    const rooms = await this.deps.store.getRooms(await this.deps.store.roomIdsOf(userId));
    return this.withReadStates(userId, rooms.sort(byCreation));
  }

  /**
   * Tells the room's other users that `user`, a member (the caller checked), is typing or stopped; users
   * in a block with them (either way) are not told.
   */
  async typing(user: UserPublic, roomId: string, active: boolean): Promise<void> {
    this.deps.events.typing(roomId, user, active, await this.deps.store.people.blockedWith(user.id));
  }

  /** Whether the store can be reached now (no round trip): sockets are refused while it cannot. */
  storeConnected(): boolean {
    return this.deps.store.connected();
  }

  /** The rooms each of `userIds` belongs to (users without rooms are left out), for presence. */
  roomIdsOfUsers(userIds: readonly string[]): Promise<Map<string, string[]>> {
    return this.deps.store.roomIdsOfUsers(userIds);
  }

  /**
   * The member ids of each of `roomIds`, as read within the last seconds (for presence at `hello` and
   * when a user joins a room): a burst of sockets reads each room once.
   */
  memberIdsOf(roomIds: readonly string[]): Promise<Map<string, ReadonlySet<string>>> {
    return this.cache.memberIdsOf(roomIds);
  }

  /** The rooms of `roomIds` that exist, as read within the last seconds (for presence: their member counts). */
  recentRooms(roomIds: readonly string[]): Promise<Room[]> {
    return this.cache.getRooms(roomIds);
  }

  /**
   * For `hello`: the rooms `userId` belongs to, oldest first, their details as read within the last
   * seconds (member counts may lag another instance's changes by that much). Sockets of one user opening
   * together (a device's tabs, a restarted instance's clients coming back) share one read.
   */
  helloRooms(userId: string): Promise<Room[]> {
    const reading = this.helloReads.get(userId);
    if (reading) return reading;
    const read = this.readHelloRooms(userId).finally(() => this.helloReads.delete(userId));
    this.helloReads.set(userId, read);
    return read;
  }

  private async readHelloRooms(userId: string): Promise<Room[]> {
    const rooms = await this.cache.getRooms(await this.deps.store.roomIdsOf(userId));
    return this.withReadStates(userId, rooms.sort(byCreation));
  }

  /** Another instance changed the room's members: the next read of it goes to the store. */
  roomChanged(roomId: string): void {
    this.cache.forget(roomId);
  }

  /** `GET /api/rooms`: the rooms `userId` belongs to plus every public room, oldest first. */
  async listRooms(userId: string): Promise<Room[]> {
    const [mine, open] = await Promise.all([this.roomsOf(userId), this.deps.store.listPublicRooms()]);
    const byId = new Map([...open, ...mine].map((room) => [room.id, room]));
    return [...byId.values()].sort(byCreation);
  }

  /**
   * `GET /api/rooms/public`: a page of the public room directory, by name (any case), `q` a name prefix;
   * `nextCursor` is null on the last page.
   */
  async publicRooms(input: { limit: number; cursor?: string; q?: string }): Promise<{
    items: Room[];
    nextCursor: string | null;
  }> {
    const after = input.cursor ? String(decodeCursor(input.cursor, 1)[0]) : undefined;
    const rooms = await this.deps.store.publicRoomPage({
      limit: input.limit + 1,
      after,
      prefix: input.q ? input.q.toLowerCase() : undefined,
    });
    const items = rooms.slice(0, input.limit);
    const last = items[items.length - 1];
    return {
      items,
      nextCursor: rooms.length > input.limit && last ? encodeCursor([last.name.toLowerCase()]) : null,
    };
  }

  async createRoom(actor: Actor, input: { name: string; kind: Exclude<RoomKind, 'direct'> }): Promise<Room> {
    await this.assertRoomFor(actor.id, 'actor');
    const room = await this.deps.store.createRoom({
      id: randomUUID(),
      name: input.name,
      kind: input.kind,
      createdBy: actor.id,
      createdAt: this.now(),
    });
    const mine: Room = { ...room, myRole: 'owner', lastSeq: 0, lastReadSeq: 0, unread: 0, mentions: 0 };
    this.deps.events.roomAdded(actor.id, mine, false);
    return mine;
  }

  /** Joins a public room, or confirms a membership of any kind; FORBIDDEN for others' private rooms. */
  async joinRoom(actor: Actor, roomId: string): Promise<Room> {
    const room = await this.existingRoom(roomId);
    if (await this.deps.store.isMember(roomId, actor.id)) return this.withReadState(actor.id, room);
    if (room.kind !== 'public') throw new ForbiddenError('This room is only open to its members.');
    if (await this.deps.store.people.isBanned(roomId, actor.id)) {
      throw new ForbiddenError('You were banned from this room.');
    }
    await this.assertRoomFor(actor.id, 'actor');
    const added = await this.addMembership(roomId, actor.id);
    this.cache.forget(roomId);
    const joined = await this.withReadState(actor.id, (await this.deps.store.getRoom(roomId)) ?? room);
    if (added) {
      this.deps.events.roomAdded(actor.id, joined, false);
      this.deps.events.memberJoined(joined, await this.profileOf(actor));
    }
    return joined;
  }

  /** Leaves a room; leaving a room you are not in changes nothing. */
  async leaveRoom(actor: Actor, roomId: string): Promise<void> {
    await this.existingRoom(roomId);
    await this.removeFromRoom(roomId, actor.id, await this.profileOf(actor));
  }

  /**
   * Ends `user`'s membership (a leave, a removal, a ban, a deletion): the room's others get `member.left`,
   * the user's sockets stop receiving it. Nothing happens for someone who is not a member.
   */
  async removeFromRoom(roomId: string, userId: string, user: UserPublic): Promise<void> {
    if (!(await this.deps.store.removeMember(roomId, userId))) return;
    this.cache.forget(roomId);
    const left = await this.deps.store.getRoom(roomId);
    if (left) this.deps.events.memberLeft(left, user);
    this.deps.events.roomRemoved(userId, roomId);
  }

  /** The room as `userId` sees it: with their role and read state when they belong to it. */
  async roomFor(userId: string, room: Room): Promise<Room> {
    return this.withReadState(userId, room);
  }

  /**
   * A member adds `inviteeId` to a public or private room; direct rooms keep their two members. Inviting
   * a member again changes nothing and counts toward no limit.
   */
  async invite(actor: Actor, roomId: string, inviteeId: string): Promise<Room> {
    const room = await this.memberRoom(actor, roomId);
    if (room.kind === 'direct') throw new ForbiddenError('A direct room has exactly its two members.');
    const invitee = await this.deps.users.get(inviteeId);
    if (!invitee) throw new NotFoundError('The user');
    if (await this.deps.store.isMember(roomId, inviteeId)) return room;
    const { people } = this.deps.store;
    if (await people.isBanned(roomId, inviteeId))
      throw new ForbiddenError('That user is banned from this room.');
    if (await people.blockedBetween(actor.id, inviteeId)) {
      throw new ForbiddenError('You cannot invite this user.');
    }
    await this.reserveInvitation(actor, inviteeId);
    const added = await this.addMembership(roomId, inviteeId);
    if (!added) this.invitations.release(actor.id);
    this.cache.forget(roomId);
    const updated = (await this.deps.store.getRoom(roomId)) ?? room;
    if (added) {
      this.deps.events.roomAdded(inviteeId, await this.withReadState(inviteeId, updated), true);
      this.deps.events.memberJoined(updated, invitee);
    }
    return updated;
  }

  /**
   * The direct room of the actor and `peerId`: the same room every time, from either side. Both are
   * (again) members afterwards; the peer is told with `room.invited` when they were not.
   */
  async openDirect(actor: Actor, peerId: string): Promise<Room> {
    if (peerId === actor.id) throw new ValidationError([{ path: 'userId', message: 'must be another user' }]);
    const profiles = await this.deps.users.find([actor.id, peerId]);
    const peer = profiles.get(peerId);
    if (!peer) throw new NotFoundError('The user');
    const me = profiles.get(actor.id) ?? this.missingActor();
    if (await this.deps.store.people.blockedBetween(actor.id, peerId)) {
      throw new ForbiddenError('You cannot open a direct room with this user.');
    }
    const { room, created } = await this.deps.store.findOrCreateDirectRoom({
      id: randomUUID(),
      key: directKeyOf(actor.id, peerId),
      name: [me.username, peer.username].sort((a, b) => a.localeCompare(b)).join(', '),
      createdBy: actor.id,
      createdAt: this.now(),
    });
    const [meMember, peerMember] = await Promise.all([
      this.deps.store.isMember(room.id, actor.id),
      this.deps.store.isMember(room.id, peerId),
    ]);
    if (!meMember) await this.assertRoomFor(actor.id, 'actor');
    if (!peerMember) await this.reserveInvitation(actor, peerId);
    const addedMe = await this.addMembership(room.id, actor.id);
    const addedPeer = await this.addMembership(room.id, peerId);
    if (!peerMember && !addedPeer) this.invitations.release(actor.id);
    this.cache.forget(room.id);
    const current = (await this.deps.store.getRoom(room.id)) ?? room;
    for (const [added, user, invited] of [
      [addedMe, me, false],
      [addedPeer, peer, true],
    ] as const) {
      if (!added) continue;
      this.deps.events.roomAdded(user.id, await this.withReadState(user.id, current), invited);
      // A new pair's room has no one to tell; a returning member is news to the one who stayed.
      if (!created) this.deps.events.memberJoined(current, user);
    }
    return this.withReadState(actor.id, current);
  }

  /** `GET /api/rooms/:id/messages`: a page of a room's history, for members only. */
  async history(actor: Actor, roomId: string, query: HistoryQuery): Promise<MessagePage> {
    await this.requireMember(actor, roomId);
    const [afterSeq, beforeSeq] = await Promise.all([
      query.after === undefined ? undefined : this.seqOf(roomId, query.after, 'after'),
      query.before === undefined ? undefined : this.seqOf(roomId, query.before, 'before'),
    ]);
    const page = await this.deps.store.listMessages(roomId, { afterSeq, beforeSeq, limit: query.limit });
    return { ...page, items: page.items.map(this.linked) };
  }

  /**
   * For the socket's `join`, after joining: up to {@link MISSED_LIMIT} messages after `since`, oldest first,
   * and with `sinceRev` the current state of up to {@link CHANGED_LIMIT} messages at or before `since`
   * changed after it; `rev` is read first, so a change made meanwhile is in `changed` or arrives as an event.
   */
  async catchUp(actor: Actor, roomId: string, since?: string, sinceRev?: number): Promise<CatchUp> {
    await this.requireMember(actor, roomId);
    const rev = await this.deps.store.roomRev(roomId);
    if (since === undefined) return { missed: [], hasMore: false, rev, changed: [], changedHasMore: false };
    const sinceSeq = await this.seqOf(roomId, since, 'since');
    const [page, changed] = await Promise.all([
      this.deps.store.listMessages(roomId, { afterSeq: sinceSeq, limit: MISSED_LIMIT }),
      sinceRev === undefined
        ? { items: [], hasMore: false }
        : this.deps.store.changedSince(roomId, { sinceRev, uptoSeq: sinceSeq, limit: CHANGED_LIMIT }),
    ]);
    return {
      missed: page.items.map(this.linked),
      hasMore: page.hasMore,
      rev,
      changed: changed.items.map(this.linked),
      changedHasMore: changed.hasMore,
    };
  }

  /**
   * Stores a message with the room's next seq and announces it. The same `clientMsgId` from the same
   * sender again answers the first message and announces nothing.
   */
  async send(actor: Actor, input: NewSend): Promise<{ message: Message; created: boolean }> {
    return (await this.startSend(actor, input)).stored;
  }

  /**
   * {@link send} in two steps: resolves once the sender is checked and the message is queued behind the
   * room's earlier ones in this process, with `stored`, which settles when it is stored and announced.
   * Calls made one after another are stored in that order, so a socket may go on to its next frame while
   * this one is being written, and a busy sender's messages reach the store (and the sockets) together.
   */
  async startSend(
    actor: Actor,
    input: NewSend,
  ): Promise<{ stored: Promise<{ message: Message; created: boolean }> }> {
    await this.requireMember(actor, input.roomId);
    await this.assertNotBlockedInDirect(actor, input.roomId);
    const [replyTo, mentions] = await Promise.all([
      input.replyTo === undefined ? undefined : this.replyPreview(input.roomId, input.replyTo),
      this.mentionsIn(input.roomId, input.text, actor.id),
    ]);
    const id = randomUUID();
    const attachments = await this.attachmentsFor(actor, input, id);
    const appended = this.deps.store.appendMessage({
      id,
      roomId: input.roomId,
      senderId: actor.id,
      senderUsername: actor.username,
      text: input.text,
      ...(input.clientMsgId === undefined ? {} : { clientMsgId: input.clientMsgId }),
      createdAt: this.now(),
      ...(replyTo ? { replyTo } : {}),
      mentions,
      ...(attachments.length > 0 ? { attachments } : {}),
    });
    const stored = appended.then(async (result) => {
      const message = this.linked(result.message);
      if (result.created) this.deps.events.messageCreated(message);
      else if (attachments.length > 0) await this.deps.attachments?.unattach(id);
      return { message, created: result.created };
    });
    return { stored };
  }

  /** The files a send carries, now used by message `id`: none without `attachmentIds`. */
  private async attachmentsFor(actor: Actor, input: NewSend, id: string): Promise<AttachedFile[]> {
    if (input.attachmentIds === undefined) return [];
    if (!this.deps.attachments) {
      throw new ValidationError([{ path: 'attachmentIds', message: 'attachments are not kept here' }]);
    }
    return this.deps.attachments.attach(actor, input.attachmentIds, { messageId: id, roomId: input.roomId });
  }

  private readonly linked = (message: Message): Message => this.deps.linked?.(message) ?? message;

  /**
   * Edits, deletes or reacts to a message of a room the actor belongs to, and announces the new state
   * (`message.updated`) when something changed. Edits: the sender, within the edit window. Deletions: the
   * sender, the room's owner or moderators, or an admin. A deleted message takes no edit and no reaction.
   */
  async changeMessage(actor: Actor, request: ChangeRequest): Promise<Message> {
    await this.requireMember(actor, request.roomId);
    const message = await this.deps.store.findMessage(request.messageId);
    if (!message || message.roomId !== request.roomId) throw new NotFoundError('The message');
    const at = this.now();
    let change: MessageChange;
    switch (request.kind) {
      case 'edit': {
        if (message.sender.id !== actor.id) throw new ForbiddenError('Only its sender may edit a message.');
        if (message.deletedAt) throw new ForbiddenError('This message was deleted.');
        const windowMs = this.deps.limits.editWindowSeconds * 1000;
        if (at.getTime() - Date.parse(message.createdAt) > windowMs) {
          throw new ForbiddenError(
            `A message may be edited for ${this.deps.limits.editWindowSeconds} seconds after it was sent.`,
          );
        }
        const mentions = await this.mentionsIn(request.roomId, request.text, actor.id);
        change = { kind: 'edit', text: request.text, mentions, at };
        break;
      }
      case 'delete':
        if (message.sender.id !== actor.id && !(await this.moderates(actor, request.roomId))) {
          throw new ForbiddenError(
            "Only its sender, the room's owner or moderators, or an admin may delete a message.",
          );
        }
        if (message.deletedAt) return message;
        change = { kind: 'delete', at };
        break;
      case 'react': {
        if (message.deletedAt) throw new ForbiddenError('This message was deleted.');
        const cap = this.deps.limits.reactionsPerUserPerMessage;
        if (request.on && (await this.deps.store.reactionCountOf(message.id, actor.id)) >= cap) {
          const mine = message.reactions.some(
            (reaction) => reaction.emoji === request.emoji && reaction.userIds.includes(actor.id),
          );
          if (!mine) {
            throw new LimitReachedError(
              'reactionsPerUserPerMessage',
              cap,
              `At most ${cap} reactions of yours on one message.`,
            );
          }
        }
        change = { kind: 'react', userId: actor.id, emoji: request.emoji, on: request.on, at };
        break;
      }
    }
    const result = await this.deps.store.changeMessage(message.id, change);
    if (!result) throw new NotFoundError('The message');
    const changed = this.linked(result.message);
    if (result.changed) this.deps.events.messageUpdated(changed);
    if (result.changed && change.kind === 'delete') await this.deps.attachments?.messageDeleted(message.id);
    return changed;
  }

  /**
   * Moves the actor's read position in the room forward to `seq` (never back, never past the room's last
   * message) and tells their sockets, and in a direct room the other member's, where it now is.
   */
  async markRead(actor: Actor, roomId: string, seq: number): Promise<{ roomId: string; seq: number }> {
    const room = await this.memberRoom(actor, roomId);
    const head = await this.deps.store.lastSeq(roomId);
    const target = seq <= head ? seq : Math.min(seq, await this.deps.store.lastSeq(roomId, { exact: true }));
    await this.deps.store.markRead(roomId, actor.id, target);
    const state = (await this.deps.store.readStates(actor.id, [roomId])).get(roomId);
    const position = state?.lastReadSeq ?? target;
    this.deps.events.read(room, actor.id, position);
    return { roomId, seq: position };
  }

  /** The room, if `actor` belongs to it: NOT_FOUND if it does not exist, else FORBIDDEN for non-members. */
  async memberRoom(actor: Actor, roomId: string): Promise<Room> {
    const [room, member] = await Promise.all([
      this.existingRoom(roomId),
      this.deps.store.isMember(roomId, actor.id),
    ]);
    if (!member) throw new ForbiddenError('Only members of this room may do this.');
    return room;
  }

  /**
   * Passes when `actor` belongs to the room (the hot path of every send: no store query while the room is
   * cached); otherwise NOT_FOUND if the room does not exist, else FORBIDDEN.
   */
  async requireMember(actor: Actor, roomId: string): Promise<void> {
    // The room cache answers a member at once (every send asks); it forgets a room at every membership
    // change this instance makes or hears of, and a change it does not hear of within seconds. "Not a
    // member" is always asked of the store, so someone who just joined elsewhere is never refused.
    if ((await this.cache.memberIdsOf([roomId])).get(roomId)?.has(actor.id)) return;
    if (await this.deps.store.isMember(roomId, actor.id)) return;
    await this.existingRoom(roomId);
    throw new ForbiddenError('Only members of this room may do this.');
  }

  /**
   * LIMIT_REACHED when `userId` (the actor, or someone the actor would add) already belongs to the most
   * rooms allowed. Checked before the membership is written, so joins of one user that run at the same
   * time can pass it together: a user may end up over the cap by the requests they had in flight.
   */
  private async assertRoomFor(userId: string, who: 'actor' | 'invitee'): Promise<void> {
    const cap = this.deps.limits.roomsPerUser;
    if ((await this.deps.store.roomCountOf(userId)) < cap) return;
    throw new LimitReachedError(
      'roomsPerUser',
      cap,
      who === 'actor'
        ? `You belong to ${cap} rooms, the most allowed; leave one first.`
        : `That user belongs to ${cap} rooms, the most allowed.`,
    );
  }

  /** Counts an invitation of `actor`'s (RATE_LIMITED past the limit), once the invitee has room for it. */
  private async reserveInvitation(actor: Actor, inviteeId: string): Promise<void> {
    await this.assertRoomFor(inviteeId, 'invitee');
    this.invitations.reserve(actor.id, this.now());
  }

  /** Whether the actor may act on others' messages in the room: its owner, a moderator, or an admin. */
  private async moderates(actor: Actor, roomId: string): Promise<boolean> {
    if (actor.role === 'admin') return true;
    const role = (await this.deps.store.people.membership(roomId, actor.id))?.role;
    return role === 'owner' || role === 'moderator';
  }

  /** A direct room between two users in a block (either way) takes no messages. */
  private async assertNotBlockedInDirect(actor: Actor, roomId: string): Promise<void> {
    const [room] = await this.cache.getRooms([roomId]);
    if (room?.kind !== 'direct') return;
    const members = (await this.cache.memberIdsOf([roomId])).get(roomId) ?? new Set<string>();
    const peer = [...members].find((id) => id !== actor.id) ?? room.createdBy;
    if (peer !== actor.id && (await this.deps.store.people.blockedBetween(actor.id, peer))) {
      throw new ForbiddenError('You cannot send to this user.');
    }
  }

  /** Adds a member whose read position starts at the room's newest message. */
  private async addMembership(roomId: string, userId: string): Promise<boolean> {
    return this.deps.store.addMember({
      roomId,
      userId,
      role: 'member',
      joinedAt: this.now(),
      lastReadSeq: await this.deps.store.lastSeq(roomId),
    });
  }

  private async withReadStates(userId: string, rooms: Room[]): Promise<Room[]> {
    const states = await this.deps.store.readStates(
      userId,
      rooms.map((room) => room.id),
    );
    return rooms.map((room) => withState(room, states.get(room.id)));
  }

  private async withReadState(userId: string, room: Room): Promise<Room> {
    return (await this.withReadStates(userId, [room]))[0]!;
  }

  /** What a reply keeps of the message it answers, which must be in the same room. */
  private async replyPreview(roomId: string, messageId: string): Promise<ReplyPreviewDocument> {
    const original = await this.deps.store.findMessage(messageId);
    if (!original || original.roomId !== roomId) {
      throw new ValidationError([{ path: 'replyTo', message: 'is not the id of a message in this room' }]);
    }
    return {
      id: original.id,
      seq: original.seq,
      senderId: original.sender.id,
      senderUsername: original.sender.username,
      text: original.text.slice(0, REPLY_PREVIEW_LENGTH),
    };
  }

  /**
   * The ids of the room's members named as `@username` in `text` (any case), the author left out. Only a
   * text with an `@` costs a look at the members.
   */
  private async mentionsIn(roomId: string, text: string, authorId: string): Promise<string[]> {
    const names = new Set([...text.matchAll(MENTION)].map((match) => match[1]!.toLowerCase()));
    if (names.size === 0) return [];
    const memberIds = [...((await this.cache.memberIdsOf([roomId])).get(roomId) ?? [])];
    const profiles = await this.deps.users.find(memberIds.filter((id) => id !== authorId));
    return [...profiles.values()]
      .filter((profile) => names.has(profile.username.toLowerCase()))
      .map((profile) => profile.id);
  }

  private async existingRoom(roomId: string): Promise<Room> {
    const room = await this.deps.store.getRoom(roomId);
    if (!room) throw new NotFoundError('The room');
    return room;
  }

  private async seqOf(roomId: string, messageId: string, field: string): Promise<number> {
    const message = await this.deps.store.findMessage(messageId);
    if (!message || message.roomId !== roomId) {
      throw new ValidationError([{ path: field, message: 'is not the id of a message in this room' }]);
    }
    return message.seq;
  }

  private async profileOf(actor: Actor): Promise<UserPublic> {
    return (await this.deps.users.get(actor.id)) ?? this.missingActor();
  }

  /** A valid token whose user users-service no longer knows: the deletion is on its way to us. */
  private missingActor(): never {
    throw new UnauthenticatedError('This user no longer exists.');
  }
}
