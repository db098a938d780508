import type { Room, UserPublic } from '@chat/protocol';
import type { ChatService } from '../domain/chat.service';
import type { UserDirectory } from '../domain/ports';
import { chatMetrics } from '../metrics';
import type { ClientSocket } from './client-socket';
import { outgoing, type Outgoing } from './outbound-queue';
import type { PresenceBatch, PresenceStatus } from './presence';
import type { PresenceTracker } from './presence-tracker';
import type { SocketHub } from './socket-hub';

export interface PresenceDeliveryOptions {
  hub: SocketHub;
  chat: ChatService;
  users: UserDirectory;
  tracker: PresenceTracker;
  /** Rooms with more members carry no presence (PRESENCE_MAX_ROOM_MEMBERS). */
  maxRoomMembers: number;
}

/**
 * Turns presence into `presence` events for this instance's sockets: who is online at `hello`, and each
 * window of changes gathered by {@link Presence}. Memberships are read through the chat domain.
 *
 * Presence travels only through rooms of at most `maxRoomMembers` members. When all of a room's M members
 * come online, each is told of the others: M² / 2 events, and a `hello` listing up to M users. A room of
 * 10,000 would make 50 million events; above the limit its members hear of each other only through a
 * smaller room they share (a direct room always counts).
 */
export class PresenceDelivery {
  constructor(private readonly options: PresenceDeliveryOptions) {}

  /** The online users sharing at least one of `rooms` that carries presence with `userId`, for `hello`. */
  async onlineAmong(userId: string, rooms: readonly Room[]): Promise<UserPublic[]> {
    const roomIds = rooms.filter((room) => this.carriesPresence(room)).map((room) => room.id);
    if (roomIds.length === 0) return [];
    const ids = this.online(await this.options.chat.memberIdsOf(roomIds), userId);
    if (ids.length === 0) return [];
    const profiles = await this.options.users.find(ids);
    return ids.flatMap((id) => profiles.get(id) ?? []);
  }

  /**
   * Delivers one presence window to local sockets: the transitions, then, for users who just started
   * sharing a room, who of them is online (they may have shared no room before, so no transition of
   * theirs reached the other). Statuses are read from the tracker now; a later change is in a later window,
   * delivered after this one. Re-telling a status a client already has is harmless (one small droppable
   * event), so whether a pair already shared another room is not looked up.
   */
  readonly notify = async (batch: PresenceBatch): Promise<void> => {
    if (this.options.hub.size === 0) return;
    await this.notifyChanges(batch.changes);
    await this.showNewcomers(batch.membersJoined);
    await this.showOnlineMembers(batch.roomsAdded);
  };

  /** Tells each local socket about the users it shares a room with: one serialized event per change. */
  private async notifyChanges(changes: Map<string, PresenceStatus>): Promise<void> {
    if (changes.size === 0) return;
    const { hub, chat, users } = this.options;
    const userIds = [...changes.keys()];
    const [profiles, roomsByUser] = await Promise.all([users.find(userIds), chat.roomIdsOfUsers(userIds)]);
    const sharing = await this.sharing(
      [...roomsByUser.values()].flat().filter((roomId) => hub.socketsIn(roomId).size > 0),
    );
    for (const [userId, status] of changes) {
      const user = profiles.get(userId);
      if (!user) continue;
      const recipients = new Set<ClientSocket>();
      for (const roomId of roomsByUser.get(userId) ?? []) {
        if (!sharing.has(roomId)) continue;
        for (const client of hub.socketsIn(roomId)) if (client.userId !== userId) recipients.add(client);
      }
      if (recipients.size === 0) continue;
      const item = outgoing({ type: 'presence', user, status }, true);
      for (const client of recipients) client.push(item);
      chatMetrics.deliveries.inc(recipients.size);
    }
  }

  /** Tells the local sockets of users who became members of rooms which of those rooms' members are online. */
  private async showOnlineMembers(roomsAdded: Map<string, Set<string>>): Promise<void> {
    const { hub, chat, users, tracker } = this.options;
    const sharing = await this.sharing(roomsAdded.keys());
    const rooms = [...roomsAdded].flatMap(([roomId, userIds]) => {
      const here = [...userIds].filter((userId) => hub.socketsOf(userId).length > 0);
      return here.length > 0 && sharing.has(roomId) ? [{ roomId, userIds: here }] : [];
    });
    if (rooms.length === 0) return;
    const members = await chat.memberIdsOf(rooms.map(({ roomId }) => roomId));
    const membersByRoom = rooms.map(({ roomId }) =>
      this.online(new Map([[roomId, members.get(roomId) ?? new Set()]])),
    );
    // Whom each newcomer hears about, once even when they joined several rooms with them in one window.
    const shown = new Map<string, Set<string>>();
    rooms.forEach(({ userIds }, index) => {
      for (const userId of userIds) {
        const members = shown.get(userId) ?? new Set<string>();
        for (const memberId of membersByRoom[index]!) if (memberId !== userId) members.add(memberId);
        shown.set(userId, members);
      }
    });
    const profiles = await users.find([...new Set(membersByRoom.flat())]);
    const items = new Map<string, Outgoing>();
    for (const [userId, members] of shown) {
      const sockets = hub.socketsOf(userId);
      for (const memberId of members) {
        const member = profiles.get(memberId);
        // Gone offline meanwhile: the transition is on its way in the next window.
        if (!member || !tracker.isOnline(memberId)) continue;
        const item =
          items.get(memberId) ?? outgoing({ type: 'presence', user: member, status: 'online' }, true);
        items.set(memberId, item);
        for (const client of sockets) client.push(item);
        chatMetrics.deliveries.inc(sockets.length);
      }
    }
  }

  private carriesPresence(room: Room): boolean {
    return room.memberCount <= this.options.maxRoomMembers;
  }

  /** Those of `roomIds` that carry presence, by their member counts as read within the last seconds. */
  private async sharing(roomIds: Iterable<string>): Promise<Set<string>> {
    const ids = [...new Set(roomIds)];
    if (ids.length === 0) return new Set();
    const rooms = await this.options.chat.recentRooms(ids);
    return new Set(rooms.filter((room) => this.carriesPresence(room)).map((room) => room.id));
  }

  /** The online users among the members of the rooms, once each, but `except`. */
  private online(members: Map<string, ReadonlySet<string>>, except?: string): string[] {
    const { tracker } = this.options;
    const ids = new Set<string>();
    for (const memberIds of members.values())
      for (const id of memberIds) if (id !== except && tracker.isOnline(id)) ids.add(id);
    return [...ids];
  }

  /** Tells the local sockets of rooms that gained members which of the newcomers are online. */
  private async showNewcomers(membersJoined: Map<string, Map<string, UserPublic>>): Promise<void> {
    const { hub, tracker } = this.options;
    const sharing = await this.sharing(membersJoined.keys());
    const recipients = new Map<string, { user: UserPublic; sockets: Set<ClientSocket> }>();
    for (const [roomId, newcomers] of membersJoined) {
      if (!sharing.has(roomId)) continue;
      for (const user of newcomers.values()) {
        if (!tracker.isOnline(user.id)) continue;
        const entry = recipients.get(user.id) ?? { user, sockets: new Set<ClientSocket>() };
        for (const client of hub.socketsIn(roomId)) if (client.userId !== user.id) entry.sockets.add(client);
        recipients.set(user.id, entry);
      }
    }
    for (const { user, sockets } of recipients.values()) {
      if (sockets.size === 0) continue;
      const item = outgoing({ type: 'presence', user, status: 'online' }, true);
      for (const client of sockets) client.push(item);
      chatMetrics.deliveries.inc(sockets.size);
    }
  }
}
