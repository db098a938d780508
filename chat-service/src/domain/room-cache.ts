import type { Room } from '@chat/protocol';

/** What the cache reads through: rooms by id and the members of rooms, one query each for many rooms. */
export interface RoomSource {
  getRooms(ids: readonly string[]): Promise<Room[]>;
  memberIdsOf(roomIds: readonly string[]): Promise<Map<string, string[]>>;
}

interface Entry<T> {
  value: Promise<T | undefined>;
  at: number;
}

/** Rooms kept at most; the oldest reads go first. */
const MAX_ROOMS = 20_000;

/**
 * Rooms and their members as read in the last `ttlMs`, for what every socket reads when it opens (its
 * rooms for `hello`, and who of their members is online). A burst of sockets in the same rooms reads each
 * room once, and reads made together go out as one query, so opening a socket costs a bounded number of
 * round trips whatever the room sizes. Changes made through this instance, and membership events it
 * hears, drop the room at once; a change it does not hear of shows within `ttlMs`.
 */
export class RoomCache {
  private readonly rooms = new Map<string, Entry<Room>>();
  private readonly members = new Map<string, Entry<ReadonlySet<string>>>();

  constructor(
    private readonly source: RoomSource,
    private readonly ttlMs = 2_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The rooms of `ids` that exist, in no particular order. */
  async getRooms(ids: readonly string[]): Promise<Room[]> {
    const found = await this.read(this.rooms, ids, async (missing) => {
      const rooms = await this.source.getRooms(missing);
      return new Map(rooms.map((room) => [room.id, room]));
    });
    return [...found.values()];
  }

  /** The member ids of each of `roomIds` (a room that does not exist has none). */
  async memberIdsOf(roomIds: readonly string[]): Promise<Map<string, ReadonlySet<string>>> {
    return this.read(this.members, roomIds, async (missing) => {
      const members = await this.source.memberIdsOf(missing);
      return new Map(missing.map((roomId) => [roomId, new Set(members.get(roomId) ?? [])]));
    });
  }

  /** The room's details or members changed: the next read goes to the store. */
  forget(roomId: string): void {
    this.rooms.delete(roomId);
    this.members.delete(roomId);
  }

  private async read<T>(
    cache: Map<string, Entry<T>>,
    ids: readonly string[],
    load: (missing: string[]) => Promise<Map<string, T>>,
  ): Promise<Map<string, T>> {
    const now = this.now();
    const missing = [...new Set(ids)].filter((id) => {
      const entry = cache.get(id);
      return !entry || now - entry.at >= this.ttlMs;
    });
    if (missing.length > 0) {
      const loading = load(missing);
      const entries = missing.map((id) => {
        const entry: Entry<T> = { value: loading.then((loaded) => loaded.get(id)), at: now };
        cache.delete(id);
        cache.set(id, entry);
        return [id, entry] as const;
      });
      // A failed read is not kept: the next socket asks the store again.
      loading.catch(() => {
        for (const [id, entry] of entries) if (cache.get(id) === entry) cache.delete(id);
      });
      while (cache.size > MAX_ROOMS) cache.delete(cache.keys().next().value as string);
    }
    const values = await Promise.all(ids.map((id) => cache.get(id)?.value));
    const found = new Map<string, T>();
    ids.forEach((id, index) => {
      const value = values[index];
      if (value !== undefined) found.set(id, value);
    });
    return found;
  }
}
