import { Schema, type Connection, type Model } from 'mongoose';
import {
  connectMongo,
  manyValueQueriesFor,
  type FindIn,
  duplicateKeyField,
  mongoReachable,
  type Logger,
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

const userSchema = new Schema<UserDocument>(
  {
    _id: { type: String, required: true },
    username: { type: String, required: true },
    usernameLower: { type: String, required: true },
    emailLower: String,
    email: String,
    name: String,
    phone: String,
    role: { type: String, enum: ['user', 'admin'], required: true },
    passwordHash: { type: String, required: true },
    avatar: new Schema<StoredAvatar>(
      { id: { type: String, required: true }, size: { type: Number, required: true } },
      { _id: false },
    ),
    roleChangePending: Boolean,
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);
for (const { field, sparse } of uniqueIndexes) userSchema.index({ [field]: 1 }, { unique: true, sparse });

/**
 * The `users` collection in MongoDB, through mongoose with plain objects out. Documents are read whole
 * (FerretDB 1.24 has no projection in findAndModify); `toUser` is what keeps the hash inside.
 */
export class MongoUserStore implements UserStore {
  private readonly model: Model<UserDocument>;

  private constructor(
    private readonly connection: Connection,
    private readonly findIn: FindIn,
  ) {
    this.model = connection.model<UserDocument>('User', userSchema, 'users');
  }

  /** Connects, creates the collection and its unique indexes if missing, and returns the store. */
  static async open(url: string, logger: Logger): Promise<MongoUserStore> {
    const connection = await connectMongo(url, { appName: 'users-service', logger });
    try {
      const store = new MongoUserStore(connection, (await manyValueQueriesFor(connection)).findIn);
      await store.model.createCollection();
      await store.model.createIndexes();
      return store;
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  async create(user: NewUser): Promise<User> {
    const document = toDocument(user);
    try {
      await this.model.create(document);
    } catch (error) {
      throw await this.conflictOf(error, document);
    }
    return toUser(document);
  }

  async findById(id: string): Promise<User | undefined> {
    const document = await this.model.findById(id).lean<UserDocument>();
    return document ? toUser(document) : undefined;
  }

  async findByIds(ids: readonly string[]): Promise<User[]> {
    const users = this.connection.collection<UserDocument>('users');
    return (await this.findIn(users, '_id', ids)).map(toUser);
  }

  async findCredentials(by: { id: string } | { login: string }): Promise<Credentials | undefined> {
    const filter = 'id' in by ? { _id: by.id } : loginFilter(by.login);
    const document = await this.model.findOne(filter).lean<UserDocument>();
    return document ? { user: toUser(document), passwordHash: document.passwordHash } : undefined;
  }

  async list(query: ListQuery): Promise<User[]> {
    const documents = await this.model
      .find(listFilter(query))
      .sort({ usernameLower: 1 })
      .limit(query.limit)
      .lean<UserDocument[]>();
    return documents.map(toUser);
  }

  async update(id: string, changes: UserChanges): Promise<User | undefined> {
    try {
      const document = await this.model
        .findOneAndUpdate({ _id: id }, toUpdate(changes), { returnDocument: 'after' })
        .lean<UserDocument>();
      return document ? toUser(document) : undefined;
    } catch (error) {
      // Only the email of an existing user can collide on update: the username never changes.
      if (duplicateKeyField(error) !== undefined) throw emailTaken();
      throw error;
    }
  }

  async remove(id: string, whileAvatar?: string | null): Promise<boolean> {
    const filter = whileAvatar === undefined ? { _id: id } : avatarFilter(id, whileAvatar);
    const result = await this.model.deleteOne(filter);
    return result.deletedCount === 1;
  }

  async findAvatar(id: string): Promise<{ avatar: StoredAvatar | null } | undefined> {
    const document = await this.model.findById(id).lean<UserDocument>();
    return document ? { avatar: document.avatar ?? null } : undefined;
  }

  async swapAvatar(
    id: string,
    from: string | null,
    to: StoredAvatar | null,
    at: Date,
  ): Promise<User | undefined> {
    const document = await this.model
      .findOneAndUpdate(avatarFilter(id, from), avatarUpdate(to, at), { returnDocument: 'after' })
      .lean<UserDocument>();
    return document ? toUser(document) : undefined;
  }

  async setRole(
    usernameLower: string,
    role: Role,
    at: Date,
  ): Promise<{ user: User; changed: boolean } | undefined> {
    const document = await this.model
      .findOneAndUpdate(
        { usernameLower, role: { $ne: role } },
        { $set: { role, updatedAt: at, roleChangePending: true } },
        { returnDocument: 'after' },
      )
      .lean<UserDocument>();
    if (document) return { user: toUser(document), changed: true };
    const unchanged = await this.model.findOne({ usernameLower }).lean<UserDocument>();
    return unchanged ? { user: toUser(unchanged), changed: false } : undefined;
  }

  async pendingRoleChanges(): Promise<User[]> {
    return (await this.model.find({ roleChangePending: true }).lean<UserDocument[]>()).map(toUser);
  }

  async roleChangeAnnounced(id: string): Promise<void> {
    await this.model.updateOne({ _id: id }, { $unset: { roleChangePending: 1 } });
  }

  ping(): Promise<boolean> {
    return mongoReachable(this.connection);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /**
   * The ConflictError for a duplicate-key error on insert. MongoDB names the first index that refused,
   * FerretDB 1.24 names none (its message has only the collection): when the username is taken too,
   * that is the answer either way.
   */
  private async conflictOf(error: unknown, document: UserDocument): Promise<unknown> {
    const field = duplicateKeyField(error);
    if (field === undefined) return error;
    if (field === 'usernameLower' || document.emailLower === undefined) return usernameTaken();
    return (await this.model.exists({ usernameLower: document.usernameLower }))
      ? usernameTaken()
      : emailTaken();
  }
}
