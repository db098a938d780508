import type { UserPublic } from '@chat/protocol';
import { useEffect, useState } from 'preact/hooks';
import type { ChatStore } from './chat-store';
import { OnlineDot, presenceText } from './online-dot';

interface UserSearchProps {
  store: ChatStore;
  online: ReadonlySet<string>;
  /** Unique on the page: the input's id. */
  id: string;
  label: string;
  /** The button on each user, e.g. "Message"; its accessible name adds the username. */
  actionLabel: string;
  onAction: (user: UserPublic) => Promise<string | void>;
}

const SEARCH_DELAY_MS = 200;

/** Finds users by username prefix (GET /api/users?q=) and offers one action on each. */
export function UserSearch({ store, online, id, label, actionLabel, onAction }: UserSearchProps) {
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

  return (
    <div class="user-search">
      <label for={id}>{label}</label>
      <input
        id={id}
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
        {users?.map((user) => (
          <li key={user.id}>
            <OnlineDot online={online.has(user.id)} />
            <span class="user-name">
              {user.username}
              <span class="visually-hidden">{presenceText(online.has(user.id))}</span>
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
        ))}
        {users?.length === 0 && <li class="muted">Nobody found.</li>}
      </ul>
    </div>
  );
}
