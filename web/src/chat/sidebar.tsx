import type { Room } from '@chat/protocol';
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { Avatar, RoomMark } from '../components/avatar';
import { Dialog } from '../components/dialog';
import { formatTime } from '../format';
import { navigate } from '../router';
import { directPeer, roomLabel, type ChatState, type ChatStore } from './chat-store';
import { OnlineDot, presenceOf, presenceText } from './online-dot';
import { UserSearch } from './user-search';

type Open = 'room' | 'message' | 'announce' | undefined;

/** The conversation list: the user, their rooms, their direct messages, and public rooms to join. */
export function Sidebar({
  store,
  state,
  onOpen,
}: {
  store: ChatStore;
  state: ChatState;
  onOpen: (roomId: string) => void;
}) {
  const [dialog, setDialog] = useState<Open>();
  const mine = state.rooms.filter((room) => state.memberOf.has(room.id));
  const rooms = mine.filter((room) => room.kind !== 'direct');
  const directs = mine.filter((room) => room.kind === 'direct');
  const others = state.rooms.filter((room) => !state.memberOf.has(room.id) && room.kind === 'public');

  const item = (room: Room) => {
    const peer = directPeer(state, room);
    const presence = peer ? presenceOf(state, peer) : undefined;
    const unread = state.memberOf.has(room.id) ? state.unread[room.id] : 0;
    const mentions = state.memberOf.has(room.id) ? state.mentions[room.id] : 0;
    const label = roomLabel(state, room);
    return (
      <li key={room.id}>
        <button
          type="button"
          class={unread ? 'room has-unread' : 'room'}
          aria-current={room.id === state.activeRoomId ? 'true' : undefined}
          onClick={() => onOpen(room.id)}
        >
          {room.kind === 'direct' ? (
            <span class="room-avatar">
              <Avatar user={(peer && state.users[peer]) || { id: peer ?? room.id, username: label }} small />
              <OnlineDot presence={presence} />
            </span>
          ) : (
            <RoomMark kind={room.kind} />
          )}
          <span class="room-name">{label}</span>
          <span class="visually-hidden">
            , {room.kind === 'direct' ? 'direct message' : room.kind}
            {presenceText(presence)}
          </span>
          {mentions ? (
            <span class="mention-badge" title={`${mentions} mentioning you`}>
              @<span class="visually-hidden"> {mentions} mentioning you</span>
            </span>
          ) : null}
          {unread ? (
            <span class="unread">
              {unread}
              <span class="visually-hidden"> unread</span>
            </span>
          ) : null}
        </button>
      </li>
    );
  };

  return (
    <nav class="sidebar" aria-label="Conversations">
      <header class="workspace">
        <button
          type="button"
          class="me-button"
          title="Your profile"
          onClick={() => navigate({ page: 'profile' })}
        >
          <Avatar user={state.me} />
          <span class="who">
            <strong>{state.me.username}</strong>
            <span class="muted">Signed in as {state.me.username}</span>
            <span class="visually-hidden">, your profile</span>
          </span>
        </button>
        <button type="button" class="ghost" onClick={() => void store.logout()}>
          Log out
        </button>
      </header>
      {(state.notifications === 'default' || state.admin) && (
        <div class="workspace-actions">
          {state.notifications === 'default' && (
            <button type="button" class="small ghost" onClick={() => void store.enableNotifications()}>
              Turn on notifications
            </button>
          )}
          {state.admin && (
            <button type="button" class="small ghost" onClick={() => setDialog('announce')}>
              Post an announcement
            </button>
          )}
        </div>
      )}
      <section aria-labelledby="rooms-title">
        <div class="section-head">
          <h2 id="rooms-title">Rooms</h2>
          <button
            type="button"
            class="icon"
            aria-label="New room"
            title="New room"
            onClick={() => setDialog('room')}
          >
            +
          </button>
        </div>
        <ul>
          {rooms.map(item)}
          {rooms.length === 0 && <li class="muted empty-line">None yet: create one or join one below.</li>}
        </ul>
      </section>
      <section aria-labelledby="directs-title">
        <div class="section-head">
          <h2 id="directs-title">Direct messages</h2>
          <button
            type="button"
            class="icon"
            aria-label="New message"
            title="New message"
            onClick={() => setDialog('message')}
          >
            +
          </button>
        </div>
        <ul>
          {directs.map(item)}
          {directs.length === 0 && <li class="muted empty-line">Message someone with +.</li>}
        </ul>
      </section>
      <section aria-labelledby="browse-title">
        <div class="section-head">
          <h2 id="browse-title">Public rooms to join</h2>
        </div>
        <ul>
          {others.map(item)}
          {others.length === 0 && <li class="muted empty-line">No other public rooms.</li>}
        </ul>
      </section>
      {dialog === 'room' && (
        <Dialog title="New room" onClose={() => setDialog(undefined)}>
          <CreateRoomForm
            store={store}
            onCreated={(room) => {
              // Closed first: a closing dialog gives focus back to its opener, and the room wants it next.
              setDialog(undefined);
              onOpen(room.id);
            }}
          />
        </Dialog>
      )}
      {dialog === 'announce' && (
        <Dialog title="Announcement to everyone" onClose={() => setDialog(undefined)}>
          <AnnounceForm store={store} state={state} onDone={() => setDialog(undefined)} />
        </Dialog>
      )}
      {dialog === 'message' && (
        <Dialog title="New message" onClose={() => setDialog(undefined)}>
          <UserSearch
            store={store}
            state={state}
            id="people-search"
            label="Find someone to message"
            actionLabel="Message"
            onAction={async (user) => {
              setDialog(undefined);
              await store.startDirect(user);
            }}
          />
        </Dialog>
      )}
    </nav>
  );
}

/** Room names: 1 to 64 characters (the server trims them). */
const ROOM_NAME_RULE = 'A name of 1 to 64 characters.';

/** Creating a room; a taken name or a validation message shows next to the name. */
function CreateRoomForm({ store, onCreated }: { store: ChatStore; onCreated: (room: Room) => void }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'public' | 'private'>('public');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const trimmed = name.trim();
    if (trimmed.length < 1 || trimmed.length > 64) return setError(ROOM_NAME_RULE);
    setBusy(true);
    setError(undefined);
    try {
      onCreated(await store.createRoom(trimmed, kind));
    } catch (caught) {
      if (!(caught instanceof ApiError)) setError('The room could not be created. Please try again.');
      else if (caught.code === 'ROOM_NAME_TAKEN') setError('A public room already has that name.');
      else if (caught.details.length > 0) setError(ROOM_NAME_RULE);
      else setError(caught.message);
      setBusy(false);
    }
  }

  return (
    <form class="create-room" onSubmit={submit} noValidate>
      <div class="field">
        <label for="room-name">Room name</label>
        <input
          id="room-name"
          autoFocus
          required
          autoComplete="off"
          value={name}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'room-name-error' : undefined}
          onInput={(event) => setName(event.currentTarget.value)}
        />
        {error && (
          <p id="room-name-error" class="field-error">
            {error}
          </p>
        )}
      </div>
      <fieldset class="kind">
        <legend>Who can join</legend>
        <label>
          <input type="radio" name="kind" checked={kind === 'public'} onChange={() => setKind('public')} />{' '}
          Anyone (public)
        </label>
        <label>
          <input type="radio" name="kind" checked={kind === 'private'} onChange={() => setKind('private')} />{' '}
          Invited people (private)
        </label>
      </fieldset>
      <button type="submit" disabled={busy}>
        Create room
      </button>
    </form>
  );
}

/** An admin's announcement: every connected page shows it at once, and the others at their next login. */
function AnnounceForm({ store, state, onDone }: { store: ChatStore; state: ChatState; onDone: () => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    if (!text.trim()) return setError('Write the announcement first.');
    setBusy(true);
    try {
      await store.announce(text);
      onDone();
    } catch (caught) {
      setError(`It could not be posted: ${caught instanceof Error ? caught.message : String(caught)}`);
      setBusy(false);
    }
  }

  return (
    <form class="announce" onSubmit={submit} noValidate>
      <div class="field">
        <label for="announcement-text">Announcement</label>
        <textarea
          id="announcement-text"
          autoFocus
          rows={3}
          maxLength={4000}
          value={text}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'announcement-error' : undefined}
          onInput={(event) => setText(event.currentTarget.value)}
        />
        {error && (
          <p id="announcement-error" class="field-error">
            {error}
          </p>
        )}
      </div>
      {state.announcements.length > 0 && (
        <section class="past-announcements" aria-labelledby="past-title">
          <h3 id="past-title">Recent</h3>
          <ul>
            {state.announcements.slice(0, 5).map((item) => (
              <li key={item.id}>
                <span class="muted">{formatTime(item.createdAt)}</span> {item.text}
              </li>
            ))}
          </ul>
        </section>
      )}
      <button type="submit" disabled={busy}>
        Post to everyone
      </button>
    </form>
  );
}
