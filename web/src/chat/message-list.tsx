import type { Message, UserPublic } from '@chat/protocol';
import { useLayoutEffect, useMemo, useRef } from 'preact/hooks';
import { Avatar } from '../components/avatar';
import { formatShortTime, formatTime } from '../format';
import type { ChatStore, PendingMessage, RoomHistory } from './chat-store';
import { buildTimeline, linkify, type MemberNotice } from './timeline';

interface MessageListProps {
  store: ChatStore;
  roomId: string;
  label: string;
  messages: readonly Message[];
  notices: readonly MemberNotice[];
  pending: readonly PendingMessage[];
  history: RoomHistory | undefined;
  me: UserPublic;
}

/** Within this many pixels of an edge counts as being at it. */
const EDGE_PX = 48;

/** Message text as text, with web addresses as links that open apart from this page. */
function MessageText({ text }: { text: string }) {
  return (
    <p class="text">
      {linkify(text).map((part, index) =>
        part.href ? (
          <a key={index} href={part.href} target="_blank" rel="noopener noreferrer">
            {part.text}
          </a>
        ) : (
          part.text
        ),
      )}
    </p>
  );
}

/**
 * A room's timeline, oldest at the top: messages (one header per run from the same sender), who joined or
 * left, and a line per day. Scrolling to the top loads the page before; new messages keep the view at the
 * bottom if it was there, and a loaded older page does not move what the reader is looking at.
 */
export function MessageList({
  store,
  roomId,
  label,
  messages,
  notices,
  pending,
  history,
  me,
}: MessageListProps) {
  const list = useRef<HTMLDivElement>(null);
  const before = useRef({ roomId: '', firstId: '', scrollHeight: 0 });
  const timeline = useMemo(() => buildTimeline(messages, notices), [messages, notices]);

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
  }, [roomId, timeline, pending]);

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
    <div
      class="messages"
      id="messages"
      tabIndex={-1}
      ref={list}
      onScroll={onScroll}
      role="log"
      aria-label={`Messages in ${label}`}
    >
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
        {timeline.map((item) => {
          if (item.kind === 'day')
            return (
              <li key={item.key} class="day">
                <h3>{item.label}</h3>
              </li>
            );
          if (item.kind === 'notice')
            return (
              <li key={item.key} class="member-notice">
                {item.notice.username} {item.notice.kind}
              </li>
            );
          const { message, continued } = item;
          return (
            <li
              key={item.key}
              class={`message${continued ? ' continued' : ''}${message.sender.id === me.id ? ' mine' : ''}`}
            >
              {continued ? (
                <time class="gutter" dateTime={message.createdAt} title={formatTime(message.createdAt)}>
                  {formatShortTime(message.createdAt)}
                </time>
              ) : (
                <Avatar user={message.sender} />
              )}
              <div class="body">
                {continued ? (
                  <span class="sender visually-hidden">{message.sender.username}</span>
                ) : (
                  <div class="meta">
                    <span class="sender">{message.sender.username}</span>
                    <time dateTime={message.createdAt}>{formatTime(message.createdAt)}</time>
                  </div>
                )}
                <MessageText text={message.text} />
              </div>
            </li>
          );
        })}
        {pending.map((item) => (
          <li key={item.clientMsgId} class="message mine pending">
            <Avatar user={me} />
            <div class="body">
              <div class="meta">
                <span class="sender">{me.username}</span>
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
              <MessageText text={item.text} />
            </div>
          </li>
        ))}
      </ol>
    </div>
  );
}
