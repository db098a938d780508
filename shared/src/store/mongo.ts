import mongoose from 'mongoose';
import { UpstreamUnavailableError } from '../errors';
import type { Logger } from '../logger';

/** How often the driver checks the server when idle. */
const HEARTBEAT_MS = 1_000;
/** Driver errors that mean the database cannot be reached now, not that the request was wrong. */
const UNAVAILABLE_ERRORS = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MongoServerClosedError',
]);

/**
 * A mongoose connection of a service's own: models registered on it never leak between services that
 * share one process. Plain objects out (`lean`), never documents, is each adapter's job.
 */
export async function connectMongo(
  url: string,
  options: { appName: string; logger: Logger },
): Promise<mongoose.Connection> {
  const connection = mongoose.createConnection(url, {
    appName: options.appName,
    // Also how long an operation waits for a lost database before it fails with 503 (mongoose buffers
    // commands only until the first connection; after that the driver's server selection decides).
    serverSelectionTimeoutMS: 5_000,
    // The driver checks the server this often (default 10 s): how soon an idle service learns that the
    // database went away (readiness, upgrades refused 503) or came back (issue 15).
    heartbeatFrequencyMS: HEARTBEAT_MS,
    connectTimeoutMS: 5_000,
    socketTimeoutMS: 30_000,
    maxPoolSize: 20,
    autoIndex: false,
    autoCreate: false,
  });
  connection.on('disconnected', () => options.logger.warn('mongodb disconnected'));
  connection.on('reconnected', () => options.logger.info('mongodb reconnected'));
  await connection.asPromise();
  return connection;
}

/** Whether the connection is up now, with no round trip. */
export function mongoConnected(connection: mongoose.Connection): boolean {
  return connection.readyState === mongoose.ConnectionStates.connected;
}

/**
 * The error to answer with when `error` says the database is out of reach (a lost connection, no server
 * to select, an operation that waited too long for the connection to come back); undefined otherwise.
 */
export function storeUnavailable(error: unknown): UpstreamUnavailableError | undefined {
  if (!(error instanceof Error)) return undefined;
  const lost =
    UNAVAILABLE_ERRORS.has(error.name) ||
    (error.name === 'MongooseError' && /buffering timed out/.test(error.message));
  return lost ? new UpstreamUnavailableError('The database is unavailable.', error) : undefined;
}

/** True once the connection answers a ping; the readiness check. */
export async function mongoReachable(connection: mongoose.Connection): Promise<boolean> {
  if (!mongoConnected(connection) || !connection.db) return false;
  await connection.db.admin().command({ ping: 1 });
  return true;
}

/**
 * The index key a duplicate-key error (11000) is about, e.g. `usernameLower`, `''` when the error does not
 * say, or undefined for other errors. FerretDB 1.24 reports a unique violation on an update (not on an
 * insert) as InternalError (code 1) with SQLite's "UNIQUE constraint failed: index '<coll>_<hash>_<name>'".
 */
export function duplicateKeyField(error: unknown): string | undefined {
  const mongoError = error as { code?: number; keyPattern?: Record<string, unknown>; message?: string };
  const message = mongoError?.message ?? '';
  if (mongoError?.code === 1 && message.includes('UNIQUE constraint failed')) {
    return /index '\w*?_[0-9a-f]{8}_(\w+?)_-?1/.exec(message)?.[1] ?? '';
  }
  if (mongoError?.code !== 11000) return undefined;
  if (mongoError.keyPattern) return Object.keys(mongoError.keyPattern)[0];
  return /index: (?:\w+\.)*?(\w+?)_1/.exec(message)?.[1] ?? '';
}

/** Documents of `collection` whose `field` is one of `values` (see {@link manyValueQueriesFor}). */
export type FindIn = <T extends mongoose.mongo.Document>(
  collection: mongoose.mongo.Collection<T>,
  field: string,
  values: readonly unknown[],
  options?: mongoose.mongo.FindOptions,
) => Promise<mongoose.mongo.WithId<T>[]>;

/** How many documents of `collection` have each of `values` in `field` (absent: none). */
export type CountIn = <T extends mongoose.mongo.Document>(
  collection: mongoose.mongo.Collection<T>,
  field: string,
  values: readonly string[],
) => Promise<Map<string, number>>;

/**
 * How this server is best asked about documents whose field is one of many values. MongoDB answers
 * `{field: {$in: values}}` (a find, or an aggregation that counts) from the field's index in one round
 * trip. FerretDB 1.24 hands only equalities to its backend (https://docs.ferretdb.io/pushdown) and answers
 * `$in`, even on `_id`, by reading and decoding the whole collection (measured here: 84 ms for 50 ids among
 * 1,250 users on PostgreSQL, 5 s for 40 such lookups at once), so against it each value goes out as an
 * equality of its own, in parallel.
 */
export async function manyValueQueriesFor(
  connection: mongoose.Connection,
): Promise<{ findIn: FindIn; countIn: CountIn }> {
  const info = await connection.db!.admin().command({ buildInfo: 1 });
  const oneByOne = 'ferretdbVersion' in info;
  const findIn: FindIn = async (collection, field, values, options) => {
    if (values.length === 0) return [];
    if (oneByOne && values.length > 1) {
      const each = await Promise.all(
        values.map((value) => collection.find({ [field]: value } as never, options).toArray()),
      );
      return each.flat();
    }
    return collection.find({ [field]: { $in: [...values] } } as never, options).toArray();
  };
  const countIn: CountIn = async (collection, field, values) => {
    if (oneByOne || values.length === 1) {
      const counts = await Promise.all(
        values.map(
          async (value) => [value, await collection.countDocuments({ [field]: value } as never)] as const,
        ),
      );
      return new Map(counts);
    }
    if (values.length === 0) return new Map();
    const groups = await collection
      .aggregate<{ _id: string; count: number }>([
        { $match: { [field]: { $in: [...values] } } },
        { $group: { _id: `$${field}`, count: { $sum: 1 } } },
      ])
      .toArray();
    return new Map(groups.map(({ _id, count }) => [_id, count]));
  };
  return { findIn, countIn };
}
