import { useEffect, useState } from 'preact/hooks';
import { ChatStore } from '../chat/chat-store';
import { RoomView } from '../chat/room-view';
import { CreateRoomForm, RoomList } from '../chat/room-list';
import { useChatState } from '../chat/use-store';
import { UserSearch } from '../chat/user-search';
import type { Session } from '../session';

/** The chat: rooms and people on the side, the open room in the middle; one pane at a time on a phone. */
export function ChatPage({ session }: { session: Session }) {
  const [store] = useState(() => new ChatStore(session));
  const state = useChatState(store);

  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);

  const reconnecting = state.connection === 'reconnecting';
  return (
    <div class="chat" data-pane={state.activeRoomId ? 'room' : 'list'}>
      <header class="top">
        <h1>Chat</h1>
        <span class="me">
          Signed in as <strong>{state.me.username}</strong>
        </span>
        <button type="button" class="small" onClick={() => void store.logout()}>
          Log out
        </button>
      </header>
      {reconnecting && (
        <p class="banner" role="status">
          Connection lost. Reconnecting…
        </p>
      )}
      {state.disconnected && (
        <p class="banner error" role="alert">
          {state.disconnected}{' '}
          <button type="button" class="small" onClick={() => store.reconnect()}>
            Reconnect
          </button>
        </p>
      )}
      {state.alert && (
        <p class="banner error" role="alert">
          {state.alert}{' '}
          <button type="button" class="small" onClick={() => store.dismissAlert()}>
            Dismiss
          </button>
        </p>
      )}
      <aside class="side">
        <RoomList store={store} state={state} />
        <CreateRoomForm store={store} />
        <section class="people" aria-labelledby="people-title">
          <h2 id="people-title">People</h2>
          <UserSearch
            store={store}
            online={state.online}
            id="people-search"
            label="Find someone to message"
            actionLabel="Message"
            onAction={(user) => store.startDirect(user)}
          />
        </section>
      </aside>
      <main class="main">
        {state.activeRoomId ? (
          <RoomView
            key={state.activeRoomId}
            store={store}
            state={state}
            onBack={() => void store.openRoom(undefined)}
          />
        ) : (
          <p class="empty muted">Pick a room, create one, or message someone.</p>
        )}
      </main>
    </div>
  );
}
