import type { Message, UserPublic } from '@chat/protocol';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Avatar } from '../components/avatar';
import { Dialog } from '../components/dialog';
import { formatShortTime, formatTime } from '../format';
import { Attachments } from './attachments';
import type { ChatState, ChatStore, PendingMessage, RoomHistory } from './chat-store';
import { buildTimeline, linkify, splitMentions, type MemberNotice } from './timeline';

interface MessageListProps {
  store: ChatStore;
  state: ChatState;
  /** Whether the user may delete others' messages here (room owner or moderator, or admin). */
  moderates: boolean;
  onReply: (message: Message) => void;
  onProfile: (user: { id: string; username: string }) => void;
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

/** The quick reactions offered first; the picker offers the rest. */
const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '👀', '🙏'];
const MORE_EMOJI = [
  ...QUICK_EMOJI,
  ...'😀 😅 😊 😍 🤔 😮 😢 😡 👏 🙌 💯 🔥 ✅ ❌ 🚀 ⭐ 💡 📌 👋 🤝 😎 🥳 🤯 🙈 ☕ 🍕 🐛 ⚠️'.split(' '),
];

/**
 * Message text as text: web addresses as links that open apart from this page, `@username` of the room's
 * members highlighted (the reader's own more strongly).
 */
function MessageText({
  text,
  names,
  me,
  editedAt,
}: {
  text: string;
  names?: ReadonlySet<string>;
  me?: string;
  editedAt?: string;
}) {
  return (
    <p class="text-line">
      <span class="text">
        {linkify(text).map((part, index) =>
          part.href ? (
            <a key={index} href={part.href} target="_blank" rel="noopener noreferrer">
              {part.text}
            </a>
          ) : names && me ? (
            splitMentions(part.text, names, me).map((piece, inner) =>
              piece.mention ? (
                <span key={`${index}-${inner}`} class={`mention${piece.mention === 'me' ? ' me' : ''}`}>
                  {piece.text}
                </span>
              ) : (
                piece.text
              ),
            )
          ) : (
            part.text
          ),
        )}
      </span>
      {editedAt && (
        <span class="edited muted" title={`Edited ${formatTime(editedAt)}`}>
          {' '}
          (edited)
        </span>
      )}
    </p>
  );
}

/** A bin, drawn: the emoji one is missing from some systems' fonts. */
function BinIcon() {
  return (
    <svg width="15" height="15" viewBox="0 0 16 16" aria-hidden="true" fill="none" stroke="currentColor">
      <path d="M2.5 4h11M6 4V2.5h4V4M4 4l.7 9.5h6.6L12 4M6.8 6.5v5M9.2 6.5v5" stroke-width="1.4" />
    </svg>
  );
}

/** Brings the message with `id` into view and marks it for a moment, if it is loaded. */
function jumpTo(id: string): void {
  const element = document.getElementById(`message-${id}`);
  if (!element) return;
  element.scrollIntoView({ block: 'center' });
  element.focus({ preventScroll: true });
  element.classList.add('flash');
  setTimeout(() => element.classList.remove('flash'), 1_500);
}

/** Who reacted, in words, for the reaction's tooltip. */
function reactedBy(state: ChatState, roomId: string, userIds: readonly string[]): string {
  const members = state.members[roomId];
  return userIds
    .map((id) =>
      id === state.me.id
        ? 'you'
        : (state.users[id]?.username ??
          members?.find((member) => member.user.id === id)?.user.username ??
          'someone'),
    )
    .join(', ');
}

/**
 * One message: its header (unless it continues a run), the message it answers, its text (or that it was
 * deleted), its reactions, and the actions on it, shown on hover, on focus, or on a long press.
 */
function MessageItem({
  store,
  state,
  message,
  continued,
  moderates,
  names,
  onReply,
  onProfile,
}: {
  store: ChatStore;
  state: ChatState;
  message: Message;
  continued: boolean;
  moderates: boolean;
  names: ReadonlySet<string>;
  onReply: (message: Message) => void;
  onProfile: (user: { id: string; username: string }) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [picking, setPicking] = useState<'quick' | 'all' | undefined>();
  const [pressed, setPressed] = useState(false);
  const me = state.me;
  const mine = message.sender.id === me.id;
  const deleted = message.deletedAt !== undefined;
  const classes = ['message'];
  if (continued) classes.push('continued');
  if (mine) classes.push('mine');
  if (deleted) classes.push('deleted');
  if (message.mentions.includes(me.id)) classes.push('mentions-me');
  if (pressed) classes.push('pressed');
  const sender = (
    <button type="button" class="sender link-like" onClick={() => onProfile(message.sender)}>
      {message.sender.username}
    </button>
  );
  return (
    <li
      id={`message-${message.id}`}
      tabIndex={-1}
      class={classes.join(' ')}
      onContextMenu={(event) => {
        // A long press on a touch screen: the actions, rather than the browser's menu.
        if (matchMedia('(pointer: coarse)').matches && !deleted) {
          event.preventDefault();
          setPressed(!pressed);
        }
      }}
    >
      {continued ? (
        <time class="gutter" dateTime={message.createdAt} title={formatTime(message.createdAt)}>
          {formatShortTime(message.createdAt)}
        </time>
      ) : (
        <button
          type="button"
          class="avatar-button"
          aria-label={`${message.sender.username}’s profile`}
          onClick={() => onProfile(message.sender)}
        >
          <Avatar user={state.users[message.sender.id] ?? message.sender} />
        </button>
      )}
      <div class="body">
        {continued ? (
          <span class="sender visually-hidden">{message.sender.username}</span>
        ) : (
          <div class="meta">
            {sender}
            <time dateTime={message.createdAt}>{formatTime(message.createdAt)}</time>
          </div>
        )}
        {message.replyTo && (
          <button
            type="button"
            class="reply-preview"
            onClick={() => jumpTo(message.replyTo!.id)}
            aria-label={`In reply to ${message.replyTo.sender.username}: ${message.replyTo.text}. Show it`}
          >
            <span class="reply-sender">↪ {message.replyTo.sender.username}</span>{' '}
            <span class="reply-text">{message.replyTo.text}</span>
          </button>
        )}
        {deleted ? (
          <p class="text tombstone">This message was deleted.</p>
        ) : editing ? (
          <EditForm
            text={message.text}
            onSave={(text) => {
              setEditing(false);
              if (text.trim() && text.trim() !== message.text) void store.edit(message, text);
            }}
            onCancel={() => setEditing(false)}
          />
        ) : (
          (message.text || message.attachments.length === 0) && (
            <MessageText text={message.text} names={names} me={me.username} editedAt={message.editedAt} />
          )
        )}
        {!deleted && message.attachments.length > 0 && <Attachments attachments={message.attachments} />}
        {message.reactions.length > 0 && (
          <ul class="reactions" aria-label="Reactions">
            {message.reactions.map((reaction) => {
              const reacted = reaction.userIds.includes(me.id);
              const who = reactedBy(state, message.roomId, reaction.userIds);
              return (
                <li key={reaction.emoji}>
                  <button
                    type="button"
                    class={`reaction${reacted ? ' own' : ''}`}
                    aria-pressed={reacted}
                    title={`${who} reacted with ${reaction.emoji}`}
                    aria-label={`${reaction.emoji} ${reaction.count}, from ${who}`}
                    onClick={() => void store.toggleReaction(message, reaction.emoji)}
                  >
                    <span aria-hidden="true">{reaction.emoji}</span>{' '}
                    <span class="count">{reaction.count}</span>
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </div>
      {!deleted && !editing && (
        <div class="actions" role="toolbar" aria-label={`Actions on ${message.sender.username}’s message`}>
          <button
            type="button"
            class="icon"
            aria-label="React"
            title="React"
            aria-expanded={picking !== undefined}
            onClick={() => setPicking(picking ? undefined : 'quick')}
          >
            ☺
          </button>
          <button
            type="button"
            class="icon"
            aria-label="Reply"
            title="Reply"
            onClick={() => onReply(message)}
          >
            ↩
          </button>
          {mine && (
            <button
              type="button"
              class="icon"
              aria-label="Edit"
              title="Edit"
              onClick={() => setEditing(true)}
            >
              ✎
            </button>
          )}
          {(mine || moderates) && (
            <button
              type="button"
              class="icon"
              aria-label="Delete"
              title="Delete"
              onClick={() => setConfirming(true)}
            >
              <BinIcon />
            </button>
          )}
          {picking && (
            <div class="emoji-picker" role="group" aria-label="Pick a reaction">
              {(picking === 'quick' ? QUICK_EMOJI : MORE_EMOJI).map((emoji) => (
                <button
                  key={emoji}
                  type="button"
                  class="emoji"
                  aria-label={`React with ${emoji}`}
                  onClick={() => {
                    setPicking(undefined);
                    setPressed(false);
                    void store.toggleReaction(message, emoji);
                  }}
                >
                  {emoji}
                </button>
              ))}
              {picking === 'quick' && (
                <button
                  type="button"
                  class="emoji more"
                  aria-label="More reactions"
                  onClick={() => setPicking('all')}
                >
                  …
                </button>
              )}
            </div>
          )}
        </div>
      )}
      {confirming && (
        <Dialog title="Delete this message?" onClose={() => setConfirming(false)}>
          <p class="muted">Everyone in the room will see that a message was deleted, but not what it said.</p>
          <div class="dialog-actions">
            <button type="button" class="ghost" onClick={() => setConfirming(false)}>
              Cancel
            </button>
            <button
              type="button"
              class="danger"
              onClick={() => {
                setConfirming(false);
                void store.deleteMessage(message);
              }}
            >
              Delete
            </button>
          </div>
        </Dialog>
      )}
    </li>
  );
}

/** Editing a message in place: Enter saves, Shift+Enter is a new line, Escape cancels. */
function EditForm({
  text,
  onSave,
  onCancel,
}: {
  text: string;
  onSave: (text: string) => void;
  onCancel: () => void;
}) {
  const [value, setValue] = useState(text);
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    box.current?.focus();
  }, []);
  return (
    <form
      class="edit-form"
      onSubmit={(event) => {
        event.preventDefault();
        onSave(value);
      }}
    >
      <label class="visually-hidden" for="edit-message">
        Edit message
      </label>
      <textarea
        id="edit-message"
        ref={box}
        rows={2}
        maxLength={4000}
        value={value}
        onInput={(event) => setValue(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.preventDefault();
            onCancel();
          } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            onSave(value);
          }
        }}
      />
      <div class="edit-actions">
        <button type="button" class="small ghost" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="small">
          Save
        </button>
      </div>
    </form>
  );
}

/**
 * A room's timeline, oldest at the top: messages (one header per run from the same sender), who joined or
 * left, and a line per day. Scrolling to the top loads the page before; new messages keep the view at the
 * bottom if it was there, and a loaded older page does not move what the reader is looking at.
 */
export function MessageList({
  store,
  state,
  moderates,
  onReply,
  onProfile,
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
  const newAfter = state.newAfter[roomId];
  const timeline = useMemo(
    () =>
      buildTimeline(
        messages,
        notices,
        new Date(),
        newAfter === undefined ? undefined : { seq: newAfter, me: me.id },
      ),
    [messages, notices, newAfter],
  );
  const members = state.members[roomId];
  const names = useMemo(
    () =>
      new Set(
        [me.username, ...(members ?? []).map((member) => member.user.username)].map((name) =>
          name.toLowerCase(),
        ),
      ),
    [members, me.username],
  );

  /** Read when the reader is at the bottom of the open room and the page is in view. */
  function markIfSeen() {
    const element = list.current;
    if (!element || document.visibilityState !== 'visible') return;
    if (element.scrollTop + element.clientHeight >= element.scrollHeight - EDGE_PX) store.markRead(roomId);
  }
  useEffect(() => {
    document.addEventListener('visibilitychange', markIfSeen);
    return () => document.removeEventListener('visibilitychange', markIfSeen);
  }, [roomId]);

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
    markIfSeen();
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
    markIfSeen();
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
          if (item.kind === 'new')
            return (
              <li key={item.key} class="new-line">
                <span>New messages</span>
              </li>
            );
          return (
            <MessageItem
              key={item.key}
              store={store}
              state={state}
              message={item.message}
              continued={item.continued}
              moderates={moderates}
              names={names}
              onReply={onReply}
              onProfile={onProfile}
            />
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
              {item.text && <MessageText text={item.text} />}
              {item.attachments && <Attachments attachments={item.attachments} />}
            </div>
          </li>
        ))}
      </ol>
    </div>
  );
}
