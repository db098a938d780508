import { ConflictError, type Role, type User } from '@chat/shared';

/** A user as signup writes it; the store derives the lower-cased keys it keeps unique. */
export interface NewUser {
  id: string;
  username: string;
  passwordHash: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  role: Role;
  createdAt: Date;
}

/** What an update may change; `null` clears a field, an absent key leaves it. */
export interface UserChanges {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  role?: Role;
  passwordHash?: string;
  updatedAt: Date;
}

/** A user with the hash of their password, for credential checks only. */
export interface Credentials {
  user: User;
  passwordHash: string;
}

/** A user's avatar as stored: the blob (in the `avatars` blob store) that holds the WebP, and its size. */
export interface StoredAvatar {
  /** The blob id, also the avatar's version in its URL: a new one with each new picture. */
  id: string;
  size: number;
}

export interface ListQuery {
  limit: number;
  /** Only usernames (lower-cased) strictly after this one: the keyset cursor. */
  after?: string;
  /** Only usernames starting with this, compared lower-cased. */
  prefix?: string;
}

/**
 * The `users` collection, owned by users-service alone. Every method returns plain `User` records;
 * the password hash leaves the store only through `findCredentials`. Uniqueness of username and email
 * (case-insensitive) is decided by unique indexes, so a conflict is a ConflictError even under races.
 */
export interface UserStore {
  /** Inserts a user; ConflictError USERNAME_TAKEN or EMAIL_TAKEN when the index refuses it. */
  create(user: NewUser): Promise<User>;
  findById(id: string): Promise<User | undefined>;
  /** The users among `ids` that exist, in no particular order. */
  findByIds(ids: readonly string[]): Promise<User[]>;
  /** By id, or by login: a lower-cased username, or a lower-cased email when it contains `@`. */
  findCredentials(by: { id: string } | { login: string }): Promise<Credentials | undefined>;
  /** Users ordered by lower-cased username. */
  list(query: ListQuery): Promise<User[]>;
  /** The user after the change, or undefined when absent; ConflictError EMAIL_TAKEN on a taken email. */
  update(id: string, changes: UserChanges): Promise<User | undefined>;
  /**
   * True when a user was deleted. With `whileAvatar` (a blob id, or null for none), only while the user's
   * avatar is that one, so the caller knows which blob to remove after it.
   */
  remove(id: string, whileAvatar?: string | null): Promise<boolean>;
  /** The user's avatar (null: none), or undefined when there is no such user. */
  findAvatar(id: string): Promise<{ avatar: StoredAvatar | null } | undefined>;
  /**
   * Replaces the user's avatar `from` (a blob id, or null for none) with `to` (null: none); the user after
   * the change, or undefined when there is no such user or their avatar is no longer `from`. A compare and
   * swap, so two changes at once never lose track of a blob.
   */
  swapAvatar(id: string, from: string | null, to: StoredAvatar | null, at: Date): Promise<User | undefined>;
  /**
   * Sets the role of the user named `usernameLower` (the server-side admin command) and marks the change
   * as not yet announced; undefined when no such user exists. A user who already has the role is
   * returned unchanged and unmarked.
   */
  setRole(usernameLower: string, role: Role, at: Date): Promise<{ user: User; changed: boolean } | undefined>;
  /** Users whose role change is not announced yet. */
  pendingRoleChanges(): Promise<User[]>;
  /** The user's role change was announced. */
  roleChangeAnnounced(id: string): Promise<void>;
  /** True when the backing database answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** The stored shape, the same in MongoDB and NeDB. Absent optional fields mean null. */
export interface UserDocument {
  _id: string;
  username: string;
  usernameLower: string;
  /**
   * Absent, never null, when the user has no email: MongoDB's sparse unique index skips absent fields,
   * and FerretDB 1.24 (which accepts `sparse` but ignores it) lets absent fields repeat but not nulls.
   */
  emailLower?: string;
  email?: string;
  name?: string;
  phone?: string;
  role: Role;
  passwordHash: string;
  avatar?: StoredAvatar;
  /** The admin command changed the role and no event has said so yet (announced at the next start-up). */
  roleChangePending?: true;
  createdAt: Date;
  updatedAt: Date;
}

/** The unique indexes both adapters create. */
export const uniqueIndexes = [
  { field: 'usernameLower', sparse: false },
  { field: 'emailLower', sparse: true },
] as const;

export function toDocument(user: NewUser): UserDocument {
  const document: UserDocument = {
    _id: user.id,
    username: user.username,
    usernameLower: user.username.toLowerCase(),
    role: user.role,
    passwordHash: user.passwordHash,
    createdAt: user.createdAt,
    updatedAt: user.createdAt,
  };
  if (user.name !== null) document.name = user.name;
  if (user.email !== null) {
    document.email = user.email;
    document.emailLower = user.email.toLowerCase();
  }
  if (user.phone !== null) document.phone = user.phone;
  return document;
}

export function toUser(document: UserDocument): User {
  return {
    id: document._id,
    username: document.username,
    name: document.name ?? null,
    email: document.email ?? null,
    phone: document.phone ?? null,
    avatarUrl: document.avatar ? avatarUrl(document._id, document.avatar.id) : null,
    role: document.role,
    createdAt: document.createdAt.toISOString(),
    updatedAt: document.updatedAt.toISOString(),
  };
}

/** `$set`/`$unset` for a change, in the operator syntax MongoDB and NeDB share. */
export function toUpdate(changes: UserChanges): {
  $set: Record<string, unknown>;
  $unset?: Record<string, true>;
} {
  const $set: Record<string, unknown> = { updatedAt: changes.updatedAt };
  const $unset: Record<string, true> = {};
  for (const field of ['name', 'phone'] as const) {
    const value = changes[field];
    if (value === null) $unset[field] = true;
    else if (value !== undefined) $set[field] = value;
  }
  if (changes.email === null) {
    $unset.email = true;
    $unset.emailLower = true;
  } else if (changes.email !== undefined) {
    $set.email = changes.email;
    $set.emailLower = changes.email.toLowerCase();
  }
  if (changes.role !== undefined) $set.role = changes.role;
  if (changes.passwordHash !== undefined) $set.passwordHash = changes.passwordHash;
  return Object.keys($unset).length > 0 ? { $set, $unset } : { $set };
}

/** Where a user's avatar is served (no token needed), its blob id as the version: a new URL for a new picture. */
export function avatarUrl(userId: string, blobId: string): string {
  return `/api/users/${encodeURIComponent(userId)}/avatar?v=${blobId}`;
}

/** The filter for a user whose avatar is `blobId` (null: who has none), in the syntax MongoDB and NeDB share. */
export function avatarFilter(id: string, blobId: string | null): Record<string, unknown> {
  return blobId === null ? { _id: id, avatar: { $exists: false } } : { _id: id, 'avatar.id': blobId };
}

/** The change that makes a user's avatar `to` (null: none). */
export function avatarUpdate(to: StoredAvatar | null, at: Date): Record<string, unknown> {
  return to === null
    ? { $set: { updatedAt: at }, $unset: { avatar: true } }
    : { $set: { updatedAt: at, avatar: { id: to.id, size: to.size } } };
}

/** The filter for a login: emails hold `@`, usernames cannot, so one field is enough. */
export function loginFilter(login: string): Record<string, string> {
  return login.includes('@') ? { emailLower: login } : { usernameLower: login };
}

/**
 * The filter for one page: a range on `usernameLower` (never a regex built from input), from the prefix
 * up to the prefix followed by the highest code unit, and past the cursor.
 */
export function listFilter(query: ListQuery): Record<string, unknown> {
  const range: Record<string, string> = {};
  if (query.prefix) {
    range.$gte = query.prefix;
    range.$lt = `${query.prefix}\uffff`;
  }
  if (query.after !== undefined) range.$gt = query.after;
  return Object.keys(range).length > 0 ? { usernameLower: range } : {};
}

export function usernameTaken(): ConflictError {
  return new ConflictError('USERNAME_TAKEN', 'That username is taken.');
}

export function emailTaken(): ConflictError {
  return new ConflictError('EMAIL_TAKEN', 'That email belongs to another user.');
}
