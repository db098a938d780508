import type { Message } from '@chat/protocol';

/** Someone joined or left a room, as the timeline shows it: after the last message the room had then. */
export interface MemberNotice {
  id: string;
  kind: 'joined' | 'left';
  username: string;
  at: string;
  /** The seq of the room's newest message when it happened (0 before any). */
  afterSeq: number;
}

export type TimelineItem =
  | { kind: 'day'; key: string; label: string }
  | { kind: 'message'; key: string; message: Message; continued: boolean }
  | { kind: 'notice'; key: string; notice: MemberNotice }
  | { kind: 'new'; key: string };

/** Messages from one sender this close together share one header (avatar, name, time). */
const GROUP_WITHIN_MS = 5 * 60_000;

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const dayWithYearFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'long',
  month: 'long',
  day: 'numeric',
  year: 'numeric',
});

/** "Today", "Yesterday", "Monday, March 2" (with the year when it is not this one). */
export function dayLabel(date: Date, now = new Date()): string {
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (date.toDateString() === now.toDateString()) return 'Today';
  if (date.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return (date.getFullYear() === now.getFullYear() ? dayFormat : dayWithYearFormat).format(date);
}

/**
 * A room's timeline: its messages in seq order with member notices between them, a separator where the
 * (local) day changes, a "new messages" line before the first message from someone else after `newAfter`
 * (the read position when the room was opened), and each message marked `continued` when it follows one
 * from the same sender within a few minutes on the same day with nothing in between.
 */
export function buildTimeline(
  messages: readonly Message[],
  notices: readonly MemberNotice[],
  now = new Date(),
  newAfter?: { seq: number; me: string },
): TimelineItem[] {
  let newLine = newAfter !== undefined;
  const items: TimelineItem[] = [];
  let day = '';
  let previous: Message | undefined;
  const dayOf = (iso: string) => {
    const date = new Date(iso);
    const key = date.toDateString();
    if (key === day) return false;
    day = key;
    items.push({ kind: 'day', key: `day-${key}`, label: dayLabel(date, now) });
    return true;
  };
  const pending = [...notices].sort((a, b) => a.afterSeq - b.afterSeq);
  const flushNotices = (upToSeq: number) => {
    while (pending.length > 0 && pending[0]!.afterSeq <= upToSeq) {
      const notice = pending.shift()!;
      dayOf(notice.at);
      items.push({ kind: 'notice', key: notice.id, notice });
      previous = undefined;
    }
  };
  for (const message of messages) {
    flushNotices(message.seq - 1);
    const newDay = dayOf(message.createdAt);
    if (newLine && newAfter && message.seq > newAfter.seq && message.sender.id !== newAfter.me) {
      items.push({ kind: 'new', key: 'new-messages' });
      newLine = false;
      previous = undefined;
    }
    const continued =
      !newDay &&
      previous !== undefined &&
      previous.sender.id === message.sender.id &&
      Date.parse(message.createdAt) - Date.parse(previous.createdAt) < GROUP_WITHIN_MS;
    items.push({ kind: 'message', key: message.id, message, continued });
    previous = message;
  }
  flushNotices(Number.POSITIVE_INFINITY);
  return items;
}

/** A piece of message text: plain, or a web address shown as a link. */
export type TextPart = { text: string; href?: string };

/** http(s) addresses only: any other scheme (javascript:, data:) stays plain text. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
/** Punctuation that usually ends the sentence around an address rather than the address itself. */
const TRAILING = /[.,;:!?)\]'}]+$/;

export function linkify(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = match[0].replace(TRAILING, '');
    const start = match.index;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: url, href: url });
    last = start + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** A piece of plain text: as it is, or an `@username` naming someone (`me` when it names the reader). */
export type MentionPart = { text: string; mention?: 'me' | 'other' };

const MENTION_PATTERN = /(^|[^\w@.])@([a-z0-9._-]{3,32})/gi;

/**
 * Splits text around `@username` mentions of `usernames` (lower case), so they can be highlighted; an
 * `@word` naming nobody in the room stays plain.
 */
export function splitMentions(text: string, usernames: ReadonlySet<string>, me: string): MentionPart[] {
  const parts: MentionPart[] = [];
  let last = 0;
  for (const match of text.matchAll(MENTION_PATTERN)) {
    const name = match[2]!.replace(/[._-]+$/, '').toLowerCase();
    if (!usernames.has(name)) continue;
    const start = match.index + match[1]!.length;
    const end = start + 1 + name.length;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: text.slice(start, end), mention: name === me.toLowerCase() ? 'me' : 'other' });
    last = end;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}
