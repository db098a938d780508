/** Up to two initials: "ann.lee" -> "AL", "bob" -> "BO". */
export function initials(name: string): string {
  const words = name.split(/[\s._-]+/).filter(Boolean);
  const letters = words.length > 1 ? words[0]![0]! + words[1]![0]! : name.slice(0, 2);
  return letters.toUpperCase();
}

/** A steady colour per user, so the same person looks the same everywhere. */
function hue(id: string): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return Math.abs(hash) % 360;
}

/** A user's picture: their initials on their colour (until avatars can be uploaded); for the eye only. */
export function Avatar({ user, small }: { user: { id: string; username: string }; small?: boolean }) {
  return (
    <span
      class={small ? 'avatar small' : 'avatar'}
      style={{ '--avatar-hue': String(hue(user.id)) }}
      aria-hidden="true"
    >
      {initials(user.username)}
    </span>
  );
}
