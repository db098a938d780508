import { useEffect, useState } from 'preact/hooks';

/**
 * The pages, addressed by the URL hash so the gateway serves one index.html for all of them. The chat page
 * names its open room (`#/chat/<roomId>`), so a reload, a bookmark or the back button returns to it; the
 * user's own profile (`#/profile`) shows beside the conversation list.
 */
export type Route =
  { page: 'login' } | { page: 'signup' } | { page: 'profile' } | { page: 'chat'; roomId?: string };

export function parseRoute(hash: string): Route | undefined {
  const [page, roomId] = hash.replace(/^#\/?/, '').split('/');
  if (page === 'login' || page === 'signup' || page === 'profile') return { page };
  if (page !== 'chat') return undefined;
  return roomId ? { page, roomId: decodeURIComponent(roomId) } : { page };
}

function hashOf(route: Route): string {
  return route.page === 'chat' && route.roomId
    ? `#/chat/${encodeURIComponent(route.roomId)}`
    : `#/${route.page}`;
}

/** Goes to `route`; `replace` leaves no history entry (a redirect rather than a step the user took). */
export function navigate(route: Route, { replace = false } = {}): void {
  const hash = hashOf(route);
  if (location.hash === hash) return;
  if (replace) history.replaceState(null, '', hash);
  else history.pushState(null, '', hash);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

/** The current route, or undefined for an empty or unknown hash. */
export function useRoute(): Route | undefined {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
