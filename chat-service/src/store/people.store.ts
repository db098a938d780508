import { DELETED_USER, type Announcement, type MemberRole } from '@chat/protocol';
import {
  roomNameTaken,
  type MembershipDocument,
  type MessageDocument,
  type ReactionDocument,
  type RevisionDocument,
  type RoomDocument,
} from './chat.store';
import { isDuplicate, type DocumentCollection, type Query } from './document-collection';

/** A ban: `_id` `<roomId>/<userId>`. */
export interface BanDocument {
  _id: string;
  roomId: string;
  userId: string;
  bannedBy: string;
  createdAt: Date;
}

/** `userId` blocked `blockedId`: `_id` `<userId>/<blockedId>`. */
export interface BlockDocument {
  _id: string;
  userId: string;
  blockedId: string;
  createdAt: Date;
}

export interface AnnouncementDocument {
  _id: string;
  text: string;
  senderId: string;
  senderUsername: string;
  createdAt: Date;
}

/** Where a page of members or announcements starts: after this one, in the page's order. */
export interface PageAfter {
  at: Date;
  id: string;
}

export interface PeopleCollections {
  rooms: DocumentCollection<RoomDocument>;
  memberships: DocumentCollection<MembershipDocument>;
  messages: DocumentCollection<MessageDocument>;
  revisions: DocumentCollection<RevisionDocument>;
  reactions: DocumentCollection<ReactionDocument>;
  bans: DocumentCollection<BanDocument>;
  blocks: DocumentCollection<BlockDocument>;
  announcements: DocumentCollection<AnnouncementDocument>;
}

export function toAnnouncement(document: AnnouncementDocument): Announcement {
  return {
    id: document._id,
    text: document.text,
    createdAt: new Date(document.createdAt).toISOString(),
    sender: { id: document.senderId, username: document.senderUsername },
  };
}

/** Keyset paging on (time, id): the documents strictly after `after` in ascending or descending order. */
function pageFilter(
  timeField: string,
  idField: string,
  after: PageAfter | undefined,
  descending: boolean,
): Query {
  if (!after) return {};
  const beyond = descending ? '$lt' : '$gt';
  return {
    $or: [
      { [timeField]: { [beyond]: after.at } },
      { [timeField]: after.at, [idField]: { [beyond]: after.id } },
    ],
  };
}

/**
 * Rooms and people (contract v1.1): roles, the members list, renaming and deleting rooms, bans, blocks,
 * announcements, and erasing a deleted user. Written once over {@link DocumentCollection}s, so the embedded
 * store and MongoDB keep the same rules. Unique `_id`s make bans, blocks and memberships idempotent.
 */
export class PeopleStore {
  constructor(
    private readonly collections: PeopleCollections,
    /** Told once a room and its messages are gone (the embedded store's unread counts let go of it). */
    private readonly roomDeleted: (roomId: string) => void = () => undefined,
  ) {}

  membership(roomId: string, userId: string): Promise<MembershipDocument | undefined> {
    return this.collections.memberships.findOne({ _id: `${roomId}/${userId}` });
  }

  /** Members by the time they joined (then id), after `after`. */
  memberPage(roomId: string, query: { after?: PageAfter; limit: number }): Promise<MembershipDocument[]> {
    return this.collections.memberships.find(
      { roomId, ...pageFilter('joinedAt', 'userId', query.after, false) },
      { sort: { joinedAt: 1, userId: 1 }, limit: query.limit },
    );
  }

  /** Sets a member's role; false if they are not a member (an owner's role is never changed here). */
  async setRole(roomId: string, userId: string, role: Exclude<MemberRole, 'owner'>): Promise<boolean> {
    const changed = await this.collections.memberships.update(
      { _id: `${roomId}/${userId}`, role: { $ne: 'owner' } },
      { $set: { role } },
    );
    return changed === 1 || (await this.membership(roomId, userId))?.role === role;
  }

  /** Renames a room or sets its topic (null clears it); ROOM_NAME_TAKEN for a public name in use. */
  async updateRoom(roomId: string, changes: { name?: string; topic?: string | null }): Promise<void> {
    const room = await this.collections.rooms.findOne({ _id: roomId });
    if (!room) return;
    const set: Record<string, unknown> = {};
    const unset: Record<string, true> = {};
    if (changes.name !== undefined) {
      set.name = changes.name;
      if (room.kind === 'public') set.nameLower = changes.name.toLowerCase();
    }
    if (changes.topic === null) unset.topic = true;
    else if (changes.topic !== undefined) set.topic = changes.topic;
    const update = {
      ...(Object.keys(set).length > 0 ? { $set: set } : {}),
      ...(Object.keys(unset).length > 0 ? { $unset: unset } : {}),
    };
    if (Object.keys(update).length === 0) return;
    try {
      await this.collections.rooms.update({ _id: roomId }, update);
    } catch (error) {
      if (isDuplicate(error)) throw roomNameTaken();
      throw error;
    }
  }

  /** Deletes a room with everything in it; the room document goes last, so an interrupted delete can be redone. */
  async deleteRoom(roomId: string): Promise<void> {
    const { memberships, messages, revisions, reactions, bans, rooms } = this.collections;
    for (const collection of [memberships, messages, revisions, reactions, bans] as DocumentCollection<{
      _id: string;
    }>[]) {
      await collection.remove({ roomId }, { multi: true });
    }
    await rooms.remove({ _id: roomId });
    this.roomDeleted(roomId);
  }

  ban(roomId: string, userId: string, bannedBy: string, at: Date): Promise<boolean> {
    return this.collections.bans.insert({
      _id: `${roomId}/${userId}`,
      roomId,
      userId,
      bannedBy,
      createdAt: at,
    });
  }

  async unban(roomId: string, userId: string): Promise<boolean> {
    return (await this.collections.bans.remove({ _id: `${roomId}/${userId}` })) === 1;
  }

  async isBanned(roomId: string, userId: string): Promise<boolean> {
    return (await this.collections.bans.count({ _id: `${roomId}/${userId}` })) > 0;
  }

  block(userId: string, blockedId: string, at: Date): Promise<boolean> {
    return this.collections.blocks.insert({
      _id: `${userId}/${blockedId}`,
      userId,
      blockedId,
      createdAt: at,
    });
  }

  async unblock(userId: string, blockedId: string): Promise<boolean> {
    return (await this.collections.blocks.remove({ _id: `${userId}/${blockedId}` })) === 1;
  }

  /** Whom `userId` blocked, oldest first. */
  blocksOf(userId: string): Promise<BlockDocument[]> {
    return this.collections.blocks.find({ userId }, { sort: { createdAt: 1 } });
  }

  /** Everyone `userId` blocked or was blocked by. */
  async blockedWith(userId: string): Promise<string[]> {
    const blocks = await this.collections.blocks.find({ $or: [{ userId }, { blockedId: userId }] });
    return blocks.map((block) => (block.userId === userId ? block.blockedId : block.userId));
  }

  /** Whether either of the two blocked the other. */
  async blockedBetween(a: string, b: string): Promise<boolean> {
    return (await this.collections.blocks.count({ _id: { $in: [`${a}/${b}`, `${b}/${a}`] } })) > 0;
  }

  async addAnnouncement(document: AnnouncementDocument): Promise<Announcement> {
    await this.collections.announcements.insert(document);
    return toAnnouncement(document);
  }

  /** Announcements, newest first, after `after`. */
  async announcements(query: { after?: PageAfter; limit: number }): Promise<Announcement[]> {
    const documents = await this.collections.announcements.find(
      pageFilter('createdAt', '_id', query.after, true),
      {
        sort: { createdAt: -1, _id: -1 },
        limit: query.limit,
      },
    );
    return documents.map(toAnnouncement);
  }

  /**
   * What stays of a deleted user once their memberships are gone (the caller removes those, telling the
   * rooms): nothing that names them. Their messages stay, from "deleted-user", without their client's ids;
   * replies to them and mentions of them lose their name; their reactions, blocks and bans go; rooms they
   * created, direct rooms they were in and announcements they made name "deleted-user". The embedded files are then rewritten, so the
   * old lines are gone from disk too.
   */
  async eraseUser(userId: string): Promise<void> {
    const { messages, reactions, blocks, bans, rooms, announcements, memberships } = this.collections;
    const anonymous = { senderId: DELETED_USER, senderUsername: DELETED_USER };
    await messages.update(
      { senderId: userId },
      { $set: anonymous, $unset: { clientMsgId: true, clientMsgKey: true } },
      { multi: true },
    );
    await messages.update(
      { 'replyTo.senderId': userId },
      { $set: { 'replyTo.senderId': DELETED_USER, 'replyTo.senderUsername': DELETED_USER } },
      { multi: true },
    );
    await messages.update({ mentions: userId }, { $pull: { mentions: userId } }, { multi: true });
    await reactions.remove({ userId }, { multi: true });
    await blocks.remove({ $or: [{ userId }, { blockedId: userId }] }, { multi: true });
    await bans.remove({ userId }, { multi: true });
    await bans.update({ bannedBy: userId }, { $set: { bannedBy: DELETED_USER } }, { multi: true });
    await rooms.update({ createdBy: userId }, { $set: { createdBy: DELETED_USER } }, { multi: true });
    // A direct room's key and name are the pair's ids and names: the one left keeps the room, as "deleted-user".
    // (Ids are [A-Za-z0-9_-], so the id is safe inside the pattern.)
    const directRooms = await rooms.find({
      kind: 'direct',
      directKey: { $regex: new RegExp(`(^|:)${userId}(:|$)`) },
    });
    for (const room of directRooms) {
      await rooms.update(
        { _id: room._id },
        { $set: { directKey: `deleted:${room._id}`, name: DELETED_USER } },
      );
    }
    await announcements.update({ senderId: userId }, { $set: anonymous }, { multi: true });
    await memberships.remove({ userId }, { multi: true });
    for (const collection of Object.values(this.collections) as DocumentCollection<{ _id: string }>[]) {
      await collection.compact();
    }
  }
}
