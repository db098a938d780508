import { useEffect, useRef, useState } from 'preact/hooks';
import { ChatStore } from '../chat/chat-store';
import { RoomView } from '../chat/room-view';
import { Sidebar } from '../chat/sidebar';
import { useChatState } from '../chat/use-store';
import { navigate } from '../router';
import type { Session } from '../session';
import { ProfilePage } from './profile-page';

/**
 * The chat: the conversation list on the side, the open room (or the user's profile) beside it; one of the
 * two at a time on a phone. The URL names the open room (`roomId`), so a reload or the back button keeps the
 * user where they were.
 */
export function ChatPage({
  session,
  roomId,
  profile,
}: {
  session: Session;
  roomId: string | undefined;
  profile: boolean;
}) {
  const [store] = useState(() => new ChatStore(session));
  const state = useChatState(store);

  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);

  // The URL leads: a room named in it (a reload, a link, back and forward) is the one shown.
  useEffect(() => {
    if (roomId !== store.state.activeRoomId) void store.openRoom(roomId);
  }, [store, roomId]);

  // The store may open a room itself (one joined or messaged) or close it (left): the URL follows that change.
  const shown = useRef(state.activeRoomId);
  useEffect(() => {
    if (shown.current === state.activeRoomId) return;
    shown.current = state.activeRoomId;
    if (state.activeRoomId !== roomId) navigate({ page: 'chat', roomId: state.activeRoomId });
  }, [state.activeRoomId]);

  // The tab's title counts what the user has not read, so it shows among other tabs.
  const unread = [...state.memberOf].reduce((sum, id) => sum + (state.unread[id] ?? 0), 0);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Chat` : 'Chat';
  }, [unread]);
  useEffect(() => () => void (document.title = 'Chat'), []);

  const announcement = state.announcements.find((item) => !state.dismissed.has(item.id));
  const open = (id: string | undefined) => navigate({ page: 'chat', roomId: id });
  const skip = (event: Event) => {
    event.preventDefault();
    (document.getElementById('composer') ?? document.getElementById('main'))?.focus();
  };
  return (
    <div class="chat" data-pane={state.activeRoomId || profile ? 'room' : 'list'}>
      <a class="skip-link" href="#main" onClick={skip}>
        Skip to the conversation
      </a>
      <div class="banners">
        {announcement && (
          <section class="banner announcement" aria-label="Announcement">
            <span>
              <strong>Announcement from {announcement.sender.username}:</strong> {announcement.text}
            </span>{' '}
            <button type="button" class="small" onClick={() => store.dismissAnnouncement(announcement.id)}>
              Dismiss
            </button>
          </section>
        )}
        {state.connection === 'reconnecting' && (
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
      </div>
      <Sidebar store={store} state={state} onOpen={open} />
      <main class="main" id="main" tabIndex={-1}>
        {profile ? (
          <ProfilePage store={store} state={state} onBack={() => open(undefined)} />
        ) : state.activeRoomId ? (
          <RoomView key={state.activeRoomId} store={store} state={state} onBack={() => open(undefined)} />
        ) : (
          <p class="empty muted">Pick a conversation, or start one with +.</p>
        )}
      </main>
    </div>
  );
}
