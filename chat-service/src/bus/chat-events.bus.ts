import type { Bus, Logger, UserPublic } from '@chat/shared';
import type { Message, Room } from '../domain/entities';
import type { ChatEvents } from '../domain/ports';
import type { RoomEvent } from '../ws/protocol';
import { roomSubjectOf, userSubjectOf, type UserNotice } from './chat.subjects';

/**
 * Publishes what the chat domain and the sockets announce, on core NATS subjects: room events on
 * `chat.room.<id>`, membership changes on `chat.user.<id>`. Publishing never fails the caller: the change
 * is already stored, and a lost event costs a client a gap it can see (by seq) and fill from history.
 */
export class ChatPublisher implements ChatEvents {
  constructor(
    private readonly bus: Bus,
    private readonly instanceId: string,
    private readonly logger: Logger,
  ) {}

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

  messageCreated(message: Message): void {
    this.toRoom({ type: 'message', message });
  }

  typing(roomId: string, user: UserPublic, active: boolean): void {
    this.toRoom({ type: 'typing', roomId, user, active });
  }

  private toRoom(event: RoomEvent): void {
    const roomId = event.type === 'message' ? event.message.roomId : event.roomId;
    this.publish(roomSubjectOf(roomId), { origin: this.instanceId, event });
  }

  private toUser(userId: string, event: UserNotice): void {
    this.publish(userSubjectOf(userId), { origin: this.instanceId, event });
  }

  private publish(subject: string, data: unknown): void {
    try {
      this.bus.publish(subject, data);
    } catch (error) {
      this.logger.warn('chat event not published', { subject, error });
    }
  }
}
