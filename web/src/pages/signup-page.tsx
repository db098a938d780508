import { useRef, useState } from 'preact/hooks';
import { ApiError, signup, type SignupInput } from '../api';
import { Field, FormError } from '../components/field';

type FieldName = 'username' | 'password' | 'name' | 'email';
const FIELDS: readonly FieldName[] = ['username', 'password', 'name', 'email'];

/** The API's error as messages per field (validation details, or the taken username or email) plus the rest. */
function errorsOf(error: unknown): { fields: Partial<Record<FieldName, string>>; form?: string } {
  if (!(error instanceof ApiError)) return { fields: {}, form: 'Something went wrong. Please try again.' };
  if (error.code === 'USERNAME_TAKEN') return { fields: { username: error.message } };
  if (error.code === 'EMAIL_TAKEN') return { fields: { email: error.message } };
  const fields: Partial<Record<FieldName, string>> = {};
  const rest: string[] = [];
  for (const issue of error.details) {
    const field = FIELDS.find((name) => name === issue.path.split('.')[0]);
    if (field) fields[field] = fields[field] ? `${fields[field]} ${issue.message}` : issue.message;
    else rest.push(issue.message);
  }
  const form =
    rest.length > 0 ? rest.join(' ') : Object.keys(fields).length === 0 ? error.message : undefined;
  return { fields, form };
}

/** Creating an account; the API's validation messages appear next to the fields they are about. */
export function SignupPage({ onSignedUp }: { onSignedUp: (username: string) => void }) {
  const [values, setValues] = useState<Record<FieldName, string>>({
    username: '',
    password: '',
    name: '',
    email: '',
  });
  const [errors, setErrors] = useState<ReturnType<typeof errorsOf>>({ fields: {} });
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const bind = (field: FieldName) => ({
    value: values[field],
    error: errors.fields[field],
    onInput: (event: Event) => setValues({ ...values, [field]: (event.target as HTMLInputElement).value }),
  });

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    // Optional fields left empty are left out: the API refuses an empty email rather than ignoring it.
    const input: SignupInput = { username: values.username.trim(), password: values.password };
    if (values.name.trim()) input.name = values.name.trim();
    if (values.email.trim()) input.email = values.email.trim();
    try {
      await signup(input);
      onSignedUp(input.username);
    } catch (error) {
      const found = errorsOf(error);
      setErrors(found);
      setBusy(false);
      const first = FIELDS.find((field) => found.fields[field]);
      if (first) form.current?.querySelector<HTMLInputElement>(`#${first}`)?.focus();
    }
  }

  return (
    <main class="auth">
      <h1>Create an account</h1>
      <form ref={form} onSubmit={submit} noValidate>
        <Field
          id="username"
          label="Username"
          hint="3 to 32 letters, digits, dots, dashes or underscores."
          autocomplete="username"
          required
          {...bind('username')}
        />
        <Field
          id="password"
          label="Password"
          type="password"
          hint="At least 8 characters."
          autocomplete="new-password"
          required
          {...bind('password')}
        />
        <Field id="name" label="Name (optional)" autocomplete="name" {...bind('name')} />
        <Field id="email" label="Email (optional)" type="email" autocomplete="email" {...bind('email')} />
        <FormError message={errors.form} />
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
      </form>
      <p>
        Already have an account? <a href="#/login">Log in</a>
      </p>
    </main>
  );
}
