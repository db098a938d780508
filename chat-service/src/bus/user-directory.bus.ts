import {
  subjects,
  toUserPublic,
  type Bus,
  type Logger,
  type Subscription,
  type UserPublic,
} from '@chat/shared';
import type { UserDirectory } from '../domain/ports';

/** users-service answers at most this many ids per request (subjects.getPublicUsers). */
const IDS_PER_REQUEST = 200;
const REQUEST_TIMEOUT_MS = 3_000;
/** Deleted user ids remembered (ids are never reused); enough to outlive any lookup under way. */
const DELETED_KEPT = 10_000;

interface Waiter {
  resolve: (profile: UserPublic | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Public profiles from users-service over the bus (`users.v1.get-public`), cached in this process and
 * kept fresh by the user events: every instance follows `user.updated` itself (no durable name) and
 * forgets deleted users. Lookups made in one tick go out together, 200 ids per request, and an id already
 * asked for waits for that answer, so a burst of connections costs a few requests rather than one each,
 * even when users-service answers slowly (asking again meanwhile would only add to what slows it).
 */
export class BusUserDirectory implements UserDirectory {
  private readonly cache = new Map<string, UserPublic>();
  private readonly deleted = new Set<string>();
  /** Ids asked for and not yet answered: later asks wait for the same answer instead of asking again. */
  private readonly lookups = new Map<string, Promise<UserPublic | undefined>>();
  /** Ids to ask for at the next turn of the event loop. */
  private pending = new Map<string, Waiter>();
  private scheduled = false;
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly maxEntries = 50_000,
  ) {}

  async start(): Promise<void> {
    this.subscriptions = await Promise.all([
      this.bus.consume(subjects.userUpdated.subject, (message) => {
        const parsed = subjects.userUpdated.schema.safeParse(message.data);
        if (!parsed.success) {
          this.logger.warn('ignored a malformed user event', { subject: message.subject });
          return;
        }
        const user = toUserPublic(parsed.data.user);
        if (this.cache.has(user.id)) this.remember(user);
      }),
      this.bus.consume(subjects.userDeleted.subject, (message) => {
        const parsed = subjects.userDeleted.schema.safeParse(message.data);
        if (!parsed.success) {
          this.logger.warn('ignored a malformed user event', { subject: message.subject });
          return;
        }
        this.cache.delete(parsed.data.userId);
        this.deleted.add(parsed.data.userId);
        if (this.deleted.size > DELETED_KEPT)
          this.deleted.delete(this.deleted.values().next().value as string);
      }),
    ]);
  }

  async stop(): Promise<void> {
    await Promise.all(this.subscriptions.map((subscription) => subscription.unsubscribe()));
    this.subscriptions = [];
  }

  async get(id: string): Promise<UserPublic | undefined> {
    return (await this.find([id])).get(id);
  }

  async find(ids: readonly string[]): Promise<Map<string, UserPublic>> {
    const found = new Map<string, UserPublic>();
    const waits: Promise<void>[] = [];
    for (const id of ids) {
      const cached = this.cache.get(id);
      if (cached) {
        found.set(id, cached);
        continue;
      }
      const lookup = this.lookups.get(id) ?? this.lookUp(id);
      waits.push(
        lookup.then((profile) => {
          if (profile) found.set(id, profile);
        }),
      );
    }
    await Promise.all(waits);
    return found;
  }

  /** Asks for `id` with the others asked for in this tick; forgotten once answered, so a failure is retried. */
  private lookUp(id: string): Promise<UserPublic | undefined> {
    const lookup = new Promise<UserPublic | undefined>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
    });
    this.lookups.set(id, lookup);
    const forget = () => {
      if (this.lookups.get(id) === lookup) this.lookups.delete(id);
    };
    lookup.then(forget, forget);
    this.schedule();
    return lookup;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.pending;
      this.pending = new Map();
      const ids = [...batch.keys()];
      for (let i = 0; i < ids.length; i += IDS_PER_REQUEST)
        void this.fetch(ids.slice(i, i + IDS_PER_REQUEST), batch);
    });
  }

  private async fetch(ids: string[], batch: Map<string, Waiter>): Promise<void> {
    try {
      const reply = subjects.getPublicUsersReply.schema.parse(
        await this.bus.request(subjects.getPublicUsers.subject, { ids }, { timeoutMs: REQUEST_TIMEOUT_MS }),
      );
      // A lookup that was under way when the user was deleted must not bring the profile back.
      const live = reply.users.filter((user) => !this.deleted.has(user.id));
      const profiles = new Map(live.map((user) => [user.id, user]));
      for (const user of live) this.remember(user);
      for (const id of ids) batch.get(id)?.resolve(profiles.get(id));
    } catch (error) {
      for (const id of ids) batch.get(id)?.reject(error);
    }
  }

  private remember(user: UserPublic): void {
    this.cache.delete(user.id);
    this.cache.set(user.id, user);
    if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }
}
