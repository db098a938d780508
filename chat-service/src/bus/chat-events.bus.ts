import type { Bus, BusMessage, Logger, Subscription } from '@chat/shared';
import type { Announcement, Message, Room, RoomEvent, UserPublic } from '@chat/protocol';
import type { ChatEvents } from '../domain/ports';
import { chatMetrics } from '../metrics';
import {
  announcementSubject,
  roomSubject,
  roomSubjectOf,
  userSubject,
  userSubjectOf,
  type UserNotice,
} from './chat.subjects';

/** How long a join waits for its new subscription to reach NATS before it reads what was missed. */
const SETTLE_TIMEOUT_MS = 1_000;

/** Where this instance's own events go at once, without a trip through NATS (the socket hub). */
export interface LocalDelivery {
  deliverRoomEvent(event: RoomEvent, hiddenFrom?: readonly string[]): void;
  deliverUserNotice(userId: string, notice: UserNotice): void;
  deliverAnnouncement(announcement: Announcement): void;
}

export interface ChatEventsOptions {
  bus: Bus;
  instanceId: string;
  logger: Logger;
  local: LocalDelivery;
}

/** The room an event belongs to. */
export function roomOf(event: RoomEvent): string {
  if (event.type === 'message' || event.type === 'message.updated') return event.message.roomId;
  return event.type === 'room.updated' ? event.room.id : event.roomId;
}

/**
 * Publishes what the chat domain and the sockets announce: each event goes to this instance's own sockets
 * at once and to the other instances over NATS, room events on `chat.room.<id>`, membership changes on
 * `chat.user.<id>`.
 * Local delivery never waits for NATS, so sockets on the instance that stored a message get it even while
 * NATS is down. Publishing never fails the caller: the change is already stored, and an instance that
 * missed events while NATS was away tells its sockets to resync (docs/asyncapi.md, `resync`).
 */
export class ChatPublisher implements ChatEvents {
  private local: (() => void)[] = [];

  constructor(private readonly options: ChatEventsOptions) {}

  roomAdded(userId: string, room: Room, invited: boolean): void {
    this.toUser(userId, { type: 'room.added', room, invited });
  }

  roomRemoved(userId: string, roomId: string): void {
    this.toUser(userId, { type: 'room.removed', roomId });
  }

  memberJoined(room: Room, user: UserPublic): void {
    this.toRoom({ type: 'member.joined', roomId: room.id, user });
  }

  memberLeft(room: Room, user: UserPublic): void {
    this.toRoom({ type: 'member.left', roomId: room.id, user });
  }

  /** Called once per newly stored message (ChatService.send), so `chat_messages_total` is counted here. */
  messageCreated(message: Message): void {
    chatMetrics.messages.inc();
    this.toRoom({ type: 'message', message });
  }

  messageUpdated(message: Message): void {
    this.toRoom({ type: 'message.updated', message });
  }

  /** In a direct room both members see read positions (the room's event); elsewhere only the reader's sockets. */
  read(room: Room, userId: string, seq: number): void {
    if (room.kind === 'direct') this.toRoom({ type: 'read', roomId: room.id, userId, seq });
    else this.toUser(userId, { type: 'read', roomId: room.id, seq });
  }

  typing(roomId: string, user: UserPublic, active: boolean, hiddenFrom: readonly string[]): void {
    this.toRoom({ type: 'typing', roomId, user, active }, hiddenFrom);
  }

  /** Everyone's view of the room: without the fields that are one member's own (role, read state). */
  roomUpdated(room: Room): void {
    const {
      myRole: _role,
      lastSeq: _last,
      lastReadSeq: _read,
      unread: _unread,
      mentions: _mentions,
      ...shared
    } = room;
    this.toRoom({ type: 'room.updated', room: shared });
  }

  roomDeleted(roomId: string): void {
    this.toRoom({ type: 'room.deleted', roomId });
  }

  roomChangedFor(userId: string, room: Room): void {
    this.toUser(userId, { type: 'room.updated', room });
  }

  announced(announcement: Announcement): void {
    this.deliverLocally(() => this.options.local.deliverAnnouncement(announcement));
    this.publish(announcementSubject.subject, { origin: this.options.instanceId, announcement });
  }

  private toRoom(event: RoomEvent, hiddenFrom: readonly string[] = []): void {
    this.deliverLocally(() => this.options.local.deliverRoomEvent(event, hiddenFrom));
    this.publish(roomSubjectOf(roomOf(event)), {
      origin: this.options.instanceId,
      event,
      ...(hiddenFrom.length > 0 ? { hiddenFrom } : {}),
    });
  }

  private toUser(userId: string, event: UserNotice): void {
    this.deliverLocally(() => this.options.local.deliverUserNotice(userId, event));
    this.publish(userSubjectOf(userId), { origin: this.options.instanceId, event });
  }

  /**
   * Local sockets get the event after the current frame's reply (an `ack` before its own `message`, as
   * over NATS), in the order the events were published; one immediate serves every event of a tick.
   */
  private deliverLocally(deliver: () => void): void {
    this.local.push(deliver);
    if (this.local.length > 1) return;
    setImmediate(() => {
      const pending = this.local;
      this.local = [];
      for (const run of pending) run();
    });
  }

  private publish(subject: string, data: unknown): void {
    try {
      this.options.bus.publish(subject, data);
    } catch (error) {
      this.options.logger.warn('chat event not published', { subject, error });
    }
  }
}

/**
 * Subscribes to the chat subjects for the socket hub: one room's events and one user's membership notices,
 * from the other instances (this instance's own arrive through {@link LocalDelivery}). Malformed payloads are logged and dropped here, so handlers see valid events only.
 */
export class ChatFeed {
  constructor(private readonly options: Omit<ChatEventsOptions, 'local'>) {}

  room(roomId: string, handler: (event: RoomEvent, hiddenFrom?: readonly string[]) => void): Subscription {
    return this.options.bus.subscribe(roomSubjectOf(roomId), (message) => {
      if (this.isOwn(message)) return;
      const parsed = roomSubject.schema.safeParse(message.data);
      if (!parsed.success || roomOf(parsed.data.event) !== roomId) return this.malformed(message);
      handler(parsed.data.event, parsed.data.hiddenFrom);
    });
  }

  /** Announcements from the other instances. */
  announcements(handler: (announcement: Announcement) => void): Subscription {
    return this.options.bus.subscribe(announcementSubject.subject, (message) => {
      if (this.isOwn(message)) return;
      const parsed = announcementSubject.schema.safeParse(message.data);
      if (!parsed.success) return this.malformed(message);
      handler(parsed.data.announcement);
    });
  }

  user(userId: string, handler: (notice: UserNotice) => void): Subscription {
    return this.options.bus.subscribe(userSubjectOf(userId), (message) => {
      if (this.isOwn(message)) return;
      const parsed = userSubject.schema.safeParse(message.data);
      if (!parsed.success) return this.malformed(message);
      handler(parsed.data.event);
    });
  }

  /** Resolves once this instance's subscriptions reached the server, or when NATS does not answer soon. */
  async settled(): Promise<void> {
    if (!this.options.bus.isConnected()) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SETTLE_TIMEOUT_MS);
    });
    await Promise.race([this.options.bus.flush().catch(() => undefined), late]);
    clearTimeout(timer);
  }

  /** This instance's own events came to its sockets directly: dropped before any parsing. */
  private isOwn(message: BusMessage): boolean {
    const data = message.data as { origin?: unknown } | null;
    return typeof data === 'object' && data !== null && data.origin === this.options.instanceId;
  }

  private malformed(message: BusMessage): void {
    this.options.logger.warn('ignored a malformed chat event', { subject: message.subject });
  }
}
