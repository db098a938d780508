import { randomUUID } from 'node:crypto';
import {
  decodeCursor,
  encodeCursor,
  ForbiddenError,
  InvalidCredentialsError,
  NotFoundError,
  toUserPublic,
  UnauthenticatedError,
  ValidationError,
  type Role,
  type User,
  type UserPublic,
  type WindowLimiter,
} from '@chat/shared';
import { emailTaken, usernameTaken, type UserChanges, type UserStore } from '../store/user.store';
import type { AvatarService } from './avatars.service';
import type { PasswordHasher } from './password-hasher';
import { PasswordAttemptLimiter } from './password-attempts';
import type { UserEvents } from './user-events';
import { CallerGoneError, type WorkLane } from './work-lane';

export interface SignupInput {
  username: string;
  password: string;
  name?: string | null;
  email?: string | null;
  phone?: string | null;
}

export interface UpdateInput {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  password?: string;
  currentPassword?: string;
  role?: Role;
}

export interface ListInput {
  limit: number;
  cursor?: string;
  q?: string;
}

export interface UserPage {
  items: UserPublic[];
  nextCursor: string | null;
}

/** Where a signup comes from, and whether its caller still waits for the answer. */
export interface SignupContext {
  /** The client address as the limit counts it (`clientAddressKey`). */
  address: string;
  /** Aborted when the caller went away (the gateway gave up on the request): nothing is then kept. */
  signal?: AbortSignal;
}

export interface UsersServiceDeps {
  store: UserStore;
  hasher: PasswordHasher;
  events: UserEvents;
  /** Signups per client address per hour (issue 9, finding 5). */
  signupLimiter: WindowLimiter;
  /** Where new password hashes (signups, password changes) wait their turn: bounded, never without end. */
  hashLane: WorkLane;
  /** Deletes a user together with their avatar. */
  avatars: Pick<AvatarService, 'removeUser'>;
  now?: () => Date;
}

/**
 * The user use cases. Callers pass the id of the signed-in user (the token's `sub`); their role is read
 * from the store, not the token, so a demotion or a deletion takes effect on the next request.
 */
export class UsersService {
  private readonly now: () => Date;
  /** Wrong current passwords: 5 per user per 15 minutes, then 429 until the window closes. */
  private readonly passwordAttempts = new PasswordAttemptLimiter({ maxWrong: 5, windowSeconds: 900 });

  constructor(private readonly deps: UsersServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * A new account, always with role `user` (admins are made by an admin or by the server-side command).
   *
   * A signup either answers 201 or leaves nothing behind (issue 9, finding 5), so a client that got a 503
   * from the gateway can retry without meeting USERNAME_TAKEN: a taken name is found before any hashing;
   * the hash waits its turn in a bounded lane (503 with Retry-After past its bounds, nothing written); and
   * once the account is written it is removed again when the caller has gone meanwhile (the gateway timed
   * out) or its announcement fails. The lane's wait is bounded well below the gateway's upstream timeout,
   * so a signup normally answers before the gateway gives up.
   */
  async signup(input: SignupInput, context: SignupContext): Promise<User> {
    await this.assertAvailable(input);
    this.deps.signupLimiter.reserve(context.address, this.now());
    let passwordHash: string;
    try {
      passwordHash = await this.deps.hashLane.run(
        () => this.deps.hasher.hash(input.password),
        context.signal,
      );
    } catch (error) {
      // Refused by the lane, or its caller went away: no account, so the address keeps its budget.
      this.deps.signupLimiter.release(context.address);
      throw error;
    }
    if (context.signal?.aborted) throw new CallerGoneError();
    const user = await this.deps.store.create({
      id: randomUUID(),
      username: input.username,
      passwordHash,
      name: input.name ?? null,
      email: input.email ?? null,
      phone: input.phone ?? null,
      role: 'user',
      createdAt: this.now(),
    });
    try {
      if (context.signal?.aborted) throw new CallerGoneError();
      await this.deps.events.created(user);
    } catch (error) {
      // Nobody else knows of the account yet (it was never announced, or the announcement failed): take it
      // back, so the answer the client saw (an error) is the truth.
      await this.deps.store.remove(user.id);
      this.deps.signupLimiter.release(context.address);
      throw error;
    }
    return user;
  }

  /** USERNAME_TAKEN / EMAIL_TAKEN before any work; the unique indexes still decide under races. */
  private async assertAvailable(input: SignupInput): Promise<void> {
    if (await this.deps.store.findCredentials({ login: input.username.toLowerCase() })) throw usernameTaken();
    if (input.email && (await this.deps.store.findCredentials({ login: input.email.toLowerCase() })))
      throw emailTaken();
  }

  /** Public profiles ordered by username, `q` a case-insensitive username prefix. */
  async list(actorId: string, input: ListInput): Promise<UserPage> {
    await this.actor(actorId);
    const after = input.cursor ? String(decodeCursor(input.cursor, 1)[0]) : undefined;
    const users = await this.deps.store.list({
      limit: input.limit + 1,
      after,
      prefix: input.q ? input.q.toLowerCase() : undefined,
    });
    const items = users.slice(0, input.limit);
    const last = items[items.length - 1];
    return {
      items: items.map(toUserPublic),
      nextCursor: users.length > input.limit && last ? encodeCursor([last.username.toLowerCase()]) : null,
    };
  }

  me(actorId: string): Promise<User> {
    return this.actor(actorId);
  }

  /** The full view for the user themselves or an admin, else the public one. */
  async view(actorId: string, id: string): Promise<User | UserPublic> {
    const actor = await this.actor(actorId);
    const user = actor.id === id ? actor : await this.deps.store.findById(id);
    if (!user) throw new NotFoundError('The user');
    return actor.id === id || actor.role === 'admin' ? user : toUserPublic(user);
  }

  /**
   * A new password ends the user's other sessions (through the update event): all of them when an admin
   * set it, all but `actorSessionId` (the token's `sid`) when the user changed their own. That event goes
   * out before the write, as a deletion's does (issue 15): if it cannot be published nothing has changed
   * and the request can be retried, whereas a password changed without it would leave the sessions it
   * should end alive, and the user's own retry would be refused (the current password is no longer the
   * one they send). It carries the user as stored before the change; the usual update event follows
   * the write. Ending sessions for a change that then fails is harmless.
   */
  async update(actorId: string, id: string, input: UpdateInput, actorSessionId?: string): Promise<User> {
    const actor = await this.actor(actorId);
    const self = actor.id === id;
    if (!self && actor.role !== 'admin') throw new ForbiddenError('You may change only your own account.');
    if (input.role !== undefined && actor.role !== 'admin')
      throw new ForbiddenError('Only an admin may set a role.');
    const changes: UserChanges = { updatedAt: this.now() };
    if (input.name !== undefined) changes.name = input.name;
    if (input.email !== undefined) changes.email = input.email;
    if (input.phone !== undefined) changes.phone = input.phone;
    if (input.role !== undefined) changes.role = input.role;
    if (input.password !== undefined) {
      if (self) await this.checkCurrentPassword(id, input.currentPassword);
      const password = input.password;
      changes.passwordHash = await this.deps.hashLane.run(() => this.deps.hasher.hash(password));
      const before = self ? actor : await this.deps.store.findById(id);
      if (!before) throw new NotFoundError('The user');
      const keep = self && actorSessionId !== undefined ? { keepSessionId: actorSessionId } : {};
      await this.deps.events.updated(before, { passwordChanged: keep });
    }
    const user = await this.deps.store.update(id, changes);
    if (!user) throw new NotFoundError('The user');
    await this.deps.events.updated(user);
    return user;
  }

  async remove(actorId: string, id: string): Promise<void> {
    const actor = await this.actor(actorId);
    if (actor.id !== id && actor.role !== 'admin')
      throw new ForbiddenError('You may delete only your own account.');
    if (!(await this.deps.store.findById(id))) throw new NotFoundError('The user');
    // Announced before the removal: if publishing fails the user still exists and a retry finishes the job,
    // whereas a user removed without the event would keep live sessions. Revoking a user who stays is harmless.
    await this.deps.events.deleted(id, this.now());
    if (!(await this.deps.avatars.removeUser(id))) throw new NotFoundError('The user');
  }

  /** The user whose login (username or email, any case) and password match; else InvalidCredentialsError. */
  async verifyCredentials(login: string, password: string): Promise<User> {
    const credentials = await this.deps.store.findCredentials({ login: login.toLowerCase() });
    const matches = await this.deps.hasher.verify(password, credentials?.passwordHash);
    if (!credentials || !matches) throw new InvalidCredentialsError();
    return credentials.user;
  }

  /** The id of the account a login (username or email, any case) names, or null; for login limits. */
  async resolveLogin(login: string): Promise<string | null> {
    return (await this.deps.store.findCredentials({ login: login.toLowerCase() }))?.user.id ?? null;
  }

  /** Public profiles of the users among `ids` that exist. */
  async publicUsers(ids: readonly string[]): Promise<UserPublic[]> {
    return (await this.deps.store.findByIds(ids)).map(toUserPublic);
  }

  /**
   * Announces the role changes the server-side command made while it could not announce them (no bus, or
   * the embedded store, which it changes only while users-service is stopped); run at start-up.
   */
  async announcePendingRoleChanges(): Promise<User[]> {
    const pending = await this.deps.store.pendingRoleChanges();
    for (const user of pending) {
      await this.deps.events.updated(user);
      await this.deps.store.roleChangeAnnounced(user.id);
    }
    return pending;
  }

  /** The signed-in user; a token whose account is gone is no longer a way in. */
  private async actor(actorId: string): Promise<User> {
    const actor = await this.deps.store.findById(actorId);
    if (!actor) throw new UnauthenticatedError('The account no longer exists.');
    return actor;
  }

  private async checkCurrentPassword(id: string, currentPassword: string | undefined): Promise<void> {
    if (currentPassword === undefined) {
      throw new ValidationError([
        { path: 'currentPassword', message: 'is required to change your own password' },
      ]);
    }
    this.passwordAttempts.reserve(id, this.now());
    const credentials = await this.deps.store.findCredentials({ id });
    if (!(await this.deps.hasher.verify(currentPassword, credentials?.passwordHash))) {
      throw new ForbiddenError('The current password is wrong.');
    }
    this.passwordAttempts.succeeded(id);
  }
}
