import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '../..');

/**
 * The path of an executable the tests and benchmarks start themselves (`nats-server`, `ferretdb`), or
 * undefined. `.tools/bin` first: it holds the versions the project pins, where PATH may hold an older
 * distro build. Synchronous, so a suite can decide at load time whether it runs.
 */
export function toolBinary(name: string): string | undefined {
  const dirs = [path.join(REPO_ROOT, '.tools', 'bin'), ...(process.env.PATH ?? '').split(path.delimiter)];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory; try the next.
    }
  }
  return undefined;
}
