import type { Member, Room, UserPublic } from '@chat/protocol';
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { Avatar } from '../components/avatar';
import { Dialog } from '../components/dialog';
import type { ChatState, ChatStore } from './chat-store';

/** Someone's card, opened from their name or avatar: message them, block or unblock them. */
export function ProfileCard({
  store,
  state,
  user,
  onClose,
}: {
  store: ChatStore;
  state: ChatState;
  user: { id: string; username: string };
  onClose: () => void;
}) {
  const known: UserPublic = state.users[user.id] ?? { ...user, name: null, avatarUrl: null, createdAt: '' };
  const blocked = state.blocked.has(user.id);
  const self = user.id === state.me.id;
  return (
    <Dialog title={known.username} onClose={onClose}>
      <div class="profile">
        <Avatar user={known} />
        <div>
          <strong>{known.name ?? known.username}</strong>
          <p class="muted">@{known.username}</p>
          {blocked && <p class="muted">Blocked: they cannot message you or start a conversation with you.</p>}
        </div>
      </div>
      {!self && (
        <div class="dialog-actions">
          <button
            type="button"
            class="ghost"
            onClick={() => {
              onClose();
              void store.startDirect(known);
            }}
          >
            Message
          </button>
          <button
            type="button"
            class={blocked ? 'ghost' : 'danger'}
            onClick={() => void store.setBlocked(known, !blocked)}
          >
            {blocked ? `Unblock ${known.username}` : `Block ${known.username}`}
          </button>
        </div>
      )}
    </Dialog>
  );
}

/** The room's name and topic, for its owner (or an admin), and deleting it after a second word. */
export function RoomSettings({
  store,
  room,
  onClose,
}: {
  store: ChatStore;
  room: Room;
  onClose: () => void;
}) {
  const [name, setName] = useState(room.name);
  const [topic, setTopic] = useState(room.topic ?? '');
  const [error, setError] = useState<string>();
  const [deleting, setDeleting] = useState(false);

  async function save(event: Event) {
    event.preventDefault();
    const change: { name?: string; topic?: string | null } = {};
    if (name.trim() !== room.name) change.name = name.trim();
    if (topic.trim() !== (room.topic ?? '')) change.topic = topic.trim() || null;
    if (change.name === undefined && change.topic === undefined) return onClose();
    try {
      await store.updateRoom(room.id, change);
      onClose();
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.code === 'ROOM_NAME_TAKEN'
          ? 'A public room already has that name.'
          : caught instanceof ApiError && caught.details.length > 0
            ? 'A name of 1 to 64 characters; a topic of at most 250.'
            : `The room could not be changed: ${String(caught instanceof Error ? caught.message : caught)}`,
      );
    }
  }

  if (deleting)
    return (
      <Dialog title={`Delete ${room.name}?`} onClose={onClose}>
        <p>Its messages go for everyone, and nobody can open it again.</p>
        <div class="dialog-actions">
          <button type="button" class="ghost" onClick={() => setDeleting(false)}>
            Cancel
          </button>
          <button
            type="button"
            class="danger"
            onClick={() => {
              onClose();
              void store.deleteRoom(room.id);
            }}
          >
            Delete room
          </button>
        </div>
      </Dialog>
    );
  return (
    <Dialog title="Room settings" onClose={onClose}>
      <form class="settings" onSubmit={save} noValidate>
        <div class="field">
          <label for="settings-name">Name</label>
          <input id="settings-name" autoFocus value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="settings-topic">Topic</label>
          <input
            id="settings-topic"
            maxLength={250}
            value={topic}
            placeholder="What this room is about"
            onInput={(e) => setTopic(e.currentTarget.value)}
          />
        </div>
        {error && (
          <p class="field-error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" class="danger ghost" onClick={() => setDeleting(true)}>
            Delete room…
          </button>
          <button type="submit">Save</button>
        </div>
      </form>
    </Dialog>
  );
}

const RANK = { owner: 0, moderator: 1, member: 2 } as const;

/**
 * What the user may do to `member` in a room where they hold `myRole` (contract v1.1, "Rooms and people"):
 * owners change roles; owners and moderators remove and ban those below them; admins act as owners.
 */
export function MemberActions({
  store,
  roomId,
  member,
  myRole,
  admin,
  self,
}: {
  store: ChatStore;
  roomId: string;
  member: Member;
  myRole: Member['role'] | undefined;
  admin: boolean;
  self: boolean;
}) {
  const role = admin ? 'owner' : myRole;
  if (self || !role || role === 'member' || RANK[member.role] <= RANK[role]) return null;
  const name = member.user.username;
  return (
    <span class="member-actions">
      {role === 'owner' && (
        <button
          type="button"
          class="small ghost"
          aria-label={member.role === 'moderator' ? `Make ${name} a member` : `Make ${name} a moderator`}
          onClick={() =>
            void store.setRole(roomId, member.user.id, member.role === 'moderator' ? 'member' : 'moderator')
          }
        >
          {member.role === 'moderator' ? 'Demote' : 'Promote'}
        </button>
      )}
      <button
        type="button"
        class="small ghost"
        aria-label={`Remove ${name}`}
        onClick={() => void store.removeMember(roomId, member.user.id, false)}
      >
        Remove
      </button>
      <button
        type="button"
        class="small ghost danger"
        aria-label={`Ban ${name}`}
        onClick={() => void store.removeMember(roomId, member.user.id, true)}
      >
        Ban
      </button>
    </span>
  );
}
