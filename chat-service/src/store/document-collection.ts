import type Datastore from '@seald-io/nedb';
import type { mongo } from 'mongoose';
import { duplicateKeyField, uniqueViolationKey } from '@chat/shared';

/** A MongoDB query or update document; NeDB reads the same operators. */
export type Query = Record<string, unknown>;

/**
 * The few collection operations the rooms-and-people store needs, written once over either database: NeDB
 * (the embedded store) and MongoDB speak the same query language, so one implementation of the rules
 * serves both adapters.
 */
export interface DocumentCollection<T extends { _id: string }> {
  findOne(filter: Query): Promise<T | undefined>;
  find(filter: Query, options?: { sort?: Record<string, 1 | -1>; limit?: number }): Promise<T[]>;
  /** false when a unique key (`_id` included) is taken. */
  insert(document: T): Promise<boolean>;
  /** How many documents changed. */
  update(filter: Query, update: Query, options?: { multi?: boolean }): Promise<number>;
  /** How many documents went. */
  remove(filter: Query, options?: { multi?: boolean }): Promise<number>;
  count(filter: Query): Promise<number>;
  /** Makes what was removed gone from disk too (NeDB rewrites its append-only file); MongoDB: nothing. */
  compact(): Promise<void>;
}

/** A write refused by a unique index, in either database. */
export function isDuplicate(error: unknown): boolean {
  return uniqueViolationKey(error) !== undefined || duplicateKeyField(error) !== undefined;
}

export function nedbCollection<T extends { _id: string }>(
  store: Datastore<T & Record<string, unknown>>,
): DocumentCollection<T> {
  return {
    async findOne(filter) {
      return ((await store.findOneAsync(filter)) as T | null) ?? undefined;
    },
    async find(filter, options = {}) {
      let cursor = store.findAsync(filter);
      if (options.sort) cursor = cursor.sort(options.sort);
      if (options.limit !== undefined) cursor = cursor.limit(options.limit);
      return (await cursor) as T[];
    },
    async insert(document) {
      try {
        await store.insertAsync({ ...document } as T & Record<string, unknown>);
        return true;
      } catch (error) {
        if (isDuplicate(error)) return false;
        throw error;
      }
    },
    async update(filter, update, options = {}) {
      return (await store.updateAsync(filter, update, { multi: options.multi ?? false })).numAffected;
    },
    remove(filter, options = {}) {
      return store.removeAsync(filter, { multi: options.multi ?? false });
    },
    count(filter) {
      return store.countAsync(filter);
    },
    compact() {
      return store.compactDatafileAsync();
    },
  };
}

export function mongoCollection<T extends { _id: string }>(
  collection: mongo.Collection<T>,
): DocumentCollection<T> {
  const filterOf = (filter: Query) => filter as mongo.Filter<T>;
  return {
    async findOne(filter) {
      return ((await collection.findOne(filterOf(filter))) as T | null) ?? undefined;
    },
    async find(filter, options = {}) {
      let cursor = collection.find(filterOf(filter));
      if (options.sort) cursor = cursor.sort(options.sort);
      if (options.limit !== undefined) cursor = cursor.limit(options.limit);
      return (await cursor.toArray()) as T[];
    },
    async insert(document) {
      try {
        await collection.insertOne(document as mongo.OptionalUnlessRequiredId<T>);
        return true;
      } catch (error) {
        if (isDuplicate(error)) return false;
        throw error;
      }
    },
    async update(filter, update, options = {}) {
      const result = options.multi
        ? await collection.updateMany(filterOf(filter), update as mongo.UpdateFilter<T>)
        : await collection.updateOne(filterOf(filter), update as mongo.UpdateFilter<T>);
      return result.modifiedCount;
    },
    async remove(filter, options = {}) {
      const result = options.multi
        ? await collection.deleteMany(filterOf(filter))
        : await collection.deleteOne(filterOf(filter));
      return result.deletedCount;
    },
    count(filter) {
      return collection.countDocuments(filterOf(filter));
    },
    async compact() {},
  };
}
