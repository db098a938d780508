import { createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';

/** Hashes passwords and checks them against stored hashes. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /**
   * True when `password` matches `hash`. With no hash (an unknown login) it still does the full work,
   * against a dummy hash of the same cost, and answers false: both cases take the same time.
   */
  verify(password: string, hash: string | undefined): Promise<boolean>;
}

/**
 * bcrypt reads only the first 72 bytes of its input, so two long passwords sharing those bytes would both
 * match. Passwords are first reduced to a fixed-length HMAC-SHA-256 (keyed, so hashes leaked elsewhere
 * from plain SHA-256 cannot be tried against ours), base64 so no NUL byte reaches bcrypt.
 */
function prehash(password: string): string {
  return createHmac('sha256', 'chat-users-service/bcrypt-prehash/v1')
    .update(password, 'utf8')
    .digest('base64');
}

/**
 * A bcrypt hasher with work factor `cost`. It uses bcrypt's async API, which runs in libuv's threadpool:
 * the synchronous one would stall the event loop for every other request while it hashes.
 */
export async function createPasswordHasher(cost: number): Promise<PasswordHasher> {
  const dummyHash = await bcrypt.hash(prehash(randomBytes(32).toString('base64')), cost);
  return {
    hash: (password) => bcrypt.hash(prehash(password), cost),
    async verify(password, hash) {
      const matches = await bcrypt.compare(prehash(password), hash ?? dummyHash);
      return hash !== undefined && matches;
    },
  };
}
