import { ChatClient, newClientMsgId, type ConnectionState } from '@chat/client';
import {
  CloseCode,
  type Announcement,
  type Attachment,
  type Member,
  type MemberRole,
  type Message,
  type Room,
  type UserPublic,
} from '@chat/protocol';
import {
  ApiError,
  authedApi,
  logout,
  uploadAttachment,
  uploadAvatar,
  type AuthedApi,
  type User,
  type UserChange,
} from '../api';
import { navigate } from '../router';
import type { Session } from '../session';
import {
  loadDismissed,
  loadMemberships,
  loadOutbox,
  saveDismissed,
  saveMemberships,
  saveOutbox,
} from './tab-storage';
import type { MemberNotice } from './timeline';

/**
 * A message typed here and not yet acknowledged by the server (it may be waiting for a reconnect, or for
 * the page to come back after a reload). `failed`: the server refused it; shown as not sent, with retry.
 */
export interface PendingMessage {
  clientMsgId: string;
  roomId: string;
  text: string;
  /** The id of the message this one answers. */
  replyTo?: string;
  /** Uploaded files the message carries (its text may then be empty). */
  attachments?: Attachment[];
  failed?: string;
}

export interface RoomHistory {
  loaded: boolean;
  loading: boolean;
  hasMore: boolean;
}

/** Everything the chat page shows; replaced (never mutated) on each change so views can compare by identity. */
export interface ChatState {
  me: UserPublic;
  connection: ConnectionState;
  /** Set when the server closed the socket for good for a reason other than the session ending. */
  disconnected: string | undefined;
  /** Rooms the user belongs to and public rooms, newest activity not considered: the server's order. */
  rooms: Room[];
  memberOf: ReadonlySet<string>;
  activeRoomId: string | undefined;
  /** Per room, oldest first, one entry per message id. */
  messages: Readonly<Record<string, readonly Message[]>>;
  history: Readonly<Record<string, RoomHistory>>;
  pending: readonly PendingMessage[];
  /** Per room, the users typing there now (id -> username). */
  typing: Readonly<Record<string, Readonly<Record<string, string>>>>;
  online: ReadonlySet<string>;
  /**
   * Users whose presence this client hears of (they share a room that carries presence with the user):
   * only they show as online or offline; anyone else's presence is unknown and shows no dot.
   */
  presenceKnown: ReadonlySet<string>;
  /** Per room whose member list was asked for: its members, kept up to date by member events. */
  members: Readonly<Record<string, readonly Member[]>>;
  /** Per room, who joined or left while the page was open. */
  notices: Readonly<Record<string, readonly MemberNotice[]>>;
  /** Per room, messages from others after the read position; from `Room.unread`, then live messages. */
  unread: Readonly<Record<string, number>>;
  /** Per room, those of them that mention the user. */
  mentions: Readonly<Record<string, number>>;
  /** Per room, the user's read position (the highest seq read), from any of their devices. */
  readSeq: Readonly<Record<string, number>>;
  /** Per room, the read position when it was opened with unread messages: the "New messages" line goes after it. */
  newAfter: Readonly<Record<string, number>>;
  /** Server-wide announcements, newest first, and those this user dismissed. */
  announcements: readonly Announcement[];
  dismissed: ReadonlySet<string>;
  /** Users this user blocked. */
  blocked: ReadonlySet<string>;
  /** The token's role: admins may post announcements and do what room owners may. */
  admin: boolean;
  /** Whether the browser may show notifications; asked for only when the user says so. */
  notifications: NotificationPermission | 'unsupported';
  /** Users seen anywhere (hello, presence, searches), to name the other side of a direct room. */
  users: Readonly<Record<string, UserPublic>>;
  /** Direct room id -> the other user's id, where known. */
  directPeers: Readonly<Record<string, string>>;
  /** A failed action the user should hear about, shown until dismissed or replaced. */
  alert: string | undefined;
}

const PAGE_SIZE = 50;
/** A typing signal whose "stopped" never arrived (the sender's tab closed) fades after this long. */
const TYPING_TTL_MS = 6_000;
/** After this long without a keystroke we tell the room the user stopped typing. */
const TYPING_PAUSE_MS = 2_500;
/** How often a long burst of typing says so again; well inside TYPING_TTL_MS. */
const TYPING_REPEAT_MS = 3_000;
const ROOMS_RELOAD_DELAY_MS = 300;
/** Public rooms others create are announced nowhere: the list is asked for again this often while in view. */
const ROOMS_POLL_MS = 15_000;
/** At most one renewal per this long after the server closed the socket with 4001. */
const RENEW_INTERVAL_MS = 30_000;
/** Reconnect attempts without a hello after which we ask the API whether the session still stands. */
const FAILED_ATTEMPTS_BEFORE_CHECK = 3;

function bySeq(a: Message, b: Message): number {
  return a.seq - b.seq;
}

/** Merges `incoming` into a room's messages: one entry per id, ordered by `seq`. */
function mergeMessages(existing: readonly Message[] = [], incoming: readonly Message[]): Message[] {
  const byId = new Map(existing.map((message) => [message.id, message]));
  let changed = false;
  for (const message of incoming) {
    const known = byId.get(message.id);
    if (known && known.rev >= message.rev) continue;
    byId.set(message.id, message);
    changed = true;
  }
  return changed ? [...byId.values()].sort(bySeq) : (existing as Message[]);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The chat page's state and actions, apart from any view: it owns the socket client, applies its events,
 * calls the REST API through the session, and notifies subscribers with a new state object per change.
 */
export class ChatStore {
  private current: ChatState;
  private readonly listeners = new Set<(state: ChatState) => void>();
  private readonly client: ChatClient;
  private readonly api: AuthedApi;
  private readonly cleanups: Array<() => void> = [];
  private readonly typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private ownTyping: { roomId: string; sentAt: number; timer: ReturnType<typeof setTimeout> } | undefined;
  private attemptsWithoutHello = 0;
  private hellos = 0;
  /** Rooms with more members carry no presence (`hello.presenceMaxRoomMembers`); none is known before it. */
  private presenceMaxRoomMembers = 0;
  private renewedAt = 0;
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private nextNoticeId = 1;
  private stopped = false;
  /** Set from the moment the user asks to log out: the server's 4001 for it is expected, not news. */
  private loggingOut = false;

  constructor(
    private readonly session: Session,
    baseUrl = location.origin,
  ) {
    const { email: _email, phone: _phone, role, updatedAt: _updatedAt, ...me } = session.user;
    this.current = {
      me,
      connection: 'idle',
      disconnected: undefined,
      rooms: [],
      memberOf: loadMemberships(me.id),
      activeRoomId: undefined,
      messages: {},
      history: {},
      pending: loadOutbox(me.id),
      typing: {},
      online: new Set([me.id]),
      presenceKnown: new Set([me.id]),
      members: {},
      notices: {},
      unread: {},
      mentions: {},
      readSeq: {},
      newAfter: {},
      announcements: [],
      dismissed: loadDismissed(me.id),
      blocked: new Set(),
      admin: role === 'admin',
      notifications: typeof Notification === 'function' ? Notification.permission : 'unsupported',
      users: {},
      directPeers: {},
      alert: undefined,
    };
    this.api = authedApi((path, options) => session.call(path, options));
    this.client = new ChatClient({ baseUrl, token: () => session.accessToken() });
    this.wire();
  }

  get state(): ChatState {
    return this.current;
  }

  subscribe(listener: (state: ChatState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Opens the socket and loads the room list; messages a reload interrupted go again, in their order. */
  start(): void {
    void this.client.connect().catch(() => undefined);
    void this.loadRooms();
    void this.loadBlocks();
    for (const item of this.current.pending) if (!item.failed) this.dispatch(item);
    this.pollTimer = setInterval(() => {
      if (document.visibilityState === 'visible') void this.loadRooms();
    }, ROOMS_POLL_MS);
    const onVisible = () => {
      if (document.visibilityState === 'visible') void this.loadRooms();
    };
    document.addEventListener('visibilitychange', onVisible);
    this.cleanups.push(() => document.removeEventListener('visibilitychange', onVisible));
  }

  /** Closes the socket and every timer; the store is done after this. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTyping();
    for (const cleanup of this.cleanups) cleanup();
    for (const timer of this.typingTimers.values()) clearTimeout(timer);
    clearTimeout(this.reloadTimer);
    clearInterval(this.pollTimer);
    this.client.close();
  }

  /**
   * Ends the session on the server, then here; the page goes back to login either way. Messages still
   * unsent stay in the tab for the user's next login there; nothing else of theirs does.
   */
  async logout(): Promise<void> {
    this.loggingOut = true;
    const token = await this.session.accessToken().catch(() => undefined);
    this.stop();
    saveMemberships(this.current.me.id, new Set());
    // Ended here first: the other tabs hear it from this one before the server closes their sockets.
    this.session.end('logged-out');
    // The server may be unreachable or the session already gone; every tab has forgotten it regardless.
    if (token) await logout(token).catch(() => undefined);
  }

  reconnect(): void {
    this.set({ disconnected: undefined });
    void this.client.connect().catch(() => undefined);
  }

  dismissAlert(): void {
    this.set({ alert: undefined });
  }

  async loadRooms(): Promise<void> {
    try {
      const { items } = await this.api.rooms();
      // A room we joined or were invited to while the list was on its way stays in it.
      const listed = new Set(items.map((room) => room.id));
      const kept = this.current.rooms.filter(
        (room) => !listed.has(room.id) && this.current.memberOf.has(room.id),
      );
      this.set({ rooms: [...items, ...kept] });
      this.takeReadState(items);
      void this.resolveDirectPeers(items);
    } catch (error) {
      this.fail(error, 'The room list could not be loaded');
    }
  }

  /** Shows a room: its latest page of history the first time, then whatever arrives live. */
  async openRoom(roomId: string | undefined): Promise<void> {
    this.stopTyping();
    const newAfter = { ...this.current.newAfter };
    if (roomId && this.current.unread[roomId]) newAfter[roomId] = this.current.readSeq[roomId] ?? 0;
    else if (roomId) delete newAfter[roomId];
    this.set({ activeRoomId: roomId, newAfter });
    const history = this.current.history[roomId ?? ''];
    if (!roomId || !this.current.memberOf.has(roomId) || history?.loaded || history?.loading) return;
    await this.loadPage(roomId, undefined);
  }

  /** The page before the oldest message shown; for scrolling up. */
  async loadOlder(roomId: string): Promise<void> {
    const history = this.current.history[roomId];
    const oldest = this.current.messages[roomId]?.[0];
    if (!history?.hasMore || history.loading || !oldest) return;
    await this.loadPage(roomId, oldest.id);
  }

  /** Creates a room (the caller opens it); rejects with the ApiError for the form to show. */
  async createRoom(name: string, kind: 'public' | 'private'): Promise<Room> {
    const room = await this.api.createRoom(name, kind);
    this.addMembership(room);
    return room;
  }

  async joinRoom(roomId: string): Promise<void> {
    try {
      const room = await this.api.joinRoom(roomId);
      this.addMembership(room);
      await this.openRoom(room.id);
    } catch (error) {
      this.fail(error, 'Could not join the room');
    }
  }

  /** Reads a room's whole member list (a page of 100 at a time); member events keep it current after. */
  async loadMembers(roomId: string): Promise<void> {
    try {
      const members: Member[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.api.members(roomId, cursor);
        members.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      this.rememberUsers(members.map((member) => member.user));
      const known =
        members.length <= this.presenceMaxRoomMembers ? members.map((member) => member.user.id) : [];
      this.set({
        members: { ...this.current.members, [roomId]: members },
        presenceKnown: new Set([...this.current.presenceKnown, ...known]),
      });
    } catch (error) {
      this.fail(error, 'The member list could not be loaded');
    }
  }

  /** Leaves a room: it goes from the user's rooms (a public one stays in the directory). */
  async leaveRoom(roomId: string): Promise<void> {
    try {
      await this.api.leaveRoom(roomId);
    } catch (error) {
      return this.fail(error, 'Could not leave the room');
    }
    this.forgetRoom(roomId, true);
  }

  /** The room is no longer the user's (left, removed, or deleted); a public one stays listed when `listed`. */
  private forgetRoom(roomId: string, listed: boolean): void {
    const memberOf = new Set(this.current.memberOf);
    memberOf.delete(roomId);
    const { [roomId]: _history, ...history } = this.current.history;
    const { [roomId]: _messages, ...messages } = this.current.messages;
    const { [roomId]: _unread, ...unread } = this.current.unread;
    const { [roomId]: _mentions, ...mentions } = this.current.mentions;
    this.set({
      memberOf,
      history,
      messages,
      unread,
      mentions,
      rooms: this.current.rooms.filter((room) => room.id !== roomId || (listed && room.kind === 'public')),
      activeRoomId: this.current.activeRoomId === roomId ? undefined : this.current.activeRoomId,
    });
  }

  /**
   * The user has seen the room up to its newest message (it is open, in view, scrolled to the bottom): the
   * server hears it (debounced by the client) and the room's counts clear here at once.
   */
  markRead(roomId: string): void {
    const newest = this.current.messages[roomId]?.at(-1)?.seq;
    if (newest === undefined) return;
    const read = this.current.readSeq[roomId] ?? 0;
    if (newest <= read && !this.current.unread[roomId] && !this.current.mentions[roomId]) return;
    if (newest > read) this.client.markRead(roomId, newest);
    this.set({
      readSeq: { ...this.current.readSeq, [roomId]: Math.max(read, newest) },
      unread: { ...this.current.unread, [roomId]: 0 },
      mentions: { ...this.current.mentions, [roomId]: 0 },
    });
  }

  /** Replaces the text of the user's own message. */
  async edit(message: Message, text: string): Promise<void> {
    try {
      this.onUpdated(await this.client.edit(message.roomId, message.id, text.trim()));
    } catch (error) {
      this.fail(error, 'The message could not be edited');
    }
  }

  async deleteMessage(message: Message): Promise<void> {
    try {
      this.onUpdated(await this.client.deleteMessage(message.roomId, message.id));
    } catch (error) {
      this.fail(error, 'The message could not be deleted');
    }
  }

  /** Adds the user's reaction with `emoji`, or takes it back if they already reacted with it. */
  async toggleReaction(message: Message, emoji: string): Promise<void> {
    const mine = message.reactions.some(
      (reaction) => reaction.emoji === emoji && reaction.userIds.includes(this.current.me.id),
    );
    try {
      this.onUpdated(await this.client.react(message.roomId, message.id, emoji, !mine));
    } catch (error) {
      this.fail(error, 'The reaction could not be saved');
    }
  }

  /** Renames the room or sets its topic (null clears it); rejects with the ApiError for the form. */
  async updateRoom(roomId: string, change: { name?: string; topic?: string | null }): Promise<void> {
    this.mergeRoom(await this.api.updateRoom(roomId, change));
  }

  async deleteRoom(roomId: string): Promise<void> {
    try {
      await this.api.deleteRoom(roomId);
      this.forgetRoom(roomId, false);
    } catch (error) {
      this.fail(error, 'The room could not be deleted');
    }
  }

  async setRole(roomId: string, userId: string, role: 'moderator' | 'member'): Promise<void> {
    try {
      const updated = await this.api.setRole(roomId, userId, role);
      this.setMemberRole(roomId, userId, updated.role);
    } catch (error) {
      this.fail(error, 'The role could not be changed');
    }
  }

  /** Removes a member from the room, or bans them (removed, and kept from coming back) when `ban`. */
  async removeMember(roomId: string, userId: string, ban: boolean): Promise<void> {
    try {
      if (ban) await this.api.ban(roomId, userId);
      else await this.api.removeMember(roomId, userId);
    } catch (error) {
      this.fail(error, ban ? 'Could not ban them' : 'Could not remove them');
    }
  }

  async setBlocked(user: UserPublic, blocked: boolean): Promise<void> {
    try {
      if (blocked) await this.api.block(user.id);
      else await this.api.unblock(user.id);
      const set = new Set(this.current.blocked);
      if (blocked) set.add(user.id);
      else set.delete(user.id);
      this.set({ blocked: set });
    } catch (error) {
      this.fail(error, blocked ? `Could not block ${user.username}` : `Could not unblock ${user.username}`);
    }
  }

  /** Posts an announcement to everyone (admins only); rejects with the ApiError for the form. */
  async announce(text: string): Promise<void> {
    this.onAnnouncement(await this.api.announce(text.trim()));
  }

  dismissAnnouncement(id: string): void {
    const dismissed = new Set(this.current.dismissed).add(id);
    saveDismissed(this.current.me.id, dismissed);
    this.set({ dismissed });
  }

  /** Asks the browser for permission to notify; call it from a user's click, as browsers require. */
  async enableNotifications(): Promise<void> {
    if (typeof Notification !== 'function') return;
    this.set({ notifications: await Notification.requestPermission() });
  }

  /** Adds `user` to the open room; resolves with what to tell the user. */
  async invite(user: UserPublic): Promise<string> {
    const roomId = this.current.activeRoomId;
    const room = this.current.rooms.find((item) => item.id === roomId);
    if (!room) return 'Open a room first.';
    try {
      await this.api.invite(room.id, user.id);
      this.reloadRoomsSoon();
      return `${user.username} was added to ${room.name}.`;
    } catch (error) {
      return `Could not invite ${user.username}: ${errorText(error)}`;
    }
  }

  async startDirect(user: UserPublic): Promise<void> {
    try {
      const room = await this.api.direct(user.id);
      this.set({
        directPeers: { ...this.current.directPeers, [room.id]: user.id },
        users: { ...this.current.users, [user.id]: user },
        presenceKnown: new Set([...this.current.presenceKnown, user.id]),
      });
      this.addMembership(room);
      await this.openRoom(room.id);
    } catch (error) {
      this.fail(error, `Could not start a conversation with ${user.username}`);
    }
  }

  async searchUsers(prefix: string): Promise<UserPublic[]> {
    const { items } = await this.api.users(prefix);
    this.rememberUsers(items);
    return items.filter((user) => user.id !== this.current.me.id);
  }

  /**
   * Sends to the open room, as an answer to the message with id `replyTo` when given, carrying `attachments`
   * (uploaded already; with one, the text may be empty). While the socket is down the message waits and
   * goes out on reconnect.
   */
  send(text: string, replyTo?: string, attachments: readonly Attachment[] = []): void {
    const roomId = this.current.activeRoomId;
    const trimmed = text.trim();
    if (!roomId || (!trimmed && attachments.length === 0)) return;
    this.stopTyping();
    const item: PendingMessage = {
      clientMsgId: newClientMsgId(),
      roomId,
      text: trimmed,
      ...(replyTo ? { replyTo } : {}),
      ...(attachments.length > 0 ? { attachments: [...attachments] } : {}),
    };
    this.set({ pending: [...this.current.pending, item] });
    this.dispatch(item);
  }

  /** Sends a message the server refused once more, under the same clientMsgId. */
  retryPending(clientMsgId: string): void {
    const item = this.current.pending.find((pending) => pending.clientMsgId === clientMsgId);
    if (!item?.failed) return;
    const { failed: _failed, ...retried } = item;
    this.set({ pending: this.current.pending.map((pending) => (pending === item ? retried : pending)) });
    this.dispatch(retried);
  }

  discardPending(clientMsgId: string): void {
    this.set({ pending: this.current.pending.filter((item) => item.clientMsgId !== clientMsgId) });
  }

  private dispatch({ clientMsgId, roomId, text, replyTo, attachments }: PendingMessage): void {
    const attachmentIds = attachments?.map((attachment) => attachment.id);
    this.client.send(roomId, text, clientMsgId, replyTo, attachmentIds).then(
      () => this.set({ pending: this.current.pending.filter((item) => item.clientMsgId !== clientMsgId) }),
      (error: unknown) =>
        this.set({
          pending: this.current.pending.map((item) =>
            item.clientMsgId === clientMsgId ? { ...item, failed: errorText(error) } : item,
          ),
        }),
    );
  }

  /** Uploads one file for a message to come; `signal` cancels it. Rejects with ApiError. */
  async uploadAttachment(file: File, onProgress: (share: number) => void, signal: AbortSignal) {
    return uploadAttachment(file, { token: await this.session.accessToken(), onProgress, signal });
  }

  /** The user's full record (email and phone included), for the profile page. */
  profile(): Promise<User> {
    return this.api.me();
  }

  /** Changes the user's own record; rejects with the ApiError for the form. */
  async updateProfile(change: UserChange): Promise<User> {
    const user = await this.api.updateUser(this.current.me.id, change);
    this.adoptMe(user);
    return user;
  }

  /** Sets the user's picture; resolves with their record as it is now. */
  async setAvatar(file: File, onProgress: (share: number) => void, signal: AbortSignal): Promise<User> {
    await uploadAvatar(file, { token: await this.session.accessToken(), onProgress, signal });
    return this.adoptMe(await this.api.me());
  }

  async removeAvatar(): Promise<User> {
    await this.api.removeAvatar();
    return this.adoptMe(await this.api.me());
  }

  /**
   * Deletes the user's account; the page goes back to login saying so. The socket is closed first, so the
   * server's close for a deleted user (4003) is not taken for news.
   */
  async deleteAccount(): Promise<void> {
    this.loggingOut = true;
    try {
      await this.api.deleteUser(this.current.me.id);
    } catch (error) {
      this.loggingOut = false;
      throw error;
    }
    this.stop();
    saveMemberships(this.current.me.id, new Set());
    this.session.end('deleted');
  }

  /** The user's new public face (name, picture) wherever this page shows them. */
  private adoptMe(user: User): User {
    const { email: _email, phone: _phone, role: _role, updatedAt: _updatedAt, ...me } = user;
    this.set({ me, users: { ...this.current.users, [me.id]: me } });
    return user;
  }

  /** Call on each keystroke in the composer: says "typing" (again every few seconds), "stopped" after a pause. */
  typed(): void {
    const roomId = this.current.activeRoomId;
    if (!roomId) return;
    if (this.ownTyping?.roomId !== roomId) this.stopTyping();
    const now = Date.now();
    let sentAt = this.ownTyping?.sentAt ?? 0;
    // Said again now and then during a long burst, so receivers' fade-out timers do not hide it.
    if (now - sentAt >= TYPING_REPEAT_MS) {
      this.client.typing(roomId, true);
      sentAt = now;
    }
    clearTimeout(this.ownTyping?.timer);
    this.ownTyping = { roomId, sentAt, timer: setTimeout(() => this.stopTyping(), TYPING_PAUSE_MS) };
  }

  private stopTyping(): void {
    if (!this.ownTyping) return;
    clearTimeout(this.ownTyping.timer);
    this.client.typing(this.ownTyping.roomId, false);
    this.ownTyping = undefined;
  }

  private async loadPage(roomId: string, before: string | undefined): Promise<void> {
    const previous = this.current.history[roomId] ?? { loaded: false, loading: false, hasMore: false };
    this.setHistory(roomId, { ...previous, loading: true });
    try {
      const page = await this.client.history(roomId, { limit: PAGE_SIZE, ...(before ? { before } : {}) });
      const newest = page.items.at(-1);
      if (!before && newest) this.client.markSeen(newest);
      this.set({
        messages: {
          ...this.current.messages,
          [roomId]: mergeMessages(this.current.messages[roomId], page.items),
        },
      });
      this.setHistory(roomId, { loaded: true, loading: false, hasMore: page.hasMore });
    } catch (error) {
      this.setHistory(roomId, { ...previous, loading: false });
      this.fail(error, 'Messages could not be loaded');
    }
  }

  private wire(): void {
    const on = this.client.on.bind(this.client);
    this.cleanups.push(
      on('hello', (hello) => {
        this.attemptsWithoutHello = 0;
        this.presenceMaxRoomMembers = hello.presenceMaxRoomMembers;
        this.rememberUsers([hello.user, ...hello.online]);
        const known = new Map(this.current.rooms.map((room) => [room.id, room]));
        for (const room of hello.rooms) known.set(room.id, room);
        const online = [hello.user.id, ...hello.online.map((user) => user.id)];
        this.set({
          me: hello.user,
          memberOf: new Set(hello.rooms.map((room) => room.id)),
          rooms: [...known.values()],
          online: new Set(online),
          presenceKnown: this.presenceKnownAt(hello.rooms, online),
          // Anyone typing before the drop has stopped or will say so again.
          typing: {},
        });
        this.takeReadState(hello.rooms);
        this.mergeAnnouncements(hello.announcements);
        void this.resolveDirectPeers(hello.rooms);
        // Public rooms created while the socket was down appear nowhere else.
        if (this.hellos++ > 0) void this.loadRooms();
      }),
      on('message', (message) => this.onMessage(message)),
      on('message.updated', (message) => this.onUpdated(message)),
      on('read', ({ roomId, userId, seq }) => {
        if (userId === this.current.me.id) this.onReadElsewhere(roomId, seq);
      }),
      on('room.updated', ({ room }) => this.mergeRoom(room)),
      on('room.deleted', ({ roomId }) => this.onRoomGone(roomId, 'was deleted')),
      on('room.removed', ({ roomId }) => this.onRoomGone(roomId, 'is no longer one of your rooms')),
      on('announcement', (announcement) => this.onAnnouncement(announcement)),
      on('presence', ({ user, status }) => {
        this.rememberUsers([user]);
        const online = new Set(this.current.online);
        if (status === 'online') online.add(user.id);
        else online.delete(user.id);
        this.set({ online, presenceKnown: new Set([...this.current.presenceKnown, user.id]) });
      }),
      on('typing', ({ roomId, user, active }) => {
        if (user.id !== this.current.me.id) this.setTyping(roomId, user, active);
      }),
      on('member.joined', ({ roomId, user }) => this.onMember(roomId, user, true)),
      on('member.left', ({ roomId, user }) => this.onMember(roomId, user, false)),
      on('room.invited', ({ room }) => {
        this.addMembership(room);
        void this.resolveDirectPeers([room]);
      }),
      // Timers in a background tab may fire late; this event comes over the socket on time.
      on('session.expiring', () => void this.session.refreshUnlessFresh().catch(() => undefined)),
      on('state', (connection) => this.set({ connection })),
      on('closed', ({ code, final }) => this.onClosed(code, final)),
      // A refresh that fails (the socket dropped meanwhile) needs nothing: the next connect takes this token.
      this.session.onToken((token) => void this.client.refresh(token).catch(() => undefined)),
    );
  }

  private onMessage(message: Message): void {
    const { roomId } = message;
    const me = this.current.me.id;
    // Counted even in the open room: the view marks it read at once when the reader is at the bottom.
    const counts =
      message.sender.id !== me && message.seq > (this.current.readSeq[roomId] ?? 0) && !message.deletedAt;
    const mentioned = counts && message.mentions.includes(me);
    this.set({
      messages: {
        ...this.current.messages,
        [roomId]: mergeMessages(this.current.messages[roomId], [message]),
      },
      ...(counts
        ? { unread: { ...this.current.unread, [roomId]: (this.current.unread[roomId] ?? 0) + 1 } }
        : {}),
      ...(mentioned
        ? { mentions: { ...this.current.mentions, [roomId]: (this.current.mentions[roomId] ?? 0) + 1 } }
        : {}),
    });
    const room = this.current.rooms.find((item) => item.id === roomId);
    if (counts && (mentioned || room?.kind === 'direct')) this.notify(message, room);
    const typing = this.current.typing[roomId];
    if (typing?.[message.sender.id]) this.setTyping(roomId, message.sender, false);
    // A room we did not know of: a direct message someone just started, or an invitation we missed.
    if (!this.current.rooms.some((room) => room.id === roomId)) void this.loadRooms();
    if (!this.current.memberOf.has(roomId))
      this.set({ memberOf: new Set([...this.current.memberOf, roomId]) });
  }

  /** A message's new state (edit, deletion, reaction): replaces the one with its id, never adds a second. */
  private onUpdated(message: Message): void {
    const known = this.current.messages[message.roomId];
    if (!known?.some((item) => item.id === message.id)) return;
    this.set({ messages: { ...this.current.messages, [message.roomId]: mergeMessages(known, [message]) } });
  }

  /** Read on another device (or tab): what is read there is read here. */
  private onReadElsewhere(roomId: string, seq: number): void {
    if (seq <= (this.current.readSeq[roomId] ?? 0)) return;
    this.set({ readSeq: { ...this.current.readSeq, [roomId]: seq } });
    const newest = this.current.messages[roomId]?.at(-1)?.seq ?? 0;
    if (seq >= newest)
      this.set({
        unread: { ...this.current.unread, [roomId]: 0 },
        mentions: { ...this.current.mentions, [roomId]: 0 },
      });
    else this.reloadRoomsSoon();
  }

  /**
   * Counts from the server's rooms (`Room.unread/mentions/lastReadSeq`), except where this page has read
   * further than the server had heard when it answered (a read is sent half a second late).
   */
  private takeReadState(rooms: readonly Room[]): void {
    const unread = { ...this.current.unread };
    const mentions = { ...this.current.mentions };
    const readSeq = { ...this.current.readSeq };
    for (const room of rooms) {
      if (room.lastReadSeq === undefined) continue;
      const read = Math.max(readSeq[room.id] ?? 0, room.lastReadSeq);
      readSeq[room.id] = read;
      const caughtUp = read >= (room.lastSeq ?? 0);
      unread[room.id] = caughtUp ? 0 : (room.unread ?? 0);
      mentions[room.id] = caughtUp ? 0 : (room.mentions ?? 0);
    }
    this.set({ unread, mentions, readSeq });
  }

  /** A room's new name, topic or the user's role in it; this page's own counts stay. */
  private mergeRoom(room: Room): void {
    this.set({
      rooms: this.current.rooms.map((item) => (item.id === room.id ? { ...item, ...room } : item)),
    });
    if (room.myRole) this.setMemberRole(room.id, this.current.me.id, room.myRole);
  }

  private setMemberRole(roomId: string, userId: string, role: MemberRole): void {
    const members = this.current.members[roomId];
    if (!members) return;
    this.set({
      members: {
        ...this.current.members,
        [roomId]: members.map((member) => (member.user.id === userId ? { ...member, role } : member)),
      },
    });
  }

  private onRoomGone(roomId: string, what: string): void {
    const room = this.current.rooms.find((item) => item.id === roomId);
    this.forgetRoom(roomId, what !== 'was deleted');
    if (room) this.set({ alert: `${roomLabel(this.current, room)} ${what}.` });
  }

  private onAnnouncement(announcement: Announcement): void {
    this.mergeAnnouncements([announcement]);
  }

  private mergeAnnouncements(incoming: readonly Announcement[]): void {
    const byId = new Map(this.current.announcements.map((item) => [item.id, item]));
    for (const item of incoming) byId.set(item.id, item);
    this.set({
      announcements: [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
    });
  }

  private async loadBlocks(): Promise<void> {
    try {
      const { items } = await this.api.blocks();
      this.rememberUsers(items.map((item) => item.user));
      this.set({ blocked: new Set(items.map((item) => item.user.id)) });
    } catch (error) {
      this.fail(error, 'Your blocked people could not be loaded');
    }
  }

  /** A direct message or a mention while the page is out of sight: the system says so, if allowed. */
  private notify(message: Message, room: Room | undefined): void {
    if (document.visibilityState !== 'hidden' || this.current.notifications !== 'granted') return;
    const where = room && room.kind !== 'direct' ? ` in ${room.name}` : '';
    const files = message.attachments.length;
    const notification = new Notification(`${message.sender.username}${where}`, {
      body: message.text || (files === 1 ? 'Sent a file' : `Sent ${files} files`),
      tag: message.roomId,
    });
    notification.onclick = () => {
      window.focus();
      navigate({ page: 'chat', roomId: message.roomId });
      notification.close();
    };
  }

  /**
   * Whose presence a new socket's events will keep current: the user, who is online, direct peers, and the
   * members of loaded lists of rooms that carry presence. A room may have grown past the limit since its
   * members became known: what was known before is not kept.
   */
  private presenceKnownAt(rooms: readonly Room[], online: readonly string[]): Set<string> {
    const known = new Set([...online, ...Object.values(this.current.directPeers)]);
    for (const room of rooms) {
      if (room.memberCount > this.presenceMaxRoomMembers) continue;
      for (const member of this.current.members[room.id] ?? []) known.add(member.user.id);
    }
    return known;
  }

  private onMember(roomId: string, user: UserPublic, joined: boolean): void {
    this.rememberUsers([user]);
    const notice: MemberNotice = {
      id: `notice-${this.nextNoticeId++}`,
      kind: joined ? 'joined' : 'left',
      username: user.username,
      at: new Date().toISOString(),
      afterSeq: this.current.messages[roomId]?.at(-1)?.seq ?? 0,
    };
    const members = this.current.members[roomId]?.filter((member) => member.user.id !== user.id);
    if (members && joined) members.push({ user, role: 'member', joinedAt: notice.at });
    this.set({
      notices: { ...this.current.notices, [roomId]: [...(this.current.notices[roomId] ?? []), notice] },
      ...(members ? { members: { ...this.current.members, [roomId]: members } } : {}),
    });
    // Before the room's count comes back from the server, it is one more with the newcomer.
    const memberCount =
      members?.length ?? (this.current.rooms.find((room) => room.id === roomId)?.memberCount ?? 0) + 1;
    if (joined && user.id !== this.current.me.id && memberCount <= this.presenceMaxRoomMembers)
      this.set({ presenceKnown: new Set([...this.current.presenceKnown, user.id]) });
    if (user.id === this.current.me.id) {
      const memberOf = new Set(this.current.memberOf);
      if (joined) memberOf.add(roomId);
      else memberOf.delete(roomId);
      this.set({ memberOf });
    }
    this.reloadRoomsSoon();
  }

  /**
   * Member counts come from the server rather than from counting events here: a join's own answer and its
   * event race, and counting both would drift. Bursts of changes cost one request.
   */
  private reloadRoomsSoon(): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => void this.loadRooms(), ROOMS_RELOAD_DELAY_MS);
  }

  private onClosed(code: number, final: boolean): void {
    if (this.stopped || this.loggingOut) return;
    if (code === CloseCode.SESSION_ENDED) return void this.renewAfterSessionClose();
    if (code === CloseCode.FORBIDDEN) return this.session.end('forbidden');
    if (final) {
      this.set({ disconnected: `The server closed the connection (${code}).` });
      return;
    }
    // A refused upgrade (revoked or expired session) looks like any dropped connection to a browser.
    this.attemptsWithoutHello += 1;
    if (this.attemptsWithoutHello === FAILED_ATTEMPTS_BEFORE_CHECK) void this.checkSession();
  }

  /**
   * 4001 means the access token expired or the session was revoked. Only the refresh token tells which: an
   * expired token (a tab asleep past its refresh) is renewed and the socket reopened; a revoked session
   * refuses the refresh (the session then ends). Once per RENEW_INTERVAL_MS, so a server that keeps closing
   * fresh sockets with 4001 cannot set off a loop.
   */
  private async renewAfterSessionClose(): Promise<void> {
    const now = Date.now();
    if (now - this.renewedAt < RENEW_INTERVAL_MS) return this.session.end('expired');
    this.renewedAt = now;
    try {
      await this.session.refresh();
    } catch (error) {
      if (!this.session.isEnded)
        this.set({ disconnected: `The session could not be renewed: ${errorText(error)}` });
      return;
    }
    if (!this.stopped) void this.client.connect().catch(() => undefined);
  }

  private async checkSession(): Promise<void> {
    try {
      await this.api.me();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) this.session.end('expired');
    }
  }

  private setTyping(roomId: string, user: { id: string; username: string }, active: boolean): void {
    const key = `${roomId}:${user.id}`;
    clearTimeout(this.typingTimers.get(key));
    this.typingTimers.delete(key);
    const inRoom = { ...this.current.typing[roomId] };
    if (active) {
      inRoom[user.id] = user.username;
      this.typingTimers.set(
        key,
        setTimeout(() => this.setTyping(roomId, user, false), TYPING_TTL_MS),
      );
    } else {
      delete inRoom[user.id];
    }
    this.set({ typing: { ...this.current.typing, [roomId]: inRoom } });
  }

  private addMembership(room: Room): void {
    const exists = this.current.rooms.some((item) => item.id === room.id);
    this.set({
      rooms: exists
        ? this.current.rooms.map((item) => (item.id === room.id ? room : item))
        : [...this.current.rooms, room],
      memberOf: new Set([...this.current.memberOf, room.id]),
    });
  }

  /**
   * Direct rooms are shown as the other user, with their presence: find out who that is. Someone else's
   * room names its creator; for one we created (perhaps in another tab) the name lists both usernames.
   */
  private async resolveDirectPeers(rooms: readonly Room[]): Promise<void> {
    const me = this.current.me;
    for (const room of rooms) {
      if (room.kind !== 'direct' || this.current.directPeers[room.id]) continue;
      try {
        const peer =
          room.createdBy !== me.id
            ? (this.current.users[room.createdBy] ?? (await this.api.user(room.createdBy)))
            : await this.findByUsername(otherUsername(room, me.username));
        if (!peer) continue;
        this.rememberUsers([peer]);
        this.set({
          directPeers: { ...this.current.directPeers, [room.id]: peer.id },
          presenceKnown: new Set([...this.current.presenceKnown, peer.id]),
        });
      } catch {
        // The room keeps its own name as its label, without a presence dot.
      }
    }
  }

  private async findByUsername(username: string | undefined): Promise<UserPublic | undefined> {
    if (!username) return undefined;
    const known = Object.values(this.current.users).find((user) => user.username === username);
    if (known) return known;
    const { items } = await this.api.users(username);
    return items.find((user) => user.username === username);
  }

  /** Users as last heard of: a new name or picture replaces the old one. */
  private rememberUsers(users: readonly UserPublic[]): void {
    const same = (user: UserPublic, known: UserPublic | undefined) =>
      known?.name === user.name && known.avatarUrl === user.avatarUrl;
    if (users.every((user) => same(user, this.current.users[user.id]))) return;
    const known = { ...this.current.users };
    for (const user of users) known[user.id] = user;
    this.set({ users: known });
  }

  private setHistory(roomId: string, history: RoomHistory): void {
    this.set({ history: { ...this.current.history, [roomId]: history } });
  }

  private fail(error: unknown, what: string): void {
    if (this.stopped || this.session.isEnded) return;
    this.set({ alert: `${what}: ${errorText(error)}` });
  }

  private set(patch: Partial<ChatState>): void {
    if (this.stopped) return;
    // What a reload must not forget is kept for the next page of this tab.
    if (patch.pending) saveOutbox(this.current.me.id, patch.pending);
    if (patch.memberOf) saveMemberships(this.current.me.id, patch.memberOf);
    this.current = { ...this.current, ...patch };
    for (const listener of this.listeners) listener(this.current);
  }
}

/** The label a room goes by: a direct room is named after the other user. */
export function roomLabel(state: ChatState, room: Room): string {
  if (room.kind !== 'direct') return room.name;
  const peer = state.directPeers[room.id];
  return (peer && state.users[peer]?.username) || otherUsername(room, state.me.username) || room.name;
}

/** chat-service names a direct room after both usernames, comma-separated ("ann, bob"). */
function otherUsername(room: Room, myUsername: string): string | undefined {
  const names = room.name.split(',').map((name) => name.trim());
  return names.length === 2 ? names.find((name) => name !== myUsername) : undefined;
}

/** The other user of a direct room, when known. */
export function directPeer(state: ChatState, room: Room): string | undefined {
  return room.kind === 'direct' ? state.directPeers[room.id] : undefined;
}
