import type { ChatState } from './chat-store';

/** online, offline, or undefined: nothing is known (no shared room), and nothing is shown. */
export type Presence = 'online' | 'offline' | undefined;

export function presenceOf(state: ChatState, userId: string): Presence {
  if (state.online.has(userId)) return 'online';
  return state.presenceKnown.has(userId) ? 'offline' : undefined;
}

/** A presence dot, for the eye only: where it matters, the caller says it in words next to the name. */
export function OnlineDot({ presence }: { presence: Presence }) {
  if (!presence) return null;
  return <span class={`dot ${presence}`} title={presence} aria-hidden="true" />;
}

/** The words for a screen reader that go with a dot. */
export function presenceText(presence: Presence): string {
  return presence ? `, ${presence}` : '';
}
