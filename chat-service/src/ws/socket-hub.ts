import type { Bus, BusMessage, Logger, Subscription, UserPublic } from '@chat/shared';
import { roomSubject, roomSubjectOf, userSubject, userSubjectOf } from '../bus/chat.subjects';
import type { ClientSocket } from './client-socket';
import { outgoing } from './outbound-queue';

export interface SocketHubOptions {
  bus: Bus;
  logger: Logger;
  /** `userId`, who has sockets here, became a member of `roomId`; their sockets receive it now. */
  onRoomAdded: (userId: string, roomId: string) => void;
  /** `user` became a member of `roomId`, which sockets here receive. */
  onMemberJoined: (roomId: string, user: UserPublic) => void;
}

/**
 * The sockets of this instance, indexed by user and by room, and the bus subscriptions they need: a room's
 * subject while a local socket receives that room, a user's subject while a local socket of theirs is open
 * (reference-counted, so an instance hears only what its sockets need).
 *
 * Every room event reaches local sockets from the room's subject only, including events this instance
 * published itself: one path, so each socket gets each event exactly once. An event is serialized once
 * per instance and the same text is queued for every socket.
 */
export class SocketHub {
  private readonly clients = new Set<ClientSocket>();
  private readonly byUser = new Map<string, Set<ClientSocket>>();
  private readonly byRoom = new Map<string, Set<ClientSocket>>();
  private readonly roomSubs = new Map<string, Subscription>();
  private readonly userSubs = new Map<string, Subscription>();

  constructor(private readonly options: SocketHubOptions) {}

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
    const subscription: Subscription = this.options.bus.subscribe(userSubjectOf(client.userId), (message) => {
      if (this.userSubs.get(client.userId) === subscription) this.onUserNotice(client.userId, message);
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
    const subscription: Subscription = this.options.bus.subscribe(roomSubjectOf(roomId), (message) => {
      if (this.roomSubs.get(roomId) === subscription) this.onRoomEvent(roomId, message);
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

  /** Drops every subscription (the instance is stopping). */
  async close(): Promise<void> {
    const subscriptions = [...this.roomSubs.values(), ...this.userSubs.values()];
    this.roomSubs.clear();
    this.userSubs.clear();
    await Promise.all(subscriptions.map((subscription) => subscription.unsubscribe()));
  }

  private onRoomEvent(roomId: string, message: BusMessage): void {
    const parsed = roomSubject.schema.safeParse(message.data);
    if (!parsed.success) return this.malformed(message.subject);
    const { event } = parsed.data;
    if ((event.type === 'message' ? event.message.roomId : event.roomId) !== roomId) {
      return this.malformed(message.subject);
    }
    const sockets = this.byRoom.get(roomId);
    if (!sockets) return;
    // Typing is for the room's other users: not back to any socket of the one typing.
    const skipUser = event.type === 'typing' ? event.user.id : undefined;
    const item = outgoing(event, event.type === 'typing');
    for (const client of sockets) if (client.userId !== skipUser) client.push(item);
    if (event.type === 'member.joined') this.options.onMemberJoined(roomId, event.user);
  }

  private onUserNotice(userId: string, message: BusMessage): void {
    const parsed = userSubject.schema.safeParse(message.data);
    if (!parsed.success) return this.malformed(message.subject);
    const { event } = parsed.data;
    if (event.type === 'room.removed') return this.leaveForUser(userId, event.roomId);
    this.enterForUser(userId, event.room.id);
    this.options.onRoomAdded(userId, event.room.id);
    if (!event.invited) return;
    const item = outgoing({ type: 'room.invited', room: event.room });
    for (const client of this.byUser.get(userId) ?? []) client.push(item);
  }

  private unsubscribe(subscriptions: Map<string, Subscription>, key: string): void {
    const subscription = subscriptions.get(key);
    subscriptions.delete(key);
    subscription
      ?.unsubscribe()
      .catch((error: unknown) => this.options.logger.warn('bus unsubscribe failed', { key, error }));
  }

  private malformed(subject: string): void {
    this.options.logger.warn('ignored a malformed chat event', { subject });
  }
}
