import type { Message } from '@chat/protocol';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Avatar, RoomMark } from '../components/avatar';
import { Dialog } from '../components/dialog';
import { typingText } from '../format';
import { UploadList, useUploads } from './attachments';
import { directPeer, roomLabel, type ChatState, type ChatStore } from './chat-store';
import { MessageList } from './message-list';
import { OnlineDot, presenceOf, presenceText } from './online-dot';
import { MemberActions, ProfileCard, RoomSettings } from './people';
import { UserSearch } from './user-search';

const MAX_LENGTH = 4000;
/** The composer grows with its text up to this many pixels, then scrolls. */
const COMPOSER_MAX_PX = 200;

/** The open room: who and what it is, its messages, who is typing, and the box to write in. */
export function RoomView({
  store,
  state,
  onBack,
}: {
  store: ChatStore;
  state: ChatState;
  onBack: () => void;
}) {
  const room = state.rooms.find((item) => item.id === state.activeRoomId);
  const [draft, setDraft] = useState('');
  const [inviting, setInviting] = useState(false);
  const [details, setDetails] = useState(false);
  const [settings, setSettings] = useState(false);
  const [replyingTo, setReplyingTo] = useState<Message>();
  const [profile, setProfile] = useState<{ id: string; username: string }>();
  /** The `@name` being typed before the caret, while there is one: its start and what is typed of it. */
  const [mention, setMention] = useState<{ start: number; prefix: string; index: number }>();
  const composer = useRef<HTMLTextAreaElement>(null);
  const uploads = useUploads(store);
  /** Whether files are being dragged over the room (it then says it takes them). */
  const [dropping, setDropping] = useState(false);
  const member = room ? state.memberOf.has(room.id) : false;

  // The member list is read when it is first shown, when inviting (who is in already is not offered), and
  // for the room's mentions (highlighted, and offered after @).
  const loaded = room ? state.members[room.id] !== undefined : true;
  useEffect(() => {
    if (room && member && !loaded) void store.loadMembers(room.id);
  }, [room?.id, member, loaded]);

  // Choosing a room means writing in it next; a touch screen would cover it with its keyboard, so not there.
  useEffect(() => {
    if (member && !matchMedia('(pointer: coarse)').matches) composer.current?.focus();
  }, [room?.id, member]);

  // A file dropped beside the room is not opened in place of the page, as the browser would.
  useEffect(() => {
    const keep = (event: DragEvent) => {
      if (event.dataTransfer?.types.includes('Files')) event.preventDefault();
    };
    window.addEventListener('dragover', keep);
    window.addEventListener('drop', keep);
    return () => {
      window.removeEventListener('dragover', keep);
      window.removeEventListener('drop', keep);
    };
  }, []);

  // The box is as tall as its text (one line at least, COMPOSER_MAX_PX at most).
  useEffect(() => {
    const element = composer.current;
    if (!element) return;
    element.style.height = 'auto';
    element.style.height = `${Math.min(element.scrollHeight + 2, COMPOSER_MAX_PX)}px`;
  }, [draft]);

  if (!room) return null;
  const label = roomLabel(state, room);
  const peer = directPeer(state, room);
  const presence = peer ? presenceOf(state, peer) : undefined;
  const typing = typingText(Object.values(state.typing[room.id] ?? {}));
  const pending = state.pending.filter((item) => item.roomId === room.id);
  const moderates = state.admin || room.myRole === 'owner' || room.myRole === 'moderator';
  const candidates = mention
    ? (state.members[room.id] ?? [])
        .map((item) => item.user)
        .filter((user) => user.id !== state.me.id && user.username.toLowerCase().startsWith(mention.prefix))
        .slice(0, 8)
    : [];

  function send() {
    if (!uploads.ready || (!draft.trim() && uploads.uploads.length === 0)) return;
    store.send(draft, replyingTo?.id, uploads.take());
    setDraft('');
    setReplyingTo(undefined);
    setMention(undefined);
  }

  /** Finds an `@name` being typed right before the caret. */
  function findMention(element: HTMLTextAreaElement) {
    const before = element.value.slice(0, element.selectionStart ?? element.value.length);
    const match = /(^|\s)@([a-z0-9._-]{0,32})$/i.exec(before);
    setMention(
      match
        ? { start: before.length - match[2]!.length - 1, prefix: match[2]!.toLowerCase(), index: 0 }
        : undefined,
    );
  }

  function complete(username: string) {
    const element = composer.current;
    if (!mention || !element) return;
    const end = element.selectionStart ?? draft.length;
    const next = `${draft.slice(0, mention.start)}@${username} ${draft.slice(end)}`;
    const caret = mention.start + username.length + 2;
    setDraft(next);
    setMention(undefined);
    requestAnimationFrame(() => {
      element.focus();
      element.setSelectionRange(caret, caret);
    });
  }

  return (
    <section class="room-view" aria-labelledby="room-title">
      <header class="room-header">
        <button type="button" class="back ghost" onClick={onBack}>
          ← Rooms
        </button>
        <h2 id="room-title">
          {room.kind === 'direct' ? <OnlineDot presence={presence} /> : <RoomMark kind={room.kind} />}
          <span class="title-text">{label}</span>
        </h2>
        {room.topic && (
          <span class="topic" title={room.topic}>
            {room.topic}
          </span>
        )}
        {peer && <span class="visually-hidden">{presenceText(presence)}</span>}
        <span class="muted room-meta">
          {room.kind === 'direct'
            ? 'direct message'
            : `${room.kind} · ${room.memberCount} ${room.memberCount === 1 ? 'member' : 'members'}`}
        </span>
        {member && room.kind !== 'direct' && (
          <button
            type="button"
            class="ghost members-button"
            aria-expanded={details}
            aria-controls="room-details"
            onClick={() => setDetails(!details)}
          >
            Members <span class="count">{room.memberCount}</span>
          </button>
        )}
      </header>
      {inviting && (
        <Dialog title={`Invite people to ${label}`} onClose={() => setInviting(false)}>
          <UserSearch
            store={store}
            state={state}
            id="invite-search"
            label={`Invite someone to ${label}`}
            actionLabel="Invite"
            onAction={(user) => store.invite(user)}
            exclude={new Set(state.members[room.id]?.map((item) => item.user.id))}
          />
          <div class="dialog-actions">
            <button type="button" onClick={() => setInviting(false)}>
              Done
            </button>
          </div>
        </Dialog>
      )}
      {settings && <RoomSettings store={store} room={room} onClose={() => setSettings(false)} />}
      {profile && (
        <ProfileCard store={store} state={state} user={profile} onClose={() => setProfile(undefined)} />
      )}
      {member ? (
        <div class="room-body">
          <div
            class={dropping ? 'room-main dropping' : 'room-main'}
            onDragOver={(event) => {
              if (!event.dataTransfer?.types.includes('Files')) return;
              event.preventDefault();
              event.dataTransfer.dropEffect = 'copy';
              setDropping(true);
            }}
            onDragLeave={(event) => {
              if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDropping(false);
            }}
            onDrop={(event) => {
              if (!event.dataTransfer?.files.length) return;
              event.preventDefault();
              setDropping(false);
              uploads.add([...event.dataTransfer.files]);
              composer.current?.focus();
            }}
          >
            {dropping && (
              <div class="drop-zone" aria-hidden="true">
                Drop files to send them to {room.kind === 'direct' ? label : `#${label}`}
              </div>
            )}
            <MessageList
              store={store}
              state={state}
              moderates={moderates}
              onReply={(message) => {
                setReplyingTo(message);
                composer.current?.focus();
              }}
              onProfile={setProfile}
              roomId={room.id}
              label={label}
              messages={state.messages[room.id] ?? []}
              notices={state.notices[room.id] ?? []}
              pending={pending}
              history={state.history[room.id]}
              me={state.me}
            />
            <p class="typing" aria-live="polite">
              {typing}
            </p>
            {replyingTo && (
              <div class="replying">
                <span>
                  Replying to <strong>{replyingTo.sender.username}</strong>:{' '}
                  <span class="reply-text">{replyingTo.text}</span>
                </span>
                <button
                  type="button"
                  class="icon"
                  aria-label="Cancel reply"
                  onClick={() => setReplyingTo(undefined)}
                >
                  ×
                </button>
              </div>
            )}
            {candidates.length > 0 && (
              <ul class="mention-list" id="mention-list" role="listbox" aria-label="People to mention">
                {candidates.map((user, index) => (
                  <li
                    key={user.id}
                    id={`mention-${user.id}`}
                    role="option"
                    aria-selected={index === mention!.index}
                    onMouseDown={(event) => {
                      event.preventDefault();
                      complete(user.username);
                    }}
                  >
                    <Avatar user={user} small /> {user.username}
                    {user.name && <span class="muted"> {user.name}</span>}
                  </li>
                ))}
              </ul>
            )}
            <UploadList uploads={uploads} />
            <form
              class="composer"
              onSubmit={(event) => {
                event.preventDefault();
                send();
              }}
            >
              <input
                id="attach"
                type="file"
                multiple
                class="visually-hidden"
                onChange={(event) => {
                  const input = event.currentTarget;
                  uploads.add([...(input.files ?? [])]);
                  // Cleared, so choosing the same file again is a change too.
                  input.value = '';
                }}
              />
              <label for="attach" class="attach" title="Attach files">
                <PaperclipIcon />
                <span class="visually-hidden">Attach files</span>
              </label>
              <label for="composer" class="visually-hidden">
                Message {label}
              </label>
              <textarea
                id="composer"
                ref={composer}
                rows={1}
                maxLength={MAX_LENGTH}
                placeholder={`Message ${room.kind === 'direct' ? label : `#${label}`}`}
                value={draft}
                aria-describedby="composer-hint"
                aria-autocomplete="list"
                aria-controls={candidates.length > 0 ? 'mention-list' : undefined}
                aria-activedescendant={
                  candidates.length > 0
                    ? `mention-${candidates[Math.min(mention!.index, candidates.length - 1)]!.id}`
                    : undefined
                }
                onInput={(event) => {
                  setDraft(event.currentTarget.value);
                  findMention(event.currentTarget);
                  if (event.currentTarget.value.trim()) store.typed();
                }}
                onPaste={(event) => {
                  const files = [...(event.clipboardData?.files ?? [])];
                  // Text copied from a document may come with a picture of itself: the text is what was meant.
                  if (files.length === 0 || event.clipboardData?.types.includes('text/plain')) return;
                  event.preventDefault();
                  uploads.add(files);
                }}
                onKeyDown={(event) => {
                  if (candidates.length > 0 && mention) {
                    const step = event.key === 'ArrowDown' ? 1 : event.key === 'ArrowUp' ? -1 : 0;
                    if (step) {
                      event.preventDefault();
                      const index = (mention.index + step + candidates.length) % candidates.length;
                      return setMention({ ...mention, index });
                    }
                    if (event.key === 'Enter' || event.key === 'Tab') {
                      event.preventDefault();
                      return complete(candidates[Math.min(mention.index, candidates.length - 1)]!.username);
                    }
                    if (event.key === 'Escape') {
                      event.preventDefault();
                      return setMention(undefined);
                    }
                  }
                  if (event.key === 'Escape' && replyingTo) {
                    event.preventDefault();
                    return setReplyingTo(undefined);
                  }
                  // Enter sends; Shift+Enter is a new line; Enter that confirms an IME composition is neither.
                  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
                    event.preventDefault();
                    send();
                  }
                }}
              />
              <button type="submit" class="send" disabled={!uploads.ready}>
                Send
              </button>
              <span id="composer-hint" class="visually-hidden">
                Enter sends, Shift+Enter starts a new line, @ mentions someone. Files can be attached, dropped
                or pasted.
              </span>
            </form>
          </div>
          {details && (
            <MembersPanel
              store={store}
              state={state}
              onProfile={setProfile}
              roomId={room.id}
              onClose={() => setDetails(false)}
              onInvite={() => setInviting(true)}
              onLeave={() => void store.leaveRoom(room.id)}
              onSettings={state.admin || room.myRole === 'owner' ? () => setSettings(true) : undefined}
            />
          )}
        </div>
      ) : (
        <div class="join">
          <p>You are not in {label} yet.</p>
          <button type="button" onClick={() => void store.joinRoom(room.id)}>
            Join {label}
          </button>
        </div>
      )}
    </section>
  );
}

/** A paper clip, drawn: the emoji one looks different everywhere. */
function PaperclipIcon() {
  return (
    <svg width="18" height="18" viewBox="0 0 16 16" aria-hidden="true" fill="none" stroke="currentColor">
      <path
        d="M13.5 7.5 8 13a3.5 3.5 0 0 1-5-5l5.8-5.8a2.3 2.3 0 0 1 3.3 3.3L6.3 11.3a1.2 1.2 0 0 1-1.7-1.7L10 4.2"
        stroke-width="1.4"
        stroke-linecap="round"
      />
    </svg>
  );
}

const ROLE_ORDER = { owner: 0, moderator: 1, member: 2 } as const;

/** Who is in the room (owners and moderators first, then by name), and what one can do about the room. */
function MembersPanel({
  store,
  state,
  onProfile,
  roomId,
  onClose,
  onInvite,
  onLeave,
  onSettings,
}: {
  store: ChatStore;
  state: ChatState;
  onProfile: (user: { id: string; username: string }) => void;
  roomId: string;
  onClose: () => void;
  onInvite: () => void;
  onLeave: () => void;
  /** For those who may rename, set the topic of, or delete the room. */
  onSettings: (() => void) | undefined;
}) {
  const myRole = state.rooms.find((room) => room.id === roomId)?.myRole;
  const members = [...(state.members[roomId] ?? [])].sort(
    (a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.user.username.localeCompare(b.user.username),
  );
  return (
    <aside class="details" id="room-details" aria-labelledby="details-title">
      <header class="details-header">
        <h3 id="details-title">Members</h3>
        <button type="button" class="icon" aria-label="Close members" onClick={onClose}>
          ×
        </button>
      </header>
      <div class="details-actions">
        <button type="button" class="ghost" onClick={onInvite}>
          Invite people
        </button>
        <button type="button" class="ghost" onClick={onLeave}>
          Leave room
        </button>
        {onSettings && (
          <button type="button" class="ghost" onClick={onSettings}>
            Room settings
          </button>
        )}
      </div>
      {state.members[roomId] === undefined ? (
        <p class="muted details-note">Loading…</p>
      ) : (
        <ul class="users member-list">
          {members.map((item) => {
            const { user, role } = item;
            const presence = presenceOf(state, user.id);
            return (
              <li key={user.id}>
                <button type="button" class="member-button" onClick={() => onProfile(user)}>
                  <span class="room-avatar">
                    <Avatar user={user} small />
                    <OnlineDot presence={presence} />
                  </span>
                  <span class="user-name">
                    {user.username}
                    {user.id === state.me.id && <span class="muted"> (you)</span>}
                    <span class="visually-hidden">{presenceText(presence)}</span>
                  </span>
                </button>
                {role !== 'member' && <span class="badge">{role}</span>}
                <MemberActions
                  store={store}
                  roomId={roomId}
                  member={item}
                  myRole={myRole}
                  admin={state.admin}
                  self={user.id === state.me.id}
                />
              </li>
            );
          })}
        </ul>
      )}
    </aside>
  );
}
