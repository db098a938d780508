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
import type { Message, Room, RoomKind } from '@chat/protocol';
import { directKeyOf, type ChatStore, type MessagePage } from '../store/chat.store';
import type { Actor } from './entities';
import { RoomCache } from './room-cache';
import type { ChatEvents, UserDirectory } from './ports';

/** At most this many missed messages come with a `joined` reply; `hasMore` says the client should page on. */
export const MISSED_LIMIT = 200;

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
}

/** What one user may hold and do (the contract's "Limits"). */
export interface ChatLimits {
  /** Rooms one user may belong to (ROOMS_PER_USER). */
  roomsPerUser: number;
  /** Invitations one user may send per minute (INVITATIONS_PER_MINUTE): invites, and direct rooms opened. */
  invitationsPerMinute: number;
}

export interface Missed {
  missed: Message[];
  hasMore: boolean;
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
  private readonly invitations: WindowLimiter;

  constructor(
    private readonly deps: {
      store: ChatStore;
      users: UserDirectory;
      events: ChatEvents;
      limits: ChatLimits;
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

  /** The rooms `userId` belongs to, oldest first. */
  async roomsOf(userId: string): Promise<Room[]> {
    const rooms = await this.deps.store.getRooms(await this.deps.store.roomIdsOf(userId));
    return rooms.sort(byCreation);
  }

  /** Tells the room's other users that `user`, a member (the caller checked), is typing or stopped. */
  typing(user: UserPublic, roomId: string, active: boolean): void {
    this.deps.events.typing(roomId, user, active);
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

  /**
   * For `hello`: the rooms `userId` belongs to, oldest first, their details as read within the last
   * seconds (member counts may lag another instance's changes by that much).
   */
  async helloRooms(userId: string): Promise<Room[]> {
    const rooms = await this.cache.getRooms(await this.deps.store.roomIdsOf(userId));
    return rooms.sort(byCreation);
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
    this.deps.events.roomAdded(actor.id, room, false);
    return room;
  }

  /** Joins a public room, or confirms a membership of any kind; FORBIDDEN for others' private rooms. */
  async joinRoom(actor: Actor, roomId: string): Promise<Room> {
    const room = await this.existingRoom(roomId);
    if (await this.deps.store.isMember(roomId, actor.id)) return room;
    if (room.kind !== 'public') throw new ForbiddenError('This room is only open to its members.');
    await this.assertRoomFor(actor.id, 'actor');
    const added = await this.deps.store.addMember({
      roomId,
      userId: actor.id,
      role: 'member',
      joinedAt: this.now(),
    });
    this.cache.forget(roomId);
    const joined = (await this.deps.store.getRoom(roomId)) ?? room;
    if (added) {
      this.deps.events.roomAdded(actor.id, joined, false);
      this.deps.events.memberJoined(joined, await this.profileOf(actor));
    }
    return joined;
  }

  /** Leaves a room; leaving a room you are not in changes nothing. */
  async leaveRoom(actor: Actor, roomId: string): Promise<void> {
    const room = await this.existingRoom(roomId);
    if (!(await this.deps.store.removeMember(roomId, actor.id))) return;
    this.cache.forget(roomId);
    const left = (await this.deps.store.getRoom(roomId)) ?? room;
    this.deps.events.memberLeft(left, await this.profileOf(actor));
    this.deps.events.roomRemoved(actor.id, roomId);
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
    await this.reserveInvitation(actor, inviteeId);
    const added = await this.deps.store.addMember({
      roomId,
      userId: inviteeId,
      role: 'member',
      joinedAt: this.now(),
    });
    if (!added) this.invitations.release(actor.id);
    this.cache.forget(roomId);
    const updated = (await this.deps.store.getRoom(roomId)) ?? room;
    if (added) {
      this.deps.events.roomAdded(inviteeId, updated, true);
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
    const joinedAt = this.now();
    const addedMe = await this.deps.store.addMember({
      roomId: room.id,
      userId: actor.id,
      role: 'member',
      joinedAt,
    });
    const addedPeer = await this.deps.store.addMember({
      roomId: room.id,
      userId: peerId,
      role: 'member',
      joinedAt,
    });
    if (!peerMember && !addedPeer) this.invitations.release(actor.id);
    this.cache.forget(room.id);
    const current = (await this.deps.store.getRoom(room.id)) ?? room;
    for (const [added, user, invited] of [
      [addedMe, me, false],
      [addedPeer, peer, true],
    ] as const) {
      if (!added) continue;
      this.deps.events.roomAdded(user.id, current, invited);
      // A new pair's room has no one to tell; a returning member is news to the one who stayed.
      if (!created) this.deps.events.memberJoined(current, user);
    }
    return current;
  }

  /** `GET /api/rooms/:id/messages`: a page of a room's history, for members only. */
  async history(actor: Actor, roomId: string, query: HistoryQuery): Promise<MessagePage> {
    await this.requireMember(actor, roomId);
    const [afterSeq, beforeSeq] = await Promise.all([
      query.after === undefined ? undefined : this.seqOf(roomId, query.after, 'after'),
      query.before === undefined ? undefined : this.seqOf(roomId, query.before, 'before'),
    ]);
    return this.deps.store.listMessages(roomId, { afterSeq, beforeSeq, limit: query.limit });
  }

  /** For the socket's `join`, after joining: up to {@link MISSED_LIMIT} messages after `since`, oldest first. */
  async missedSince(actor: Actor, roomId: string, since: string): Promise<Missed> {
    await this.requireMember(actor, roomId);
    const page = await this.deps.store.listMessages(roomId, {
      afterSeq: await this.seqOf(roomId, since, 'since'),
      limit: MISSED_LIMIT,
    });
    return { missed: page.items, hasMore: page.hasMore };
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
    const appended = this.deps.store.appendMessage({
      id: randomUUID(),
      roomId: input.roomId,
      senderId: actor.id,
      senderUsername: actor.username,
      text: input.text,
      ...(input.clientMsgId === undefined ? {} : { clientMsgId: input.clientMsgId }),
      createdAt: this.now(),
    });
    const stored = appended.then((result) => {
      if (result.created) this.deps.events.messageCreated(result.message);
      return result;
    });
    return { stored };
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
