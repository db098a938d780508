import { useEffect, useRef, useState } from 'preact/hooks';
import { RoomMark } from '../components/avatar';
import { Dialog } from '../components/dialog';
import { typingText } from '../format';
import { directPeer, roomLabel, type ChatState, type ChatStore } from './chat-store';
import { MessageList } from './message-list';
import { OnlineDot, presenceOf, presenceText } from './online-dot';
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
  const composer = useRef<HTMLTextAreaElement>(null);
  const member = room ? state.memberOf.has(room.id) : false;

  // Choosing a room means writing in it next; a touch screen would cover it with its keyboard, so not there.
  useEffect(() => {
    if (member && !matchMedia('(pointer: coarse)').matches) composer.current?.focus();
  }, [room?.id, member]);

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

  function send() {
    if (!draft.trim()) return;
    store.send(draft);
    setDraft('');
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
        {peer && <span class="visually-hidden">{presenceText(presence)}</span>}
        <span class="muted room-meta">
          {room.kind === 'direct'
            ? 'direct message'
            : `${room.kind} · ${room.memberCount} ${room.memberCount === 1 ? 'member' : 'members'}`}
        </span>
        {member && room.kind !== 'direct' && (
          <div class="room-actions">
            <button type="button" class="ghost" onClick={() => setInviting(true)}>
              Invite people
            </button>
            <button type="button" class="ghost" onClick={() => void store.leaveRoom(room.id)}>
              Leave room
            </button>
          </div>
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
          />
          <div class="dialog-actions">
            <button type="button" onClick={() => setInviting(false)}>
              Done
            </button>
          </div>
        </Dialog>
      )}
      {member ? (
        <>
          <MessageList
            store={store}
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
              ref={composer}
              rows={1}
              maxLength={MAX_LENGTH}
              placeholder={`Message ${room.kind === 'direct' ? label : `#${label}`}`}
              value={draft}
              aria-describedby="composer-hint"
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
            <button type="submit" class="send">
              Send
            </button>
            <span id="composer-hint" class="visually-hidden">
              Enter sends, Shift+Enter starts a new line.
            </span>
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
