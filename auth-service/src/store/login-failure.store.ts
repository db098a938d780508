/** Failed logins counted under one key within a window that opened at the first failure. */
export interface FailureCount {
  count: number;
  resetAt: Date;
}

/**
 * Failed-login counters shared by every auth instance. Keys are opaque (hashes): a username field sometimes
 * holds a mistyped password, so the raw value is never stored.
 */
export interface LoginFailureStore {
  /** The open windows among `keys` at `now`; keys without one are absent from the map. */
  get(keys: readonly string[], now: Date): Promise<Map<string, FailureCount>>;
  /** Counts one failure under `key`, opening a window of `windowSeconds` if none is open at `now`. */
  record(key: string, now: Date, windowSeconds: number): Promise<FailureCount>;
  clear(key: string): Promise<void>;
}
