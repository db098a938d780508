import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type User, type UserChange } from '../api';
import type { ChatState, ChatStore } from '../chat/chat-store';
import { Avatar } from '../components/avatar';
import { Dialog } from '../components/dialog';
import { Field, FormError } from '../components/field';

/** Pictures the server decodes; anything else it would refuse. */
const PICTURE_TYPES = 'image/png,image/jpeg,image/gif,image/webp';

function errorsOf(error: unknown): { fields: Record<string, string>; form?: string } {
  if (!(error instanceof ApiError)) return { fields: {}, form: 'Something went wrong. Please try again.' };
  if (error.code === 'EMAIL_TAKEN') return { fields: { email: 'Someone else uses that email.' } };
  if (error.details.length === 0) return { fields: {}, form: error.message };
  return {
    fields: Object.fromEntries(error.details.map((issue) => [String(issue.path), `This ${issue.message}.`])),
  };
}

/** The user's own profile: picture, name, email and phone, password, and deleting the account. */
export function ProfilePage({
  store,
  state,
  onBack,
}: {
  store: ChatStore;
  state: ChatState;
  onBack: () => void;
}) {
  const [user, setUser] = useState<User>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    store
      .profile()
      .then(setUser, (caught: unknown) =>
        setError(
          `Your profile could not be loaded: ${caught instanceof Error ? caught.message : String(caught)}`,
        ),
      );
  }, [store]);

  return (
    <section class="profile-page" aria-labelledby="profile-title">
      <header class="room-header">
        <button type="button" class="back ghost" onClick={onBack}>
          ← Rooms
        </button>
        <h2 id="profile-title">
          <span class="title-text">Your profile</span>
        </h2>
      </header>
      <div class="profile-body">
        <FormError message={error} />
        {user && (
          <>
            <PictureSection store={store} state={state} />
            <DetailsForm store={store} user={user} onSaved={setUser} />
            <PasswordForm store={store} username={user.username} />
            <DeleteAccount store={store} username={user.username} />
          </>
        )}
      </div>
    </section>
  );
}

function PictureSection({ store, state }: { store: ChatStore; state: ChatState }) {
  const [progress, setProgress] = useState<number>();
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string>();
  const controller = useRef<AbortController>(undefined);
  useEffect(() => () => controller.current?.abort(), []);

  async function upload(file: File) {
    controller.current = new AbortController();
    setError(undefined);
    setStatus('');
    setProgress(0);
    try {
      await store.setAvatar(file, setProgress, controller.current.signal);
      setStatus('Your picture was updated.');
    } catch (caught) {
      setError(`The picture could not be set: ${caught instanceof Error ? caught.message : String(caught)}`);
    }
    setProgress(undefined);
  }

  async function remove() {
    setError(undefined);
    try {
      await store.removeAvatar();
      setStatus('Your picture was removed.');
    } catch (caught) {
      setError(
        `The picture could not be removed: ${caught instanceof Error ? caught.message : String(caught)}`,
      );
    }
  }

  return (
    <section class="profile-section" aria-labelledby="picture-title">
      <h3 id="picture-title">Picture</h3>
      <div class="picture-row">
        <Avatar user={state.me} large />
        <div class="picture-actions">
          <input
            id="avatar-file"
            type="file"
            accept={PICTURE_TYPES}
            class="visually-hidden"
            aria-describedby="avatar-hint"
            disabled={progress !== undefined}
            onChange={(event) => {
              const file = event.currentTarget.files?.[0];
              event.currentTarget.value = '';
              if (file) void upload(file);
            }}
          />
          <label for="avatar-file" class="button-link">
            Upload a picture
          </label>
          {state.me.avatarUrl && (
            <button type="button" class="ghost" onClick={() => void remove()}>
              Remove picture
            </button>
          )}
          <p id="avatar-hint" class="hint">
            PNG, JPEG, GIF or WebP, up to 2 MB. Everyone who sees your name sees it.
          </p>
          {progress !== undefined && (
            <progress max={100} value={Math.round(progress * 100)} aria-label="Uploading your picture" />
          )}
        </div>
      </div>
      <p class="status" role="status">
        {status}
      </p>
      <FormError message={error} />
    </section>
  );
}

/** A form's submit button, and what became of the last submission, announced. */
function SubmitRow({ label, busy, status }: { label: string; busy: boolean; status: string }) {
  return (
    <div class="form-actions">
      <button type="submit" disabled={busy}>
        {label}
      </button>
      <span class="status" role="status">
        {status}
      </span>
    </div>
  );
}

const DETAILS = [
  { key: 'name', label: 'Full name', type: 'text', autocomplete: 'name' },
  { key: 'email', label: 'Email', type: 'email', autocomplete: 'email' },
  { key: 'phone', label: 'Phone', type: 'text', autocomplete: 'tel' },
] as const;

function DetailsForm({
  store,
  user,
  onSaved,
}: {
  store: ChatStore;
  user: User;
  onSaved: (user: User) => void;
}) {
  const [values, setValues] = useState({
    name: user.name ?? '',
    email: user.email ?? '',
    phone: user.phone ?? '',
  });
  const [errors, setErrors] = useState<{ fields: Record<string, string>; form?: string }>({ fields: {} });
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const input = (key: keyof typeof values) => (event: Event) =>
    setValues({ ...values, [key]: (event.currentTarget as HTMLInputElement).value });

  async function save(event: Event) {
    event.preventDefault();
    const change: UserChange = {};
    for (const { key } of DETAILS) {
      const value = values[key].trim();
      if (value !== (user[key] ?? '')) change[key] = value || null;
    }
    setStatus('');
    if (Object.keys(change).length === 0) return setStatus('Nothing to save.');
    setBusy(true);
    try {
      onSaved(await store.updateProfile(change));
      setErrors({ fields: {} });
      setStatus('Saved.');
    } catch (caught) {
      setErrors(errorsOf(caught));
    }
    setBusy(false);
  }

  return (
    <form class="profile-section" aria-labelledby="details-form-title" onSubmit={save} noValidate>
      <h3 id="details-form-title">About you</h3>
      {DETAILS.map(({ key, label, type, autocomplete }) => (
        <Field
          key={key}
          id={key}
          label={label}
          type={type}
          autocomplete={autocomplete}
          value={values[key]}
          onInput={input(key)}
          error={errors.fields[key]}
        />
      ))}
      <FormError message={errors.form} />
      <SubmitRow label="Save changes" busy={busy} status={status} />
    </form>
  );
}

function PasswordForm({ store, username }: { store: ChatStore; username: string }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [errors, setErrors] = useState<{ fields: Record<string, string>; form?: string }>({ fields: {} });
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);

  async function change(event: Event) {
    event.preventDefault();
    setStatus('');
    if (!current) return setErrors({ fields: { currentPassword: 'Type your current password.' } });
    if (next.length < 8 || next.length > 128)
      return setErrors({ fields: { password: 'A new password has 8 to 128 characters.' } });
    setBusy(true);
    try {
      await store.updateProfile({ password: next, currentPassword: current });
      setCurrent('');
      setNext('');
      setErrors({ fields: {} });
      setStatus('Password changed. Your other sessions were logged out; this one stays.');
    } catch (caught) {
      setErrors(
        caught instanceof ApiError && caught.code === 'FORBIDDEN'
          ? { fields: { currentPassword: 'That is not your current password.' } }
          : errorsOf(caught),
      );
    }
    setBusy(false);
  }

  return (
    <form class="profile-section" aria-labelledby="password-title" onSubmit={change} noValidate>
      <h3 id="password-title">Password</h3>
      {/* For password managers: which account this password belongs to. */}
      <input type="text" autocomplete="username" value={username} hidden readOnly />
      <Field
        id="currentPassword"
        label="Current password"
        type="password"
        autocomplete="current-password"
        value={current}
        onInput={(event) => setCurrent((event.currentTarget as HTMLInputElement).value)}
        error={errors.fields.currentPassword}
      />
      <Field
        id="password"
        label="New password"
        type="password"
        autocomplete="new-password"
        hint="8 to 128 characters."
        value={next}
        onInput={(event) => setNext((event.currentTarget as HTMLInputElement).value)}
        error={errors.fields.password}
      />
      <FormError message={errors.form} />
      <SubmitRow label="Change password" busy={busy} status={status} />
    </form>
  );
}

function DeleteAccount({ store, username }: { store: ChatStore; username: string }) {
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function remove(event: Event) {
    event.preventDefault();
    if (typed !== username) return;
    setBusy(true);
    try {
      await store.deleteAccount();
    } catch (caught) {
      setError(
        `Your account could not be deleted: ${caught instanceof Error ? caught.message : String(caught)}`,
      );
      setBusy(false);
    }
  }

  return (
    <section class="profile-section danger-zone" aria-labelledby="delete-title">
      <h3 id="delete-title">Delete your account</h3>
      <p class="muted">
        Your account, picture and files you have not sent go for good. Messages you sent stay, shown as from a
        deleted user.
      </p>
      <button type="button" class="danger" onClick={() => setConfirming(true)}>
        Delete account…
      </button>
      {confirming && (
        <Dialog title="Delete your account?" onClose={() => setConfirming(false)}>
          <form onSubmit={remove}>
            <p class="muted">This cannot be undone. You will be logged out everywhere.</p>
            <Field
              id="confirm-username"
              label={`Type your username, ${username}, to confirm`}
              autocomplete="off"
              autoFocus
              value={typed}
              onInput={(event) => setTyped((event.currentTarget as HTMLInputElement).value)}
            />
            <FormError message={error} />
            <div class="dialog-actions">
              <button type="button" class="ghost" onClick={() => setConfirming(false)}>
                Cancel
              </button>
              <button type="submit" class="danger" disabled={typed !== username || busy}>
                Delete my account
              </button>
            </div>
          </form>
        </Dialog>
      )}
    </section>
  );
}
