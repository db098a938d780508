import type { PendingMessage } from './chat-store';

/**
 * What a reload of this tab must not forget, kept in `sessionStorage` per user (another account logging in
 * to the tab never sees it): the messages typed and not yet stored, which the next page sends again under
 * the same `clientMsgId` (the server stores each once), and the rooms the user belongs to, so the open
 * room shows its history and unsent messages before the socket's `hello` says so again.
 */
const outboxKey = (userId: string) => `chat.outbox.${userId}`;
const roomsKey = (userId: string) => `chat.rooms.${userId}`;
/** Announcements the user dismissed: in `localStorage`, as a dismissed banner stays dismissed in every tab. */
const dismissedKey = (userId: string) => `chat.dismissed.${userId}`;

function read(key: string): unknown[] {
  try {
    const stored: unknown = JSON.parse(sessionStorage.getItem(key) ?? '[]');
    return Array.isArray(stored) ? stored : [];
  } catch {
    return [];
  }
}

function write(key: string, items: readonly unknown[]): void {
  if (items.length === 0) sessionStorage.removeItem(key);
  else sessionStorage.setItem(key, JSON.stringify(items));
}

function isPending(value: unknown): value is PendingMessage {
  const item = value as Partial<PendingMessage> | null;
  return (
    typeof item?.clientMsgId === 'string' &&
    typeof item.roomId === 'string' &&
    typeof item.text === 'string' &&
    (item.failed === undefined || typeof item.failed === 'string')
  );
}

export const loadOutbox = (userId: string): PendingMessage[] => read(outboxKey(userId)).filter(isPending);

export const saveOutbox = (userId: string, pending: readonly PendingMessage[]): void =>
  write(outboxKey(userId), pending);

export const loadMemberships = (userId: string): Set<string> =>
  new Set(read(roomsKey(userId)).filter((id): id is string => typeof id === 'string'));

export const saveMemberships = (userId: string, roomIds: ReadonlySet<string>): void =>
  write(roomsKey(userId), [...roomIds]);

export function loadDismissed(userId: string): ReadonlySet<string> {
  try {
    const stored: unknown = JSON.parse(localStorage.getItem(dismissedKey(userId)) ?? '[]');
    return new Set(Array.isArray(stored) ? stored.filter((id): id is string => typeof id === 'string') : []);
  } catch {
    return new Set();
  }
}

export function saveDismissed(userId: string, ids: ReadonlySet<string>): void {
  localStorage.setItem(dismissedKey(userId), JSON.stringify([...ids]));
}
