import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Datastore from '@seald-io/nedb';

const open = new Map<string, Datastore>();

/**
 * The data files hold password hashes, session secrets' hashes and the signing key (issue 9, finding 7):
 * readable by the service's own user only. NeDB applies these to the files it creates and rewrites.
 */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

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
    mkdirSync(path.dirname(filename), { recursive: true, mode: DIR_MODE });
    // Files written before modes were set keep theirs until their next compaction: set them now.
    for (const existing of [filename, `${filename}~`]) {
      try {
        chmodSync(existing, FILE_MODE);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    store = new Datastore({ filename, autoload: false, modes: { fileMode: FILE_MODE, dirMode: DIR_MODE } });
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

/**
 * Marks `<dataDir>/<name>.lock` as held by this process (its pid), for as long as a service keeps its
 * embedded collections open; the returned function lets go. Only a command that changes the files from
 * another process reads it (see {@link embeddedLockHolder}): two processes must not share NeDB files, since
 * the one still running rewrites them from memory at its next compaction and undoes the other's change.
 */
export function claimEmbeddedLock(dataDir: string, name: string): () => void {
  const file = path.resolve(dataDir, `${name}.lock`);
  mkdirSync(path.dirname(file), { recursive: true, mode: DIR_MODE });
  writeFileSync(file, `${process.pid}\n`, { mode: FILE_MODE });
  return () => {
    if (embeddedLockPid(file) === process.pid) rmSync(file, { force: true });
  };
}

/** The pid of another live process holding `<dataDir>/<name>.lock`, or undefined. */
export function embeddedLockHolder(dataDir: string, name: string): number | undefined {
  const pid = embeddedLockPid(path.resolve(dataDir, `${name}.lock`));
  if (pid === undefined || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: it lives, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

function embeddedLockPid(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
