import { useState } from 'preact/hooks';
import { typingText } from '../format';
import { directPeer, roomLabel, type ChatState, type ChatStore } from './chat-store';
import { MessageList } from './message-list';
import { OnlineDot, presenceText } from './online-dot';
import { UserSearch } from './user-search';

const MAX_LENGTH = 4000;

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
  if (!room) return null;
  const label = roomLabel(state, room);
  const member = state.memberOf.has(room.id);
  const peer = directPeer(state, room);
  const typing = typingText(Object.values(state.typing[room.id] ?? {}));
  const pending = state.pending.filter((item) => item.roomId === room.id);

  function send() {
    if (!draft.trim()) return;
    store.send(draft);
    setDraft('');
  }

  return (
    <section class="room-view" aria-labelledby="room-title">
      <header class="room-header">
        <button type="button" class="back small" onClick={onBack}>
          ← Rooms
        </button>
        <h2 id="room-title">
          {peer ? <OnlineDot online={state.online.has(peer)} /> : null}
          {label}
        </h2>
        {peer && <span class="visually-hidden">{presenceText(state.online.has(peer))}</span>}
        <span class="muted room-meta">
          {room.kind === 'direct'
            ? 'direct message'
            : `${room.kind} · ${room.memberCount} ${room.memberCount === 1 ? 'member' : 'members'}`}
        </span>
        {member && room.kind !== 'direct' && (
          <button type="button" class="small" aria-expanded={inviting} onClick={() => setInviting(!inviting)}>
            {inviting ? 'Done inviting' : 'Invite people'}
          </button>
        )}
      </header>
      {inviting && member && (
        <div class="invite-panel">
          <UserSearch
            store={store}
            online={state.online}
            id="invite-search"
            label={`Invite someone to ${label}`}
            actionLabel="Invite"
            onAction={(user) => store.invite(user)}
          />
        </div>
      )}
      {member ? (
        <>
          <MessageList
            store={store}
            roomId={room.id}
            label={label}
            messages={state.messages[room.id] ?? []}
            pending={pending}
            history={state.history[room.id]}
            myId={state.me.id}
          />
          <p class="typing" aria-live="polite">
            {typing}
          </p>
          <form
            class="composer"
            onSubmit={(event) => {
              event.preventDefault();
              send();
            }}
          >
            <label for="composer" class="visually-hidden">
              Message {label}
            </label>
            <textarea
              id="composer"
              autoFocus
              rows={1}
              maxLength={MAX_LENGTH}
              placeholder={`Message ${label}`}
              value={draft}
              onInput={(event) => {
                setDraft(event.currentTarget.value);
                if (event.currentTarget.value.trim()) store.typed();
              }}
              onKeyDown={(event) => {
                // Enter sends; Shift+Enter is a new line; Enter that confirms an IME composition is neither.
                if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
                  event.preventDefault();
                  send();
                }
              }}
            />
            <button type="submit">Send</button>
          </form>
        </>
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
