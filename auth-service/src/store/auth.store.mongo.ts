import type mongoose from 'mongoose';
import { Schema } from 'mongoose';
import { connectMongo, duplicateKeyField, mongoReachable, type Logger, type Role } from '@chat/shared';
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

interface SessionDoc extends Omit<Session, 'id' | 'retiredHashes'> {
  _id: string;
  retiredHashes?: string[];
}

interface SigningKeyDoc extends StoredSigningKey {
  _id: string;
}

interface FailureDoc {
  _id: string;
  count: number;
  resetAt: Date;
}

const sessionSchema = new Schema<SessionDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    username: { type: String, required: true },
    role: { type: String, required: true },
    secretHash: { type: String, required: true },
    retiredHashes: { type: [String], default: [] },
    createdAt: { type: Date, required: true },
    refreshedAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    endedAt: { type: Date, default: null },
    endReason: { type: String, default: null },
  },
  { versionKey: false, collection: 'sessions' },
);

const signingKeySchema = new Schema<SigningKeyDoc>(
  {
    _id: { type: String, required: true },
    privateKeyPem: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'signing_keys' },
);

const failureSchema = new Schema<FailureDoc>(
  {
    _id: { type: String, required: true },
    count: { type: Number, required: true },
    resetAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'login_failures' },
);

/** The server error for a feature it lacks (FerretDB has no TTL indexes). */
const NOT_IMPLEMENTED = 238;

/**
 * Lets MongoDB delete documents once `field` is past. Every query checks that date itself, so this is
 * housekeeping only: on a server without TTL indexes the documents stay, and a plain index serves the queries.
 */
async function ensureExpiryIndex(
  collection: mongoose.Collection,
  field: string,
  logger: Logger,
): Promise<void> {
  try {
    await collection.createIndex({ [field]: 1 }, { expireAfterSeconds: 0 });
  } catch (error) {
    if ((error as { code?: unknown }).code !== NOT_IMPLEMENTED) throw error;
    logger.warn('the database has no TTL indexes; expired documents stay until removed by hand', {
      collection: collection.collectionName,
    });
    await collection.createIndex({ [field]: 1 });
  }
}

/** The one document of `signing_keys`: a fixed id makes "first instance wins" a unique-key race. */
const CURRENT_KEY_ID = 'current';

/** Sessions stored before `retiredHashes` existed have none: no rotated-away secret is known for them. */
function toSession({ _id, retiredHashes, ...rest }: SessionDoc): Session {
  return { id: _id, ...rest, retiredHashes: retiredHashes ?? [], role: rest.role as Role };
}

function liveFilter(userId: string, exceptId: string | undefined) {
  return exceptId === undefined
    ? { userId, endedAt: null }
    : { userId, endedAt: null, _id: { $ne: exceptId } };
}

class MongoSessionStore implements SessionStore {
  constructor(private readonly model: mongoose.Model<SessionDoc>) {}

  async create(session: NewSession): Promise<Session> {
    const { id, ...rest } = session;
    const doc: SessionDoc = { _id: id, ...rest, retiredHashes: [], endedAt: null, endReason: null };
    await this.model.create(doc);
    return toSession(doc);
  }

  async findById(id: string): Promise<Session | null> {
    const doc = await this.model.findById(id).lean<SessionDoc>();
    return doc ? toSession(doc) : null;
  }

  /**
   * The new list of retired hashes is computed here rather than with `$push`/`$slice`, which FerretDB 1.x
   * accepts but does not bound. Reading first is still a compare-and-set: the list changes only with the
   * secret hash, and the update applies only while the hash is the one read.
   */
  async rotate(id: string, currentHash: string, next: Rotation): Promise<Session | null> {
    const current = await this.model
      .findOne({ _id: id, secretHash: currentHash }, { retiredHashes: 1 })
      .lean<Pick<SessionDoc, 'retiredHashes'>>();
    if (!current) return null;
    const retiredHashes = [...(current.retiredHashes ?? []), currentHash].slice(-RETIRED_HASHES_KEPT);
    const doc = await this.model
      .findOneAndUpdate(
        { _id: id, secretHash: currentHash, endedAt: null, expiresAt: { $gt: next.refreshedAt } },
        { $set: { ...next, retiredHashes } },
        { returnDocument: 'after' },
      )
      .lean<SessionDoc>();
    return doc ? toSession(doc) : null;
  }

  async end(id: string, reason: SessionEndReason, at: Date): Promise<Session | null> {
    const doc = await this.model
      .findOneAndUpdate(
        { _id: id, endedAt: null },
        { $set: { endedAt: at, endReason: reason } },
        { returnDocument: 'after' },
      )
      .lean<SessionDoc>();
    return doc ? toSession(doc) : null;
  }

  async findLiveForUser(userId: string, exceptId?: string): Promise<Session[]> {
    return (await this.model.find(liveFilter(userId, exceptId)).lean<SessionDoc[]>()).map(toSession);
  }

  async endAllForUser(
    userId: string,
    reason: SessionEndReason,
    at: Date,
    exceptId?: string,
  ): Promise<Session[]> {
    const live = await this.model.find(liveFilter(userId, exceptId), { _id: 1 }).lean<{ _id: string }[]>();
    // One conditional update per session, so a session ended concurrently elsewhere is not reported twice.
    const ended = await Promise.all(live.map((doc) => this.end(doc._id, reason, at)));
    return ended.filter((session): session is Session => session !== null);
  }

  async updateUser(userId: string, profile: { username: string; role: Role }): Promise<number> {
    const result = await this.model.updateMany({ userId, endedAt: null }, { $set: profile });
    return result.modifiedCount;
  }

  async removeAllForUser(userId: string): Promise<number> {
    return (await this.model.deleteMany({ userId })).deletedCount;
  }
}

class MongoSigningKeyStore implements SigningKeyStore {
  constructor(private readonly model: mongoose.Model<SigningKeyDoc>) {}

  async getOrCreate(candidate: StoredSigningKey): Promise<StoredSigningKey> {
    try {
      await this.model.create({ _id: CURRENT_KEY_ID, ...candidate });
      return candidate;
    } catch (error) {
      if (duplicateKeyField(error) === undefined) throw error;
    }
    const winner = await this.model.findById(CURRENT_KEY_ID).lean<SigningKeyDoc>();
    if (!winner) throw new Error('The stored signing key vanished right after another instance created it.');
    return { privateKeyPem: winner.privateKeyPem, createdAt: winner.createdAt };
  }
}

class MongoLoginFailureStore implements LoginFailureStore {
  constructor(private readonly model: mongoose.Model<FailureDoc>) {}

  /**
   * One lookup by `_id` per key (a login asks for two: its address and its username): FerretDB answers
   * those from its primary key, where `_id: {$in}` made it read every failure counter on every login.
   */
  async get(keys: readonly string[], now: Date): Promise<Map<string, FailureCount>> {
    const docs = await Promise.all(keys.map((key) => this.model.findById(key).lean<FailureDoc>()));
    const live = docs.filter((doc): doc is FailureDoc => doc !== null && doc.resetAt > now);
    return new Map(live.map((doc) => [doc._id, { count: doc.count, resetAt: doc.resetAt }]));
  }

  async record(key: string, now: Date, windowSeconds: number): Promise<FailureCount> {
    // A closed window is removed first; a live one is never touched by this, so no failure is lost.
    await this.model.deleteOne({ _id: key, resetAt: { $lte: now } });
    const resetAt = new Date(now.getTime() + windowSeconds * 1000);
    const increment = () =>
      this.model
        .findOneAndUpdate(
          { _id: key },
          { $inc: { count: 1 }, $setOnInsert: { resetAt } },
          { upsert: true, returnDocument: 'after' },
        )
        .lean<FailureDoc>();
    let doc: FailureDoc | null;
    try {
      doc = await increment();
    } catch (error) {
      // Two first failures at once: both upserts try to insert, the loser increments the winner's document.
      if (duplicateKeyField(error) === undefined) throw error;
      doc = await increment();
    }
    if (!doc) throw new Error('An upsert returned no document.');
    return { count: doc.count, resetAt: doc.resetAt };
  }

  async release(key: string, resetAt: Date): Promise<void> {
    await this.model.updateOne({ _id: key, resetAt, count: { $gt: 0 } }, { $inc: { count: -1 } });
  }

  async clear(key: string): Promise<void> {
    await this.model.deleteOne({ _id: key });
  }
}

/** auth-service's collections on MongoDB (`sessions`, `signing_keys`, `login_failures`), indexes ensured. */
export async function openMongoAuthStores(url: string, logger: Logger): Promise<AuthStores> {
  const connection = await connectMongo(url, { appName: 'auth-service', logger });
  try {
    const sessions = connection.model<SessionDoc>('Session', sessionSchema);
    const signingKeys = connection.model<SigningKeyDoc>('SigningKey', signingKeySchema);
    const failures = connection.model<FailureDoc>('LoginFailure', failureSchema);
    await sessions.createIndexes();
    await ensureExpiryIndex(sessions.collection, 'expiresAt', logger);
    await ensureExpiryIndex(failures.collection, 'resetAt', logger);
    return {
      sessions: new MongoSessionStore(sessions),
      signingKeys: new MongoSigningKeyStore(signingKeys),
      loginFailures: new MongoLoginFailureStore(failures),
      ping: () => mongoReachable(connection),
      close: () => connection.close(),
    };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
