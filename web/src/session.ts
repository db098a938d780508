import {
  ApiError,
  refreshTokens,
  request,
  type LoginResult,
  type RequestOptions,
  type TokenPair,
  type User,
} from './api';

/** Why a session ended; the login page says it in words. */
export type EndReason = 'expired' | 'logged-out' | 'forbidden' | 'deleted';

interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** Local clock, ms: computed from `expiresIn` on arrival, so a skewed device clock does not matter. */
  expiresAt: number;
  receivedAt: number;
  user: User;
}

// In localStorage, so every tab of the browser shares one session (a second tab opens logged in) and one
// refresh token: tabs take turns to rotate it (a Web Lock) and adopt what another tab stored, since presenting
// a refresh token another tab already rotated would end the session for all of them.
const STORAGE_KEY = 'chat.session';
/** Set by the tab that ends the session, so the others can say why. */
const END_KEY = 'chat.session.ended';
const REFRESH_LOCK = 'chat.session.refresh';
const END_REASONS: readonly EndReason[] = ['expired', 'logged-out', 'forbidden', 'deleted'];
/** A token this close to expiry is refreshed before use, so a reconnect never presents an expired one. */
const USE_MARGIN_MS = 15_000;
/** Refresh this long before expiry (or halfway through a shorter lifetime). */
const REFRESH_LEAD_MS = 60_000;
/** A token younger than this is not refreshed on the server's say-so. */
const FRESH_MS = 10_000;
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 30_000;

function readStored(): StoredSession | undefined {
  try {
    const data = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as StoredSession | null;
    return typeof data?.accessToken === 'string' &&
      typeof data.refreshToken === 'string' &&
      typeof data.user?.id === 'string'
      ? data
      : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `task` while no other tab of this origin runs one under the same name (where Web Locks exist). */
async function exclusive<T>(task: () => Promise<T>): Promise<T> {
  if (typeof navigator.locks?.request !== 'function') return task();
  return (await navigator.locks.request(REFRESH_LOCK, task)) as T;
}

function toStored(result: TokenPair, user: User): StoredSession {
  return {
    accessToken: result.accessToken,
    refreshToken: result.refreshToken,
    expiresAt: Date.now() + result.expiresIn * 1000,
    receivedAt: Date.now(),
    user,
  };
}

/**
 * The signed-in user's tokens. It refreshes the access token shortly before it expires (rotating the
 * refresh token, docs/openapi.json `POST /api/auth/refresh`), tells listeners about each new token, and ends itself when the
 * server refuses the refresh token.
 */
export class Session {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<void> | undefined;
  private failures = 0;
  private ended = false;
  private readonly tokenListeners = new Set<(accessToken: string) => void>();
  private readonly endListeners = new Set<(reason: EndReason) => void>();

  private constructor(private data: StoredSession) {
    this.save();
    this.schedule();
    window.addEventListener('storage', this.onStorage);
  }

  /** The session a login answer starts. */
  static start(result: LoginResult): Session {
    return new Session(toStored(result, result.user));
  }

  /** The session this browser has (from before a reload, or another tab), if any. */
  static restore(): Session | undefined {
    const data = readStored();
    return data ? new Session(data) : undefined;
  }

  get user(): User {
    return this.data.user;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** A usable access token: refreshed first when it is about to expire. */
  async accessToken(): Promise<string> {
    if (this.ended) throw new ApiError(401, 'UNAUTHENTICATED', 'The session has ended.');
    if (this.data.expiresAt - Date.now() < USE_MARGIN_MS) await this.refresh();
    return this.data.accessToken;
  }

  /**
   * Refreshes unless the token is only seconds old: the server's `session.expiring` may still be on its way
   * about the token just replaced, and a short-lived token must not set off a refresh per event.
   */
  refreshUnlessFresh(): Promise<void> {
    if (Date.now() - this.data.receivedAt < FRESH_MS) return Promise.resolve();
    return this.refresh();
  }

  /** Rotates the token pair once, however many callers ask at the same time. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Calls the API with the access token; a 401 gets one refresh and one retry before it counts. */
  async call<T>(path: string, options: Omit<RequestOptions, 'token'> = {}): Promise<T> {
    try {
      return await request<T>(path, { ...options, token: await this.accessToken() });
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401 || this.ended) throw error;
      await this.refresh();
      return request<T>(path, { ...options, token: await this.accessToken() });
    }
  }

  onToken(listener: (accessToken: string) => void): () => void {
    this.tokenListeners.add(listener);
    return () => this.tokenListeners.delete(listener);
  }

  onEnd(listener: (reason: EndReason) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  /** Forgets the tokens in every tab and tells listeners why; only the first call counts. */
  end(reason: EndReason): void {
    if (!this.forget(reason)) return;
    localStorage.setItem(END_KEY, reason);
    localStorage.removeItem(STORAGE_KEY);
  }

  private forget(reason: EndReason): boolean {
    if (this.ended) return false;
    this.ended = true;
    clearTimeout(this.timer);
    window.removeEventListener('storage', this.onStorage);
    for (const listener of this.endListeners) listener(reason);
    return true;
  }

  /** Another tab refreshed the tokens (this one adopts them) or ended the session (so does this one). */
  private readonly onStorage = (event: StorageEvent): void => {
    if (event.key !== STORAGE_KEY || event.storageArea !== localStorage) return;
    const stored = readStored();
    if (!stored || stored.user.id !== this.data.user.id) {
      const reason = localStorage.getItem(END_KEY) as EndReason | null;
      this.forget(reason && END_REASONS.includes(reason) ? reason : 'logged-out');
      return;
    }
    if (stored.refreshToken !== this.data.refreshToken) this.adopt(stored);
  };

  private adopt(stored: StoredSession): void {
    this.data = stored;
    this.failures = 0;
    this.schedule();
    for (const listener of this.tokenListeners) listener(this.data.accessToken);
  }

  private async doRefresh(): Promise<void> {
    if (this.ended) throw new ApiError(401, 'UNAUTHENTICATED', 'The session has ended.');
    const adopted = await exclusive(async () => {
      // Another tab may have rotated the pair while this one waited for its turn: then it is ours too.
      const stored = readStored();
      if (stored && stored.user.id === this.data.user.id && stored.refreshToken !== this.data.refreshToken) {
        this.data = stored;
        return true;
      }
      await this.rotate();
      return false;
    });
    if (adopted) this.adopt(this.data);
  }

  private async rotate(): Promise<void> {
    try {
      this.data = toStored(await refreshTokens(this.data.refreshToken), this.data.user);
    } catch (error) {
      // 401: the refresh token expired, was revoked or was already used; nothing but a new login helps.
      if (error instanceof ApiError && error.status === 401) this.end('expired');
      else this.scheduleRetry();
      throw error;
    }
    this.failures = 0;
    this.save();
    this.schedule();
    for (const listener of this.tokenListeners) listener(this.data.accessToken);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const remaining = this.data.expiresAt - Date.now();
    const delay = Math.max(remaining - REFRESH_LEAD_MS, remaining / 2, 0);
    this.timer = setTimeout(() => void this.refresh().catch(() => undefined), delay);
  }

  /** A failed refresh that was not a refusal (network, 5xx, 429): try again with capped, jittered backoff. */
  private scheduleRetry(): void {
    clearTimeout(this.timer);
    this.failures += 1;
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.failures);
    this.timer = setTimeout(
      () => void this.refresh().catch(() => undefined),
      ceiling / 2 + (Math.random() * ceiling) / 2,
    );
  }

  private save(): void {
    localStorage.removeItem(END_KEY);
    localStorage.setItem(STORAGE_KEY, JSON.stringify(this.data));
  }
}
