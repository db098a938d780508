import path from 'node:path';
import type Datastore from '@seald-io/nedb';
import {
  closeEmbeddedCollections,
  openEmbeddedCollection,
  uniqueViolationKey,
  type Role,
} from '@chat/shared';
import type { AuthStores } from './auth.store';
import type { FailureCount, LoginFailureStore } from './login-failure.store';
import {
  RETIRED_HASHES_KEPT,
  type NewSession,
  type Rotation,
  type Session,
  type SessionEndReason,
  type SessionStore,
} from './session.store';
import type { SigningKeyStore, StoredSigningKey } from './signing-key.store';

type SessionDoc = Omit<Session, 'id' | 'retiredHashes'> & { _id: string; retiredHashes?: string[] };
type SigningKeyDoc = { _id: string; privateKeyPem: string; createdAt: Date };
type FailureDoc = { _id: string; count: number; resetAt?: Date };

/** See the Mongo adapter: a fixed id turns "first instance wins" into a unique-key race. */
const CURRENT_KEY_ID = 'current';

/** Sessions stored before `retiredHashes` existed have none: no rotated-away secret is known for them. */
function toSession({ _id, retiredHashes, ...rest }: SessionDoc): Session {
  return { id: _id, ...rest, retiredHashes: retiredHashes ?? [] };
}

function liveFilter(userId: string, exceptId: string | undefined) {
  return exceptId === undefined
    ? { userId, endedAt: null }
    : { userId, endedAt: null, _id: { $ne: exceptId } };
}

/** NeDB runs each operation whole before the next, so a conditional update is a compare-and-set. */
class EmbeddedSessionStore implements SessionStore {
  constructor(private readonly db: Datastore<SessionDoc>) {}

  async create(session: NewSession): Promise<Session> {
    const { id, ...rest } = session;
    const doc = await this.db.insertAsync({
      _id: id,
      ...rest,
      retiredHashes: [],
      endedAt: null,
      endReason: null,
    });
    return toSession(doc);
  }

  async findById(id: string): Promise<Session | null> {
    const doc = await this.db.findOneAsync({ _id: id });
    return doc ? toSession(doc) : null;
  }

  async rotate(id: string, currentHash: string, next: Rotation): Promise<Session | null> {
    const { affectedDocuments } = await this.db.updateAsync(
      { _id: id, secretHash: currentHash, endedAt: null, expiresAt: { $gt: next.refreshedAt } },
      { $set: next, $push: { retiredHashes: { $each: [currentHash], $slice: -RETIRED_HASHES_KEPT } } },
      { returnUpdatedDocs: true },
    );
    return affectedDocuments ? toSession(affectedDocuments) : null;
  }

  async end(id: string, reason: SessionEndReason, at: Date): Promise<Session | null> {
    const { affectedDocuments } = await this.db.updateAsync(
      { _id: id, endedAt: null },
      { $set: { endedAt: at, endReason: reason } },
      { returnUpdatedDocs: true },
    );
    return affectedDocuments ? toSession(affectedDocuments) : null;
  }

  async findLiveForUser(userId: string, exceptId?: string): Promise<Session[]> {
    return (await this.db.findAsync(liveFilter(userId, exceptId))).map(toSession);
  }

  async endAllForUser(
    userId: string,
    reason: SessionEndReason,
    at: Date,
    exceptId?: string,
  ): Promise<Session[]> {
    const { affectedDocuments } = await this.db.updateAsync(
      liveFilter(userId, exceptId),
      { $set: { endedAt: at, endReason: reason } },
      { multi: true, returnUpdatedDocs: true },
    );
    return (affectedDocuments ?? []).map(toSession);
  }

  async updateUser(userId: string, profile: { username: string; role: Role }): Promise<number> {
    const { numAffected } = await this.db.updateAsync(
      { userId, endedAt: null },
      { $set: profile },
      { multi: true },
    );
    return numAffected;
  }

  async removeAllForUser(userId: string): Promise<number> {
    const removed = await this.db.removeAsync({ userId }, { multi: true });
    if (removed > 0) await this.db.compactDatafileAsync();
    return removed;
  }
}

class EmbeddedSigningKeyStore implements SigningKeyStore {
  constructor(private readonly db: Datastore<SigningKeyDoc>) {}

  async getOrCreate(candidate: StoredSigningKey): Promise<StoredSigningKey> {
    try {
      await this.db.insertAsync({ _id: CURRENT_KEY_ID, ...candidate });
      return candidate;
    } catch (error) {
      if (uniqueViolationKey(error) === undefined) throw error;
    }
    const winner = await this.db.findOneAsync({ _id: CURRENT_KEY_ID });
    if (!winner) throw new Error('The stored signing key vanished right after another instance created it.');
    return { privateKeyPem: winner.privateKeyPem, createdAt: winner.createdAt };
  }
}

class EmbeddedLoginFailureStore implements LoginFailureStore {
  constructor(private readonly db: Datastore<FailureDoc>) {}

  async get(keys: readonly string[], now: Date): Promise<Map<string, FailureCount>> {
    const docs = await this.db.findAsync({ _id: { $in: [...keys] }, resetAt: { $gt: now } });
    return new Map(docs.map((doc) => [doc._id, { count: doc.count, resetAt: doc.resetAt! }]));
  }

  /**
   * NeDB has no `$setOnInsert`: the window's end is set by a second conditional update, which only the first
   * attempt of a window finds without one, so it never changes once set. The count comes from the increment
   * itself, which NeDB runs whole, so concurrent calls see distinct counts.
   */
  async record(key: string, now: Date, windowSeconds: number): Promise<FailureCount> {
    await this.db.removeAsync({ _id: key, resetAt: { $lte: now } }, {});
    const { affectedDocuments } = await this.db.updateAsync(
      { _id: key },
      { $inc: { count: 1 } },
      { upsert: true, returnUpdatedDocs: true },
    );
    const resetAt = new Date(now.getTime() + windowSeconds * 1000);
    await this.db.updateAsync({ _id: key, resetAt: { $exists: false } }, { $set: { resetAt } }, {});
    const doc = await this.db.findOneAsync({ _id: key });
    return { count: affectedDocuments!.count, resetAt: doc?.resetAt ?? resetAt };
  }

  async release(key: string, resetAt: Date): Promise<void> {
    await this.db.updateAsync({ _id: key, resetAt, count: { $gt: 0 } }, { $inc: { count: -1 } }, {});
  }

  async clear(key: string): Promise<void> {
    await this.db.removeAsync({ _id: key }, {});
  }
}

/**
 * auth-service's collections as NeDB files under `<dataDir>/auth-service/`: a folder of its own, so the
 * one-process run cannot mix them up with another service's files, and closing them closes nothing else.
 */
export async function openEmbeddedAuthStores(dataDir: string): Promise<AuthStores> {
  const dir = path.join(dataDir, 'auth-service');
  const [sessions, signingKeys, failures] = await Promise.all([
    openEmbeddedCollection<SessionDoc>(dir, 'sessions'),
    openEmbeddedCollection<SigningKeyDoc>(dir, 'signing_keys'),
    openEmbeddedCollection<FailureDoc>(dir, 'login_failures'),
  ]);
  await Promise.all([
    sessions.ensureIndexAsync({ fieldName: 'userId' }),
    // NeDB, like MongoDB, drops documents whose date field is past (on the next read).
    sessions.ensureIndexAsync({ fieldName: 'expiresAt', expireAfterSeconds: 0 }),
    failures.ensureIndexAsync({ fieldName: 'resetAt', expireAfterSeconds: 0 }),
  ]);
  return {
    sessions: new EmbeddedSessionStore(sessions),
    signingKeys: new EmbeddedSigningKeyStore(signingKeys),
    loginFailures: new EmbeddedLoginFailureStore(failures),
    ping: async () => true,
    close: () => closeEmbeddedCollections([sessions, signingKeys, failures]),
  };
}
