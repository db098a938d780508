import { useState } from 'preact/hooks';

/** Up to two initials: "ann.lee" -> "AL", "bob" -> "BO". */
export function initials(name: string): string {
  const words = name.split(/[\s._-]+/).filter(Boolean);
  const letters = words.length > 1 ? words[0]![0]! + words[1]![0]! : name.slice(0, 2);
  return letters.toUpperCase();
}

/**
 * A steady colour per user, so the same person looks the same everywhere: FNV-1a with a final mix, so ids
 * that differ in one character (ids made one after another) still get far-apart hues.
 */
function hue(id: string): number {
  let hash = 0x811c9dc5;
  for (const char of id) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  hash = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d);
  return ((hash ^ (hash >>> 12)) >>> 0) % 360;
}

/** Who an avatar shows: `avatarUrl` where the user set a picture (and it is known here). */
interface AvatarUser {
  id: string;
  username: string;
  avatarUrl?: string | null;
}

/**
 * A user's picture, or their initials on their colour where they have none or it does not load; for the eye
 * only. `large` on the profile page.
 */
export function Avatar({ user, small, large }: { user: AvatarUser; small?: boolean; large?: boolean }) {
  const [broken, setBroken] = useState<string>();
  const size = small ? ' small' : large ? ' large' : '';
  if (user.avatarUrl && broken !== user.avatarUrl)
    return (
      <img
        class={`avatar${size}`}
        src={user.avatarUrl}
        alt=""
        aria-hidden="true"
        onError={() => setBroken(user.avatarUrl ?? undefined)}
      />
    );
  return (
    <span class={`avatar${size}`} style={{ '--avatar-hue': String(hue(user.id)) }} aria-hidden="true">
      {initials(user.username)}
    </span>
  );
}

/** A room's mark: `#` for a public room, a padlock for a private one; for the eye only. */
export function RoomMark({ kind }: { kind: 'public' | 'private' }) {
  return (
    <span class="room-mark" aria-hidden="true">
      {kind === 'private' ? (
        <svg viewBox="0 0 16 16" width="12" height="12" fill="currentColor">
          <path d="M4 7V5a4 4 0 1 1 8 0v2h1v8H3V7h1Zm2 0h4V5a2 2 0 1 0-4 0v2Z" />
        </svg>
      ) : (
        '#'
      )}
    </span>
  );
}
