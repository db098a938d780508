import { useEffect, useState } from 'preact/hooks';
import type { ChatState, ChatStore } from './chat-store';

/** The store's state, re-rendering on each change. */
export function useChatState(store: ChatStore): ChatState {
  const [state, setState] = useState(store.state);
  useEffect(() => {
    setState(store.state);
    return store.subscribe(setState);
  }, [store]);
  return state;
}
