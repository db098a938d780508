import { useEffect, useState } from 'preact/hooks';

/** The pages, addressed by the URL hash so the gateway serves one index.html for all of them. */
export type Route = 'login' | 'signup' | 'chat';

function parse(hash: string): Route | undefined {
  const name = hash.replace(/^#\/?/, '');
  return name === 'login' || name === 'signup' || name === 'chat' ? name : undefined;
}

export function navigate(route: Route): void {
  if (parse(location.hash) !== route) location.hash = `#/${route}`;
}

/** The current route, or undefined for an empty or unknown hash. */
export function useRoute(): Route | undefined {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const update = () => setRoute(parse(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
