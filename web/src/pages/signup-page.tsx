import { useRef, useState } from 'preact/hooks';
import { ApiError, login, signup, type LoginResult, type SignupInput } from '../api';
import { Field, FormError } from '../components/field';

type FieldName = 'username' | 'password' | 'name' | 'email';
type Values = Record<FieldName, string>;
const FIELDS: readonly FieldName[] = ['username', 'password', 'name', 'email'];

/** What each field takes, in plain words: shown as its hint, and as its error when the value does not fit. */
const RULES: Record<FieldName, string> = {
  username: '3 to 32 characters: letters, digits, . _ -',
  password: 'At least 8 characters.',
  name: 'At most 100 characters.',
  email: 'An email address, like name@example.com.',
};

/** The fields whose values break the rules, checked here before the server is asked. */
function check(values: Values): Partial<Record<FieldName, string>> {
  const errors: Partial<Record<FieldName, string>> = {};
  if (!/^[A-Za-z0-9_.-]{3,32}$/.test(values.username.trim())) errors.username = RULES.username;
  if (values.password.length < 8 || values.password.length > 128)
    errors.password = values.password.length > 128 ? 'At most 128 characters.' : RULES.password;
  if (values.name.trim().length > 100) errors.name = RULES.name;
  if (values.email.trim() && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email.trim()))
    errors.email = RULES.email;
  return errors;
}

/** The API's error as messages per field (in plain words, never the schema's) plus the rest. */
function errorsOf(error: unknown): { fields: Partial<Record<FieldName, string>>; form?: string } {
  if (!(error instanceof ApiError)) return { fields: {}, form: 'Something went wrong. Please try again.' };
  if (error.code === 'USERNAME_TAKEN') return { fields: { username: 'That username is taken.' } };
  if (error.code === 'EMAIL_TAKEN') return { fields: { email: 'An account with that email exists.' } };
  if (error.status === 429) return { fields: {}, form: 'Too many sign-ups from here. Try again later.' };
  const fields: Partial<Record<FieldName, string>> = {};
  for (const issue of error.details) {
    const field = FIELDS.find((name) => name === issue.path.split('.')[0]);
    if (field) fields[field] = RULES[field];
  }
  return Object.keys(fields).length > 0 ? { fields } : { fields, form: error.message };
}

/** Creating an account, then straight into the chat: the new account logs in with the password just chosen. */
export function SignupPage({ onSignedUp }: { onSignedUp: (result: LoginResult) => void }) {
  const [values, setValues] = useState<Values>({ username: '', password: '', name: '', email: '' });
  const [errors, setErrors] = useState<ReturnType<typeof errorsOf>>({ fields: {} });
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const bind = (field: FieldName) => ({
    value: values[field],
    error: errors.fields[field],
    onInput: (event: Event) => setValues({ ...values, [field]: (event.target as HTMLInputElement).value }),
  });

  function show(found: ReturnType<typeof errorsOf>) {
    setErrors(found);
    const first = FIELDS.find((field) => found.fields[field]);
    if (first) form.current?.querySelector<HTMLInputElement>(`#${first}`)?.focus();
  }

  async function submit(event: Event) {
    event.preventDefault();
    const invalid = check(values);
    if (Object.keys(invalid).length > 0) return show({ fields: invalid });
    setBusy(true);
    // Optional fields left empty are left out: the API refuses an empty email rather than ignoring it.
    const input: SignupInput = { username: values.username.trim(), password: values.password };
    if (values.name.trim()) input.name = values.name.trim();
    if (values.email.trim()) input.email = values.email.trim();
    try {
      await signup(input);
      onSignedUp(await login(input.username, input.password));
    } catch (error) {
      setBusy(false);
      show(errorsOf(error));
    }
  }

  return (
    <main class="auth">
      <h1>Create an account</h1>
      <form ref={form} onSubmit={submit} noValidate>
        <Field
          id="username"
          label="Username"
          hint={RULES.username}
          autocomplete="username"
          required
          {...bind('username')}
        />
        <Field
          id="password"
          label="Password"
          type="password"
          hint={RULES.password}
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
