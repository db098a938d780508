import type Datastore from '@seald-io/nedb';
import {
  claimEmbeddedLock,
  closeEmbeddedCollections,
  openEmbeddedCollection,
  uniqueViolationKey,
  type Role,
  type User,
} from '@chat/shared';
import {
  avatarFilter,
  avatarUpdate,
  emailTaken,
  listFilter,
  loginFilter,
  toDocument,
  toUpdate,
  toUser,
  uniqueIndexes,
  usernameTaken,
  type Credentials,
  type ListQuery,
  type NewUser,
  type StoredAvatar,
  type UserChanges,
  type UserDocument,
  type UserStore,
} from './user.store';

/** The name of the lock a users-service holds on its DATA_DIR while its embedded store is open. */
export const USERS_LOCK = 'users';

/** The `users` collection in a NeDB file under DATA_DIR, for the run with nothing installed. */
export class EmbeddedUserStore implements UserStore {
  private constructor(
    private readonly collection: Datastore<UserDocument>,
    private readonly unlock: () => void,
  ) {}

  /**
   * Loads (or creates) `<dataDir>/users.db` with its unique indexes, and holds `users.lock` until closed
   * (the admin command refuses to change the file under a running users-service).
   */
  static async open(dataDir: string): Promise<EmbeddedUserStore> {
    const collection = await openEmbeddedCollection<UserDocument & Record<string, unknown>>(dataDir, 'users');
    for (const { field, sparse } of uniqueIndexes) {
      await collection.ensureIndexAsync({ fieldName: field, unique: true, sparse });
    }
    return new EmbeddedUserStore(collection, claimEmbeddedLock(dataDir, USERS_LOCK));
  }

  async create(user: NewUser): Promise<User> {
    const document = toDocument(user);
    try {
      await this.collection.insertAsync(document);
    } catch (error) {
      throw conflictOf(error, document);
    }
    return toUser(document);
  }

  async findById(id: string): Promise<User | undefined> {
    const document = await this.collection.findOneAsync({ _id: id });
    return document ? toUser(document) : undefined;
  }

  async findByIds(ids: readonly string[]): Promise<User[]> {
    const documents = await this.collection.findAsync({ _id: { $in: [...ids] } });
    return documents.map(toUser);
  }

  async findCredentials(by: { id: string } | { login: string }): Promise<Credentials | undefined> {
    const document = await this.collection.findOneAsync('id' in by ? { _id: by.id } : loginFilter(by.login));
    return document ? { user: toUser(document), passwordHash: document.passwordHash } : undefined;
  }

  async list(query: ListQuery): Promise<User[]> {
    const documents = await this.collection
      .findAsync(listFilter(query))
      .sort({ usernameLower: 1 })
      .limit(query.limit);
    return documents.map(toUser);
  }

  async update(id: string, changes: UserChanges): Promise<User | undefined> {
    const update = toUpdate(changes);
    try {
      const { affectedDocuments } = await this.collection.updateAsync({ _id: id }, update, {
        returnUpdatedDocs: true,
      });
      return affectedDocuments ? toUser(affectedDocuments as UserDocument) : undefined;
    } catch (error) {
      throw conflictOf(error, update.$set);
    }
  }

  /** Gone from disk too: the append-only file is rewritten without the user's lines (issue 13). */
  async remove(id: string, whileAvatar?: string | null): Promise<boolean> {
    const filter = whileAvatar === undefined ? { _id: id } : avatarFilter(id, whileAvatar);
    if ((await this.collection.removeAsync(filter, {})) !== 1) return false;
    await this.collection.compactDatafileAsync();
    return true;
  }

  async findAvatar(id: string): Promise<{ avatar: StoredAvatar | null } | undefined> {
    const document = await this.collection.findOneAsync({ _id: id });
    return document ? { avatar: document.avatar ?? null } : undefined;
  }

  async swapAvatar(
    id: string,
    from: string | null,
    to: StoredAvatar | null,
    at: Date,
  ): Promise<User | undefined> {
    const { affectedDocuments } = await this.collection.updateAsync(
      avatarFilter(id, from),
      avatarUpdate(to, at),
      { returnUpdatedDocs: true },
    );
    return affectedDocuments ? toUser(affectedDocuments as UserDocument) : undefined;
  }

  async setRole(
    usernameLower: string,
    role: Role,
    at: Date,
  ): Promise<{ user: User; changed: boolean } | undefined> {
    const { affectedDocuments } = await this.collection.updateAsync(
      { usernameLower, role: { $ne: role } },
      { $set: { role, updatedAt: at, roleChangePending: true } },
      { returnUpdatedDocs: true },
    );
    if (affectedDocuments) return { user: toUser(affectedDocuments as UserDocument), changed: true };
    const unchanged = await this.collection.findOneAsync({ usernameLower });
    return unchanged ? { user: toUser(unchanged), changed: false } : undefined;
  }

  async pendingRoleChanges(): Promise<User[]> {
    return (await this.collection.findAsync({ roleChangePending: true })).map(toUser);
  }

  async roleChangeAnnounced(id: string): Promise<void> {
    await this.collection.updateAsync({ _id: id }, { $unset: { roleChangePending: true } }, {});
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    await closeEmbeddedCollections([this.collection]);
    this.unlock();
  }
}

/** NeDB reports the value that collided; usernames never hold `@` and emails always do, so it names the field. */
function conflictOf(error: unknown, written: { usernameLower?: unknown }): unknown {
  const key = uniqueViolationKey(error);
  if (key === undefined) return error;
  return key === written.usernameLower ? usernameTaken() : emailTaken();
}
