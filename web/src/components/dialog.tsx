import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A modal dialog (the browser's own: focus goes to the field marked `autoFocus` and stays inside, Escape
 * closes it, focus returns to what opened it). Shown while mounted; `onClose` is told when the user closes it.
 */
export function Dialog({
  title,
  onClose,
  children,
  variant,
  actions,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  /** A look of its own (`viewer`: the image viewer, as large as the screen allows). */
  variant?: string;
  /** More controls in the header, before Close. */
  actions?: ComponentChildren;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    element.showModal();
    return () => element.close();
  }, []);
  return (
    <dialog
      ref={dialog}
      class={variant ? `dialog ${variant}` : 'dialog'}
      aria-labelledby="dialog-title"
      onClose={onClose}
      onClick={(event) => {
        // A click on the backdrop lands on the dialog element itself.
        if (event.target === event.currentTarget) event.currentTarget.close();
      }}
    >
      <header class="dialog-header">
        <h2 id="dialog-title">{title}</h2>
        {actions}
        <button type="button" class="icon" aria-label="Close" onClick={() => dialog.current?.close()}>
          ×
        </button>
      </header>
      {children}
    </dialog>
  );
}
