/** A presence dot, for the eye only: where it matters, the caller says "online" in words next to the name. */
export function OnlineDot({ online }: { online: boolean }) {
  return (
    <span class={online ? 'dot online' : 'dot'} title={online ? 'online' : 'offline'} aria-hidden="true" />
  );
}

/** The words for a screen reader that go with a dot. */
export function presenceText(online: boolean): string {
  return online ? ', online' : ', offline';
}
