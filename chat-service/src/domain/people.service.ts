import { randomUUID } from 'node:crypto';
import { decodeCursor, encodeCursor, ForbiddenError, NotFoundError, type UserPublic } from '@chat/shared';
import { DELETED_USER, type Announcement, type Member, type MemberRole, type Room } from '@chat/protocol';
import type { ChatStore } from '../store/chat.store';
import type { ChatService } from './chat.service';
import type { Actor } from './entities';
import type { ChatEvents, UserDirectory } from './ports';

/** Announcements `hello` carries, newest first. */
export const HELLO_ANNOUNCEMENTS = 20;
/** How long the latest announcements are read once for every `hello` (a connection storm reads them once). */
const LATEST_TTL_MS = 2_000;

/** Who may act on a room: its owner or an admin; moderators too where it says so. */
type Authority = 'owner' | 'moderator';

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Rooms and people (contract v1.1): the members list, renaming and deleting rooms, roles, removal and bans,
 * blocks, announcements, and what a deleted user leaves behind. Global admins (the token's role) may do
 * whatever a room's owner may. Every change is stored first, then announced through {@link ChatEvents}.
 */
export class PeopleService {
  private readonly now: () => Date;
  private latest: { at: number; announcements: Promise<Announcement[]> } | undefined;

  constructor(
    private readonly deps: {
      store: ChatStore;
      users: UserDirectory;
      events: ChatEvents;
      chat: ChatService;
      now?: () => Date;
    },
  ) {
    this.now = deps.now ?? (() => new Date());
  }

  /** `GET /api/rooms/:id/members`: members by the time they joined, for members (and admins). */
  async members(
    actor: Actor,
    roomId: string,
    query: { limit: number; cursor?: string },
  ): Promise<Page<Member>> {
    await this.roleOf(actor, roomId);
    const after = query.cursor ? decodeCursor(query.cursor, 2) : undefined;
    const memberships = await this.deps.store.people.memberPage(roomId, {
      limit: query.limit + 1,
      ...(after ? { after: { at: new Date(String(after[0])), id: String(after[1]) } } : {}),
    });
    const page = memberships.slice(0, query.limit);
    const profiles = await this.deps.users.find(page.map((membership) => membership.userId));
    const last = page.at(-1);
    return {
      items: page.flatMap(({ userId, role, joinedAt }) => {
        const user = profiles.get(userId);
        return user ? [{ user, role, joinedAt: new Date(joinedAt).toISOString() }] : [];
      }),
      nextCursor:
        memberships.length > query.limit && last
          ? encodeCursor([new Date(last.joinedAt).toISOString(), last.userId])
          : null,
    };
  }

  /** `PATCH /api/rooms/:id`: the owner (or an admin) renames the room or sets its topic. */
  async updateRoom(
    actor: Actor,
    roomId: string,
    changes: { name?: string; topic?: string | null },
  ): Promise<Room> {
    const room = await this.require(actor, roomId, 'owner');
    if (room.kind === 'direct' && changes.name !== undefined) {
      throw new ForbiddenError('A direct room is named after its two members.');
    }
    await this.deps.store.people.updateRoom(roomId, changes);
    this.deps.chat.roomChanged(roomId);
    const updated = await this.existing(roomId);
    this.deps.events.roomUpdated(updated);
    return this.deps.chat.roomFor(actor.id, updated);
  }

  /** `DELETE /api/rooms/:id`: the owner (or an admin) deletes the room and its messages. */
  async deleteRoom(actor: Actor, roomId: string): Promise<void> {
    await this.require(actor, roomId, 'owner');
    await this.deps.store.people.deleteRoom(roomId);
    this.deps.chat.roomChanged(roomId);
    this.deps.events.roomDeleted(roomId);
  }

  /** `PUT /api/rooms/:id/members/:userId/role`: the owner (or an admin) makes a member a moderator, or back. */
  async setRole(
    actor: Actor,
    roomId: string,
    userId: string,
    role: Exclude<MemberRole, 'owner'>,
  ): Promise<Member> {
    await this.require(actor, roomId, 'owner');
    const target = await this.deps.store.people.membership(roomId, userId);
    if (!target) throw new NotFoundError('The member');
    if (target.role === 'owner') throw new ForbiddenError("The owner's role does not change.");
    await this.deps.store.people.setRole(roomId, userId, role);
    const user = await this.profile(userId);
    this.deps.events.roomChangedFor(
      userId,
      await this.deps.chat.roomFor(userId, await this.existing(roomId)),
    );
    return { user, role, joinedAt: new Date(target.joinedAt).toISOString() };
  }

  /**
   * `DELETE /api/rooms/:id/members/:userId`: the owner, a moderator or an admin removes a member. Nobody
   * removes the owner; a moderator removes members only. Their sockets get `room.removed`, the others
   * `member.left`.
   */
  async removeMember(actor: Actor, roomId: string, userId: string): Promise<void> {
    await this.assertMayRemove(actor, roomId, userId);
    await this.deps.chat.removeFromRoom(roomId, userId, await this.profileOrGone(userId));
  }

  /** `POST /api/rooms/:id/bans`: as a removal, and the user can no longer join or be invited. */
  async ban(actor: Actor, roomId: string, userId: string): Promise<void> {
    if (userId === actor.id) throw new ForbiddenError('You cannot ban yourself.');
    await this.assertMayRemove(actor, roomId, userId);
    await this.deps.store.people.ban(roomId, userId, actor.id, this.now());
    await this.deps.chat.removeFromRoom(roomId, userId, await this.profileOrGone(userId));
  }

  /** `DELETE /api/rooms/:id/bans/:userId`: lifts a ban (the user may join or be invited again). */
  async unban(actor: Actor, roomId: string, userId: string): Promise<void> {
    await this.require(actor, roomId, 'moderator');
    await this.deps.store.people.unban(roomId, userId);
  }

  /** `PUT /api/users/me/blocks/:userId`. */
  async block(actor: Actor, userId: string): Promise<void> {
    if (userId === actor.id) throw new ForbiddenError('You cannot block yourself.');
    if (!(await this.deps.users.get(userId))) throw new NotFoundError('The user');
    await this.deps.store.people.block(actor.id, userId, this.now());
  }

  /** `DELETE /api/users/me/blocks/:userId`. */
  async unblock(actor: Actor, userId: string): Promise<void> {
    await this.deps.store.people.unblock(actor.id, userId);
  }

  /** `GET /api/users/me/blocks`: whom you blocked, oldest first. */
  async blocks(actor: Actor): Promise<{ items: Array<{ user: UserPublic; createdAt: string }> }> {
    const blocks = await this.deps.store.people.blocksOf(actor.id);
    const profiles = await this.deps.users.find(blocks.map((block) => block.blockedId));
    return {
      items: blocks.flatMap(({ blockedId, createdAt }) => {
        const user = profiles.get(blockedId);
        return user ? [{ user, createdAt: new Date(createdAt).toISOString() }] : [];
      }),
    };
  }

  /** `POST /api/announcements`: admins only; every connected socket gets it at once. */
  async announce(actor: Actor, text: string): Promise<Announcement> {
    if (actor.role !== 'admin') throw new ForbiddenError('Only admins make announcements.');
    const announcement = await this.deps.store.people.addAnnouncement({
      _id: randomUUID(),
      text,
      senderId: actor.id,
      senderUsername: actor.username,
      createdAt: this.now(),
    });
    this.latest = undefined;
    this.deps.events.announced(announcement);
    return announcement;
  }

  /** `GET /api/announcements`: newest first. */
  async announcements(query: { limit: number; cursor?: string }): Promise<Page<Announcement>> {
    const after = query.cursor ? decodeCursor(query.cursor, 2) : undefined;
    const items = await this.deps.store.people.announcements({
      limit: query.limit + 1,
      ...(after ? { after: { at: new Date(String(after[0])), id: String(after[1]) } } : {}),
    });
    const page = items.slice(0, query.limit);
    const last = page.at(-1);
    return {
      items: page,
      nextCursor: items.length > query.limit && last ? encodeCursor([last.createdAt, last.id]) : null,
    };
  }

  /**
   * The latest announcements, for `hello`: read at most every two seconds (one made on another instance
   * may be missing from a `hello` for that long; sockets already open get it live).
   */
  latestAnnouncements(): Promise<Announcement[]> {
    const now = Date.now();
    if (!this.latest || now - this.latest.at > LATEST_TTL_MS) {
      const announcements = this.deps.store.people.announcements({ limit: HELLO_ANNOUNCEMENTS });
      this.latest = { at: now, announcements };
      announcements.catch(() => {
        if (this.latest?.announcements === announcements) this.latest = undefined;
      });
    }
    return this.latest.announcements;
  }

  /**
   * A user was deleted (users-service says so on the bus): they leave every room (the others get
   * `member.left`, counts drop), and nothing that names them is kept (`PeopleStore.eraseUser`). Safe to run
   * again, and on every instance at once.
   */
  async userDeleted(userId: string): Promise<void> {
    const gone: UserPublic = {
      id: userId,
      username: DELETED_USER,
      name: null,
      avatarUrl: null,
      createdAt: this.now().toISOString(),
    };
    for (const roomId of await this.deps.store.roomIdsOf(userId)) {
      await this.deps.chat.removeFromRoom(roomId, userId, gone);
    }
    await this.deps.store.people.eraseUser(userId);
  }

  /** The actor's role in the room ('owner' for an admin who is no member); FORBIDDEN for non-members. */
  private async roleOf(actor: Actor, roomId: string): Promise<MemberRole> {
    const membership = await this.deps.store.people.membership(roomId, actor.id);
    if (membership) return actor.role === 'admin' ? 'owner' : membership.role;
    await this.existing(roomId);
    if (actor.role === 'admin') return 'owner';
    throw new ForbiddenError('Only members of this room may do this.');
  }

  /** The room, when the actor has at least `authority` in it (an admin has every authority). */
  private async require(actor: Actor, roomId: string, authority: Authority): Promise<Room> {
    const room = await this.existing(roomId);
    const role = await this.roleOf(actor, roomId);
    const allowed = role === 'owner' || (authority === 'moderator' && role === 'moderator');
    if (!allowed) {
      throw new ForbiddenError(
        authority === 'owner'
          ? 'Only the room’s owner (or an admin) may do this.'
          : 'Only the room’s owner or moderators (or an admin) may do this.',
      );
    }
    return room;
  }

  private async assertMayRemove(actor: Actor, roomId: string, userId: string): Promise<void> {
    const role = await this.roleOf(actor, roomId);
    if (role === 'member')
      throw new ForbiddenError('Only the room’s owner or moderators may remove members.');
    const target = await this.deps.store.people.membership(roomId, userId);
    if (target?.role === 'owner') throw new ForbiddenError('Nobody removes the owner of a room.');
    if (target?.role === 'moderator' && role === 'moderator') {
      throw new ForbiddenError('Only the owner (or an admin) removes a moderator.');
    }
    if (!target && !(await this.deps.users.get(userId))) throw new NotFoundError('The user');
  }

  private async existing(roomId: string): Promise<Room> {
    const room = await this.deps.store.getRoom(roomId);
    if (!room) throw new NotFoundError('The room');
    return room;
  }

  private async profile(userId: string): Promise<UserPublic> {
    const user = await this.deps.users.get(userId);
    if (!user) throw new NotFoundError('The user');
    return user;
  }

  /** A profile for `member.left`, also for a user users-service no longer knows. */
  private async profileOrGone(userId: string): Promise<UserPublic> {
    return (
      (await this.deps.users.get(userId)) ?? {
        id: userId,
        username: DELETED_USER,
        name: null,
        avatarUrl: null,
        createdAt: this.now().toISOString(),
      }
    );
  }
}
