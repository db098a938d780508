import type { Logger, Subscription } from '@chat/shared';
import type { Announcement, RoomEvent, ServerEvent, UserPublic } from '@chat/protocol';
import { roomOf, type ChatFeed, type LocalDelivery } from '../bus/chat-events.bus';
import type { UserNotice } from '../bus/chat.subjects';
import { chatMetrics } from '../metrics';
import type { ClientSocket } from './client-socket';
import { outgoing } from './outbound-queue';

/** What presence and the room cache need to hear of membership changes the hub sees. */
export interface MembershipObserver {
  /** `userId`, who has sockets here, became a member of `roomId`; their sockets receive it now. */
  roomAdded?(userId: string, roomId: string): void;
  /** `user` became a member of `roomId`, which sockets here receive. */
  memberJoined?(roomId: string, user: UserPublic): void;
  /** `user` left `roomId`, which sockets here receive. */
  memberLeft?(roomId: string, user: UserPublic): void;
  /** `roomId`, which sockets here receive, was renamed, given a topic or deleted. */
  roomChanged?(roomId: string): void;
}

/**
 * The sockets of this instance, indexed by user and by room, and the feed subscriptions they need: a room's
 * subject while a local socket receives that room, a user's subject while a local socket of theirs is open
 * (reference-counted, so an instance hears only what its sockets need).
 *
 * Events reach local sockets once each: this instance's own straight from its publisher
 * ({@link LocalDelivery}), the other instances' from the feed. An event is serialized once per instance and
 * the same text is queued for every socket.
 */
export class SocketHub implements LocalDelivery {
  private readonly clients = new Set<ClientSocket>();
  private readonly byUser = new Map<string, Set<ClientSocket>>();
  private readonly byRoom = new Map<string, Set<ClientSocket>>();
  private readonly roomSubs = new Map<string, Subscription>();
  private readonly userSubs = new Map<string, Subscription>();
  private readonly observers: MembershipObserver[] = [];

  constructor(
    private readonly feed: ChatFeed,
    private readonly logger: Logger,
  ) {}

  /** Presence and the room cache register here to hear of membership changes. */
  observe(observer: MembershipObserver): void {
    this.observers.push(observer);
  }

  get size(): number {
    return this.clients.size;
  }

  all(): ClientSocket[] {
    return [...this.clients];
  }

  socketsOf(userId: string): ClientSocket[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  /** Local sockets receiving `roomId`. */
  socketsIn(roomId: string): ReadonlySet<ClientSocket> {
    return this.byRoom.get(roomId) ?? new Set();
  }

  /** Room subjects this instance listens to now. */
  subscribedRooms(): string[] {
    return [...this.roomSubs.keys()];
  }

  add(client: ClientSocket): void {
    this.clients.add(client);
    const sockets = this.byUser.get(client.userId);
    if (sockets) {
      sockets.add(client);
      return;
    }
    this.byUser.set(client.userId, new Set([client]));
    const subscription: Subscription = this.feed.user(client.userId, (notice) => {
      if (this.userSubs.get(client.userId) === subscription) this.deliverUserNotice(client.userId, notice);
    });
    this.userSubs.set(client.userId, subscription);
  }

  remove(client: ClientSocket): void {
    if (!this.clients.delete(client)) return;
    for (const roomId of [...client.rooms]) this.leave(client, roomId);
    const sockets = this.byUser.get(client.userId);
    sockets?.delete(client);
    if (sockets && sockets.size === 0) {
      this.byUser.delete(client.userId);
      this.unsubscribe(this.userSubs, client.userId);
    }
  }

  /** Every local socket of `userId` receives `roomId` from now on. */
  enterForUser(userId: string, roomId: string): void {
    for (const client of this.byUser.get(userId) ?? []) this.enter(client, roomId);
  }

  leaveForUser(userId: string, roomId: string): void {
    for (const client of this.byUser.get(userId) ?? []) this.leave(client, roomId);
  }

  enter(client: ClientSocket, roomId: string): void {
    if (!this.clients.has(client) || client.rooms.has(roomId)) return;
    client.rooms.add(roomId);
    const sockets = this.byRoom.get(roomId);
    if (sockets) {
      sockets.add(client);
      return;
    }
    this.byRoom.set(roomId, new Set([client]));
    const subscription: Subscription = this.feed.room(roomId, (event, hiddenFrom) => {
      if (this.roomSubs.get(roomId) === subscription) this.deliverRoomEvent(event, hiddenFrom);
    });
    this.roomSubs.set(roomId, subscription);
  }

  leave(client: ClientSocket, roomId: string): void {
    if (!client.rooms.delete(roomId)) return;
    const sockets = this.byRoom.get(roomId);
    sockets?.delete(client);
    if (sockets && sockets.size === 0) {
      this.byRoom.delete(roomId);
      this.unsubscribe(this.roomSubs, roomId);
    }
  }

  /** Queues a room event for the local sockets receiving its room. */
  deliverRoomEvent(event: RoomEvent, hiddenFrom: readonly string[] = []): void {
    const roomId = roomOf(event);
    const sockets = this.byRoom.get(roomId);
    if (!sockets) return;
    // Typing is for the room's other users: not back to any socket of the one typing, nor to users in a
    // block with them.
    const skipped = new Set(hiddenFrom);
    if (event.type === 'typing') skipped.add(event.user.id);
    const item = outgoing(event, event.type === 'typing');
    let pushed = 0;
    for (const client of sockets) {
      if (skipped.has(client.userId)) continue;
      client.push(item);
      pushed += 1;
    }
    chatMetrics.deliveries.inc(pushed);
    if (event.type === 'room.deleted') for (const client of [...sockets]) this.leave(client, roomId);
    if (event.type === 'member.joined')
      for (const observer of this.observers) observer.memberJoined?.(roomId, event.user);
    if (event.type === 'member.left')
      for (const observer of this.observers) observer.memberLeft?.(roomId, event.user);
    if (event.type === 'room.updated' || event.type === 'room.deleted')
      for (const observer of this.observers) observer.roomChanged?.(roomId);
  }

  /** Applies a membership change to the local sockets of `userId`. */
  deliverUserNotice(userId: string, notice: UserNotice): void {
    if (!this.byUser.has(userId)) return;
    switch (notice.type) {
      case 'room.removed':
        this.toUser(userId, { type: 'room.removed', roomId: notice.roomId });
        return this.leaveForUser(userId, notice.roomId);
      case 'read':
        return this.toUser(userId, { type: 'read', roomId: notice.roomId, userId, seq: notice.seq });
      case 'room.updated':
        return this.toUser(userId, { type: 'room.updated', room: notice.room });
      case 'room.added':
        break;
    }
    this.enterForUser(userId, notice.room.id);
    for (const observer of this.observers) observer.roomAdded?.(userId, notice.room.id);
    if (!notice.invited) return;
    const item = outgoing({ type: 'room.invited', room: notice.room });
    const sockets = this.byUser.get(userId);
    for (const client of sockets ?? []) client.push(item);
    chatMetrics.deliveries.inc(sockets?.size ?? 0);
  }

  /** An announcement for every local socket. */
  deliverAnnouncement(announcement: Announcement): void {
    if (this.clients.size === 0) return;
    const item = outgoing({ type: 'announcement', announcement });
    for (const client of this.clients) client.push(item);
    chatMetrics.deliveries.inc(this.clients.size);
  }

  private toUser(userId: string, event: ServerEvent): void {
    const item = outgoing(event);
    const sockets = this.byUser.get(userId);
    for (const client of sockets ?? []) client.push(item);
    chatMetrics.deliveries.inc(sockets?.size ?? 0);
  }

  /**
   * Tells every local socket that it may have missed events of its rooms (the bus was away, so the other
   * instances' events never arrived): each client joins its rooms again with `since`.
   */
  resyncAll(): void {
    if (this.clients.size === 0) return;
    this.logger.info('telling sockets to resync after a bus outage', { sockets: this.clients.size });
    const item = outgoing({ type: 'resync' });
    for (const client of this.clients) client.push(item);
    chatMetrics.deliveries.inc(this.clients.size);
  }

  /**
   * Resolves once the subscriptions made so far are in place on the bus, so events from now on reach them;
   * without a bus connection, at once: the instance resyncs its sockets when the bus returns.
   */
  settled(): Promise<void> {
    return this.feed.settled();
  }

  /** Drops every subscription (the instance is stopping). */
  async close(): Promise<void> {
    const subscriptions = [...this.roomSubs.values(), ...this.userSubs.values()];
    this.roomSubs.clear();
    this.userSubs.clear();
    await Promise.all(subscriptions.map((subscription) => subscription.unsubscribe()));
  }

  private unsubscribe(subscriptions: Map<string, Subscription>, key: string): void {
    const subscription = subscriptions.get(key);
    subscriptions.delete(key);
    subscription
      ?.unsubscribe()
      .catch((error: unknown) => this.logger.warn('bus unsubscribe failed', { key, error }));
  }
}
