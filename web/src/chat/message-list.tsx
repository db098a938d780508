import type { Message } from '@chat/protocol';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { formatTime } from '../format';
import type { ChatStore, PendingMessage, RoomHistory } from './chat-store';

interface MessageListProps {
  store: ChatStore;
  roomId: string;
  label: string;
  messages: readonly Message[];
  pending: readonly PendingMessage[];
  history: RoomHistory | undefined;
  myId: string;
}

/** Within this many pixels of an edge counts as being at it. */
const EDGE_PX = 48;

/**
 * A room's messages, oldest at the top. Scrolling to the top loads the page before; new messages keep the
 * view at the bottom if it was there, and a loaded older page does not move what the reader is looking at.
 */
export function MessageList({ store, roomId, label, messages, pending, history, myId }: MessageListProps) {
  const list = useRef<HTMLDivElement>(null);
  const before = useRef({ roomId: '', firstId: '', scrollHeight: 0 });

  useLayoutEffect(() => {
    const element = list.current;
    if (!element) return;
    const previous = before.current;
    const firstId = messages[0]?.id ?? '';
    const sameRoom = previous.roomId === roomId;
    // Where the reader is, measured now against the content as it was: a scroll event arrives a frame
    // after the scroll, so a render in between must not take the last event's position for the truth.
    const atBottom = !sameRoom || element.scrollTop + element.clientHeight >= previous.scrollHeight - EDGE_PX;
    if (sameRoom && previous.firstId && firstId !== previous.firstId && !atBottom) {
      element.scrollTop += element.scrollHeight - previous.scrollHeight;
    } else if (atBottom) {
      element.scrollTop = element.scrollHeight;
    }
    before.current = { roomId, firstId, scrollHeight: element.scrollHeight };
  }, [roomId, messages, pending]);

  // A scroll to the top that came while a page was loading was ignored: once loading ends, honour it.
  useLayoutEffect(() => {
    const element = list.current;
    if (!element || !history?.loaded || !history.hasMore || history.loading) return;
    if (element.scrollHeight > element.clientHeight && element.scrollTop < EDGE_PX)
      void store.loadOlder(roomId);
  }, [history]);

  function onScroll() {
    const element = list.current;
    if (element && element.scrollTop < EDGE_PX && history?.hasMore && !history.loading)
      void store.loadOlder(roomId);
  }

  return (
    <div class="messages" ref={list} onScroll={onScroll} role="log" aria-label={`Messages in ${label}`}>
      {history?.hasMore && (
        <button
          type="button"
          class="small load-older"
          disabled={history.loading}
          onClick={() => void store.loadOlder(roomId)}
        >
          {history.loading ? 'Loading…' : 'Load older messages'}
        </button>
      )}
      {history?.loaded && !history.hasMore && <p class="muted start">This is the start of {label}.</p>}
      <ol>
        {messages.map((message) => (
          <li key={message.id} class={message.sender.id === myId ? 'message mine' : 'message'}>
            <div class="meta">
              <span class="sender">{message.sender.username}</span>
              <time dateTime={message.createdAt}>{formatTime(message.createdAt)}</time>
            </div>
            <p class="text">{message.text}</p>
          </li>
        ))}
        {pending.map((item) => (
          <li key={item.clientMsgId} class="message mine pending">
            <div class="meta">
              <span class="sender">you</span>
              <span class={item.failed ? 'failed' : 'muted'}>
                {item.failed ? `Not sent: ${item.failed}` : 'sending…'}
              </span>
              {item.failed && (
                <>
                  <button type="button" class="link" onClick={() => store.retryPending(item.clientMsgId)}>
                    Retry
                  </button>
                  <button type="button" class="link" onClick={() => store.discardPending(item.clientMsgId)}>
                    Discard
                  </button>
                </>
              )}
            </div>
            <p class="text">{item.text}</p>
          </li>
        ))}
      </ol>
    </div>
  );
}
