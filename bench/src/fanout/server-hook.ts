/**
 * Preloaded (`node --expose-gc -r server-hook.js <service main>`) into every server process the fan-out
 * benchmark starts, so production code carries no benchmark hooks. Over the IPC channel it answers:
 * `gc` (a full collection, twice, then `process.memoryUsage()`), `memory`, and `profile-start` /
 * `profile-stop` (a V8 CPU profile through the inspector, written to the given path). The process exits
 * when the benchmark that forked it goes away.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

interface Command {
  benchId: number;
  cmd: 'gc' | 'memory' | 'profile-start' | 'profile-stop';
  path?: string;
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
