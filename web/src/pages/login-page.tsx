import { useState } from 'preact/hooks';
import { ApiError, login, type LoginResult } from '../api';
import { Field, FormError } from '../components/field';

function loginError(error: unknown): string {
  if (!(error instanceof ApiError)) return 'Something went wrong. Please try again.';
  if (error.code === 'INVALID_CREDENTIALS') return 'Wrong username or password.';
  if (error.status === 429)
    return error.retryAfterSeconds
      ? `Too many attempts. Try again in ${error.retryAfterSeconds} seconds.`
      : 'Too many attempts. Try again later.';
  return error.message;
}

interface LoginPageProps {
  /** Why the user is here: the session ended, or they logged out. */
  notice: string | undefined;
  onLoggedIn: (result: LoginResult) => void;
}

export function LoginPage({ notice, onLoggedIn }: LoginPageProps) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onLoggedIn(await login(username.trim(), password));
    } catch (caught) {
      setError(loginError(caught));
      setBusy(false);
    }
  }

  return (
    <main class="auth">
      <h1>Log in</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={submit}>
        <Field
          id="username"
          label="Username or email"
          autocomplete="username"
          required
          value={username}
          onInput={(event: Event) => setUsername((event.target as HTMLInputElement).value)}
        />
        <Field
          id="password"
          label="Password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(event: Event) => setPassword((event.target as HTMLInputElement).value)}
        />
        <FormError message={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p>
        New here? <a href="#/signup">Create an account</a>
      </p>
    </main>
  );
}
