import { createHash, randomBytes } from 'node:crypto';

/**
 * Refresh tokens are opaque to clients: `<sessionId>.<secret>`, the secret 32 random bytes in base64url.
 * Only the SHA-256 of the secret is stored, so a copy of the database cannot refresh anyone's session.
 */
export interface RefreshToken {
  sessionId: string;
  secret: string;
}

const SECRET_BYTES = 32;
const TOKEN_SHAPE = /^([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/;

export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

export function formatRefreshToken(token: RefreshToken): string {
  return `${token.sessionId}.${token.secret}`;
}

/** The parts of a refresh token, or undefined when it cannot be one of ours. */
export function parseRefreshToken(value: string): RefreshToken | undefined {
  const match = TOKEN_SHAPE.exec(value);
  return match ? { sessionId: match[1]!, secret: match[2]! } : undefined;
}

/** What the session store keeps instead of the secret. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
