import type { Message } from '@chat/protocol';
import {
  messageUpdateOf,
  reactionId,
  toMessage,
  withReactions,
  type ChangedPage,
  type MembershipDocument,
  type MessageChange,
  type MessageDocument,
  type ReactionDocument,
  type ReadState,
  type RevisionDocument,
} from './chat.store';
import type { Revisions } from './revisions';

/** What an adapter provides for {@link MessageChanges}: primitives over its collections. */
export interface MessageChangeLog {
  findMessage(id: string): Promise<MessageDocument | undefined>;
  findMessages(ids: readonly string[]): Promise<MessageDocument[]>;
  /** `$set`s and `$unset`s the fields and raises `rev` to at least `rev`; the document after, if any. */
  updateMessage(
    id: string,
    update: { set: Partial<MessageDocument>; unset: (keyof MessageDocument)[] },
    rev: number,
  ): Promise<MessageDocument | undefined>;
  /** false when the reaction exists. */
  insertReaction(reaction: ReactionDocument): Promise<boolean>;
  /** false when there was none. */
  removeReaction(id: string): Promise<boolean>;
  removeReactionsOf(messageId: string): Promise<void>;
  reactionsFor(messageIds: readonly string[]): Promise<ReactionDocument[]>;
  countReactions(messageId: string, userId: string): Promise<number>;
  /** Up to `limit` revisions of the room after `sinceRev`, lowest first. */
  revisionsAfter(roomId: string, sinceRev: number, limit: number): Promise<RevisionDocument[]>;
  memberships(userId: string, roomIds: readonly string[]): Promise<MembershipDocument[]>;
  /** Sets the membership's `lastReadSeq` to `seq` if it is lower (or absent); whether it moved. */
  moveReadPosition(roomId: string, userId: string, seq: number): Promise<boolean>;
  /** Messages of the room after `afterSeq`, not deleted, not sent by `userId` (and mentioning them, with `mentioning`). */
  countUnread(roomId: string, userId: string, afterSeq: number, mentioning: boolean): Promise<number>;
}

/** Revisions read at most for one `joined.changed`: past it the client is told to reload instead. */
const MAX_REVISIONS_SCANNED = 5_000;

/**
 * Edits, deletions, reactions, recovery of changes and read state over an adapter's primitives: the same
 * rules for every adapter (contract v1.1, "Messages" and "Read state").
 */
export class MessageChanges {
  constructor(
    private readonly log: MessageChangeLog,
    private readonly revisions: Revisions,
    /** The newest seq of each room (as `ChatStore.lastSeq` reads it, without `exact`), in one read. */
    private readonly lastSeqs: (roomIds: readonly string[]) => Promise<Map<string, number>>,
  ) {}

  async change(
    messageId: string,
    change: MessageChange,
  ): Promise<{ message: Message; changed: boolean } | undefined> {
    const current = await this.log.findMessage(messageId);
    if (!current) return undefined;
    if (change.kind === 'react') {
      const id = reactionId(messageId, change.userId, change.emoji);
      const changed = change.on
        ? await this.log.insertReaction({
            _id: id,
            messageId,
            roomId: current.roomId,
            userId: change.userId,
            emoji: change.emoji,
            createdAt: change.at,
          })
        : await this.log.removeReaction(id);
      if (!changed) return { message: await this.withReactions(current), changed: false };
      const rev = await this.revisions.take(current.roomId, [messageId]);
      const updated = await this.log.updateMessage(messageId, { set: {}, unset: [] }, rev);
      return { message: await this.withReactions(updated ?? current), changed: true };
    }
    const rev = await this.revisions.take(current.roomId, [messageId]);
    const updated = await this.log.updateMessage(messageId, messageUpdateOf(change), rev);
    if (!updated) return undefined;
    if (change.kind === 'delete') await this.log.removeReactionsOf(messageId);
    return { message: await this.withReactions(updated), changed: true };
  }

  /**
   * The current state of messages with seq <= `uptoSeq` changed after `sinceRev`, read from the revisions
   * (which no lost update can hide), each with the highest revision seen for it.
   */
  async changedSince(
    roomId: string,
    query: { sinceRev: number; uptoSeq: number; limit: number },
  ): Promise<ChangedPage> {
    const revisions = await this.log.revisionsAfter(roomId, query.sinceRev, MAX_REVISIONS_SCANNED + 1);
    const scannedAll = revisions.length <= MAX_REVISIONS_SCANNED;
    const latest = new Map<string, number>();
    for (const { messageId, rev } of revisions.slice(0, MAX_REVISIONS_SCANNED)) latest.set(messageId, rev);
    const documents = (await this.log.findMessages([...latest.keys()]))
      .filter((document) => document.roomId === roomId && document.seq <= query.uptoSeq)
      .sort((a, b) => a.seq - b.seq);
    const kept = documents.slice(0, query.limit).map((document) => ({
      ...document,
      rev: Math.max(document.rev ?? 0, latest.get(document._id) ?? 0),
    }));
    return {
      items: await withReactions(kept, (ids) => this.log.reactionsFor(ids)),
      hasMore: !scannedAll || documents.length > query.limit,
    };
  }

  reactionCountOf(messageId: string, userId: string): Promise<number> {
    return this.log.countReactions(messageId, userId);
  }

  markRead(roomId: string, userId: string, seq: number): Promise<boolean> {
    return this.log.moveReadPosition(roomId, userId, seq);
  }

  /** Unread and mention counts are read only for rooms with messages past the read position. */
  async readStates(userId: string, roomIds: readonly string[]): Promise<Map<string, ReadState>> {
    const [memberships, lastSeqs] = await Promise.all([
      this.log.memberships(userId, roomIds),
      this.lastSeqs(roomIds),
    ]);
    const states = await Promise.all(
      memberships.map(async ({ roomId, role, lastReadSeq = 0 }): Promise<[string, ReadState]> => {
        const lastSeq = lastSeqs.get(roomId) ?? 0;
        if (lastSeq <= lastReadSeq) {
          return [roomId, { myRole: role, lastSeq, lastReadSeq, unread: 0, mentions: 0 }];
        }
        const [unread, mentions] = await Promise.all([
          this.log.countUnread(roomId, userId, lastReadSeq, false),
          this.log.countUnread(roomId, userId, lastReadSeq, true),
        ]);
        return [roomId, { myRole: role, lastSeq, lastReadSeq, unread, mentions }];
      }),
    );
    return new Map(states);
  }

  private async withReactions(document: MessageDocument): Promise<Message> {
    if (document.deletedAt) return toMessage(document);
    return toMessage(document, await this.log.reactionsFor([document._id]));
  }
}
