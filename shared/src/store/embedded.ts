import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Datastore from '@seald-io/nedb';

const open = new Map<string, Datastore>();

/** How often the append-only data files are rewritten without superseded lines. */
const COMPACTION_INTERVAL_MS = 10 * 60_000;

/**
 * One file-backed collection under `dataDir`, shared by everything in this process that opens the same
 * path (services in the one-process run read each other's collections; two Datastores on one file
 * would overwrite each other). The embedded store is for one process only: services in separate
 * processes use MongoDB.
 */
export async function openEmbeddedCollection<T extends Record<string, unknown>>(
  dataDir: string,
  name: string,
): Promise<Datastore<T>> {
  const filename = path.resolve(dataDir, `${name}.db`);
  let store = open.get(filename);
  if (!store) {
    mkdirSync(path.dirname(filename), { recursive: true });
    store = new Datastore({ filename, autoload: false });
    store.setAutocompactionInterval(COMPACTION_INTERVAL_MS);
    open.set(filename, store);
  }
  await store.loadDatabaseAsync();
  return store as unknown as Datastore<T>;
}

/**
 * Compacts and forgets `collections` (as `openEmbeddedCollection` gave them), so a later open reloads them
 * from disk. Only those: in the one-process run other services' collections share the folder and stay open.
 */
export async function closeEmbeddedCollections(collections: readonly Datastore<never>[]): Promise<void> {
  for (const [filename, store] of open) {
    if (!collections.includes(store as Datastore<never>)) continue;
    open.delete(filename);
    store.stopAutocompaction();
    await store.compactDatafileAsync();
  }
}

/**
 * The value that broke a unique index when `error` is NeDB's unique violation (its message does not name
 * the field, so the caller compares it with the values it wrote), else undefined.
 */
export function uniqueViolationKey(error: unknown): unknown {
  const nedbError = error as { errorType?: string; key?: unknown };
  return nedbError?.errorType === 'uniqueViolated' ? nedbError.key : undefined;
}
