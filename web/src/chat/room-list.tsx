import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { directPeer, roomLabel, type ChatState, type ChatStore } from './chat-store';
import { OnlineDot, presenceText } from './online-dot';

/** The user's rooms and the public ones; joined rooms first. */
export function RoomList({ store, state }: { store: ChatStore; state: ChatState }) {
  const joined = state.rooms.filter((room) => state.memberOf.has(room.id));
  const others = state.rooms.filter((room) => !state.memberOf.has(room.id));
  const item = (room: ChatState['rooms'][number]) => {
    const peer = directPeer(state, room);
    const unread = state.unread[room.id];
    return (
      <li key={room.id}>
        <button
          type="button"
          class="room"
          aria-current={room.id === state.activeRoomId ? 'true' : undefined}
          onClick={() => void store.openRoom(room.id)}
        >
          {peer ? (
            <OnlineDot online={state.online.has(peer)} />
          ) : (
            <span class="room-mark" aria-hidden="true">
              #
            </span>
          )}
          <span class="room-name">{roomLabel(state, room)}</span>
          {room.kind === 'private' ? (
            <span class="badge">private</span>
          ) : (
            <span class="visually-hidden">
              , {room.kind === 'public' ? 'public' : 'direct message'}
              {peer ? presenceText(state.online.has(peer)) : ''}
            </span>
          )}
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
    <nav class="rooms" aria-label="Rooms">
      <h2>Your rooms</h2>
      <ul>
        {joined.map(item)}
        {joined.length === 0 && <li class="muted">None yet: create one or join a public room.</li>}
      </ul>
      <div class="list-heading">
        <h2>Public rooms</h2>
        <button type="button" class="small" onClick={() => void store.loadRooms()}>
          Refresh rooms
        </button>
      </div>
      <ul>
        {others.map(item)}
        {others.length === 0 && <li class="muted">No other public rooms.</li>}
      </ul>
    </nav>
  );
}

/** Creating a room; a taken name or a validation message shows next to the name. */
export function CreateRoomForm({ store }: { store: ChatStore }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'public' | 'private'>('public');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await store.createRoom(name.trim(), kind);
      setName('');
    } catch (caught) {
      if (caught instanceof ApiError)
        setError(
          caught.details.length > 0
            ? caught.details.map((detail) => detail.message).join(' ')
            : caught.message,
        );
      else setError('The room could not be created.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="create-room" onSubmit={submit} noValidate>
      <h2>New room</h2>
      <div class="field">
        <label for="room-name">Room name</label>
        <input
          id="room-name"
          required
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
