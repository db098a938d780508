import type { UserPublic } from '@chat/protocol';
import { useEffect, useState } from 'preact/hooks';
import { Avatar } from '../components/avatar';
import type { ChatState, ChatStore } from './chat-store';
import { OnlineDot, presenceOf, presenceText } from './online-dot';

interface UserSearchProps {
  store: ChatStore;
  state: ChatState;
  /** Unique on the page: the input's id. */
  id: string;
  label: string;
  /** The button on each user, e.g. "Message"; its accessible name adds the username. */
  actionLabel: string;
  onAction: (user: UserPublic) => Promise<string | void>;
  /** People not to offer (already members, say). */
  exclude?: ReadonlySet<string>;
}

const SEARCH_DELAY_MS = 200;

/** Finds users by username prefix (GET /api/users?q=) and offers one action on each. */
export function UserSearch({ store, state, id, label, actionLabel, onAction, exclude }: UserSearchProps) {
  const [query, setQuery] = useState('');
  const [users, setUsers] = useState<UserPublic[] | undefined>();
  const [status, setStatus] = useState<string>();

  useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      store.searchUsers(query.trim()).then(
        (found) => current && setUsers(found),
        () => current && setStatus('Could not search for people.'),
      );
    }, SEARCH_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [store, query]);

  async function act(user: UserPublic) {
    setStatus(undefined);
    const result = await onAction(user);
    if (result) setStatus(result);
  }

  const shown = users?.filter((user) => !exclude?.has(user.id));
  return (
    <div class="user-search">
      <label for={id}>{label}</label>
      <input
        id={id}
        autoFocus
        type="search"
        autocomplete="off"
        placeholder="Username starts with…"
        value={query}
        onInput={(event) => setQuery(event.currentTarget.value)}
      />
      {status && (
        <p class="status" role="status">
          {status}
        </p>
      )}
      <ul class="users">
        {shown?.map((user) => {
          const presence = presenceOf(state, user.id);
          return (
            <li key={user.id}>
              <span class="room-avatar">
                <Avatar user={user} small />
                <OnlineDot presence={presence} />
              </span>
              <span class="user-name">
                {user.username}
                <span class="visually-hidden">{presenceText(presence)}</span>
                {user.name && <span class="muted"> {user.name}</span>}
              </span>
              <button
                type="button"
                class="small"
                aria-label={`${actionLabel} ${user.username}`}
                onClick={() => act(user)}
              >
                {actionLabel}
              </button>
            </li>
          );
        })}
        {shown?.length === 0 && <li class="muted">Nobody found.</li>}
      </ul>
    </div>
  );
}
