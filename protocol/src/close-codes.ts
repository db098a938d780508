/** Why the server ended a socket (docs/asyncapi.md, "Close codes"). */
export const CloseCode = Object.freeze({
  /** The client closed it. */
  NORMAL: 1000,
  /** Going away: the server ends the socket for good (also: the handshake could not complete). */
  GOING_AWAY: 1001,
  /** Abuse: past the rate limit. */
  POLICY: 1008,
  /** A frame larger than WS_MAX_PAYLOAD_BYTES (sent by `ws` itself). */
  TOO_BIG: 1009,
  /** Something broke on our side while opening the socket. */
  INTERNAL: 1011,
  /** This instance is restarting or draining: reconnect (through the gateway) and `join` with `since`. */
  RESTARTING: 1012,
  /**
   * Too far behind on reading (outbound buffer full): not abuse, so a client reconnects (with `since`)
   * after a backoff instead of giving up as it does after 1008. RFC 6455 §7.4.2 registers 1013 "Try Again Later".
   */
  TRY_AGAIN_LATER: 1013,
  /** The session expired, was revoked, or logged out. */
  SESSION_ENDED: 4001,
  /** The user was deleted (or is otherwise forbidden). */
  FORBIDDEN: 4003,
} as const);
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** After these, reconnecting with the same token cannot help: a client stops (and may log in again). */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set<number>([
  CloseCode.POLICY,
  CloseCode.TOO_BIG,
  CloseCode.SESSION_ENDED,
  CloseCode.FORBIDDEN,
]);
