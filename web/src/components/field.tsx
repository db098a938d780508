interface FieldProps {
  id: string;
  label: string;
  value: string;
  onInput: (event: Event) => void;
  type?: 'text' | 'password' | 'email';
  autocomplete?: string;
  required?: boolean;
  autoFocus?: boolean;
  hint?: string;
  error?: string | undefined;
}

/** A labelled input with an optional hint and the error the API gave for it, both tied to it for readers. */
export function Field({ id, label, hint, error, type = 'text', ...input }: FieldProps) {
  // The error, when there is one, says what the hint says and more: one of the two is shown.
  const described = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  const common = {
    id,
    name: id,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': described,
    ...input,
  };
  // One branch per type: Preact's input typings tie the allowed attributes to a literal `type`.
  const control =
    type === 'password' ? (
      <input type="password" {...common} />
    ) : type === 'email' ? (
      <input type="email" {...common} />
    ) : (
      <input type="text" {...common} />
    );
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {control}
      {hint && !error && (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} class="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

/** A form-wide message (not tied to one field), announced when it appears. */
export function FormError({ message }: { message: string | undefined }) {
  return message ? (
    <p class="form-error" role="alert">
      {message}
    </p>
  ) : null;
}
