/** Login attempts counted under one key within a window that opened at the first of them. */
export interface FailureCount {
  count: number;
  resetAt: Date;
}

/**
 * Login-attempt counters shared by every auth instance: an attempt is counted before its credentials are
 * checked and released again unless it failed, so the count is what concurrent attempts decide on. Keys are opaque (hashes): a username field sometimes
 * holds a mistyped password, so the raw value is never stored.
 */
export interface LoginFailureStore {
  /** The open windows among `keys` at `now`; keys without one are absent from the map. */
  get(keys: readonly string[], now: Date): Promise<Map<string, FailureCount>>;
  /**
   * Atomically counts one attempt under `key`, opening a window of `windowSeconds` if none is open at `now`;
   * resolves with the count including this one, so of concurrent callers each sees a different count.
   */
  record(key: string, now: Date, windowSeconds: number): Promise<FailureCount>;
  /** Takes back one attempt counted in the window ending at `resetAt`; a later window is left alone. */
  release(key: string, resetAt: Date): Promise<void>;
  clear(key: string): Promise<void>;
}
