/**
 * Preloaded (`node --expose-gc -r server-hook.js <service main>`) into every server process the fan-out
 * benchmark starts, so production code carries no benchmark hooks. Over the IPC channel it answers:
 * `gc` (a full collection, twice, then `process.memoryUsage()`), `memory`, `profile-start` /
 * `profile-stop` (a V8 CPU profile through the inspector, written to the given path) and `heap-census`
 * (after a full collection, the heap's bytes and objects by kind: constructor name for objects, node type
 * for the rest, from a heap snapshot). The process exits when the benchmark that forked it goes away.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { getHeapSnapshot } from 'node:v8';

interface Command {
  benchId: number;
  cmd: 'gc' | 'memory' | 'profile-start' | 'profile-stop' | 'heap-census';
  path?: string;
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: unknown[] } };
  nodes: number[];
  strings: string[];
}

/** Bytes and count of the live heap by kind (`object Foo`, `string`, `closure bar`, ...). */
async function heapCensus(): Promise<Record<string, { bytes: number; count: number }>> {
  const chunks: Buffer[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer);
  const heap = JSON.parse(Buffer.concat(chunks).toString('utf8')) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const [type, name, size] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field));
  const types = heap.snapshot.meta.node_types[type!] as string[];
  const census: Record<string, { bytes: number; count: number }> = {};
  for (let i = 0; i < heap.nodes.length; i += fields.length) {
    const kind = types[heap.nodes[i + type!]!]!;
    const key =
      kind === 'object' || kind === 'closure' ? `${kind} ${heap.strings[heap.nodes[i + name!]!]}` : kind;
    const entry = (census[key] ??= { bytes: 0, count: 0 });
    entry.bytes += heap.nodes[i + size!]!;
    entry.count += 1;
  }
  return census;
}

let session: Session | undefined;

function post<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    session!.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T)));
  });
}

async function answer(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'gc': {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (!gc) throw new Error('started without --expose-gc');
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      return process.memoryUsage();
    }
    case 'memory':
      return process.memoryUsage();
    case 'heap-census':
      return heapCensus();
    case 'profile-start':
      session = new Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
      return { started: true };
    case 'profile-stop': {
      if (!session) throw new Error('no profile running');
      const { profile } = await post<{ profile: unknown }>('Profiler.stop');
      session.disconnect();
      session = undefined;
      writeFileSync(command.path!, JSON.stringify(profile));
      return { path: command.path };
    }
  }
}

if (typeof process.send === 'function') {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: Command) => {
    if (!message || typeof message !== 'object' || typeof message.benchId !== 'number') return;
    answer(message).then(
      (result) => process.send?.({ benchId: message.benchId, ok: true, result }),
      (error: unknown) => process.send?.({ benchId: message.benchId, ok: false, error: String(error) }),
    );
  });
}
