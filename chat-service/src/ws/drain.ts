import { WebSocket } from 'ws';
import { CloseCode } from '@chat/protocol';
import type { ClientSocket } from './client-socket';

/**
 * Closes `clients` with 1012, spread evenly over `spreadMs` so they do not all reconnect at once; sockets
 * still open at `deadlineMs` are cut.
 */
export async function drainSockets(
  clients: readonly ClientSocket[],
  spreadMs: number,
  deadlineMs: number,
): Promise<void> {
  if (clients.length === 0) return;
  const closed = Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.ws.readyState === WebSocket.CLOSED) resolve();
          else client.ws.once('close', () => resolve());
        }),
    ),
  );
  const timers = clients.map((client, index) =>
    setTimeout(
      () => client.close(CloseCode.RESTARTING, 'This chat instance is restarting; reconnect.'),
      (spreadMs * index) / clients.length,
    ),
  );
  let deadline: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    deadline = setTimeout(resolve, deadlineMs);
  });
  await Promise.race([closed, late]);
  clearTimeout(deadline);
  for (const timer of timers) clearTimeout(timer);
  for (const client of clients) client.terminate();
}
