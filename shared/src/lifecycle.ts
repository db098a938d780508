import type { Logger } from './logger';
import { createLogger } from './logger';

/** What every service's `createApp` returns (conventions.md): start listening, stop in order. */
export interface ServiceApp {
  /** Resolves with the URL the service listens on. */
  start(): Promise<{ url: string }>;
  /** Stops accepting, drains, closes the bus and the store; bounded by the shutdown deadline. */
  stop(): Promise<void>;
  logger: Logger;
}

/**
 * Runs a service as a process: start, then stop once on SIGTERM/SIGINT, exit non-zero on a failed start
 * or an uncaught error. A configuration error is printed plainly and exits 78 (EX_CONFIG).
 */
export function runService(name: string, build: () => ServiceApp): void {
  let app: ServiceApp;
  try {
    app = build();
  } catch (error) {
    const fallback = createLogger(name, 'error');
    fallback.error('cannot start', { error });
    process.exitCode = error instanceof Error && error.name === 'ConfigError' ? 78 : 1;
    return;
  }
  const { logger } = app;
  let stopping = false;
  const stop = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { reason });
    try {
      await app.stop();
    } catch (error) {
      // An AggregateError (the one-process run stops every part, then reports them all) names its causes.
      const causes = error instanceof AggregateError ? { causes: error.errors } : {};
      logger.error('stop failed', { error, ...causes });
      code = code || 1;
    }
    process.exit(code);
  };
  process.once('SIGTERM', () => void stop('SIGTERM', 0));
  process.once('SIGINT', () => void stop('SIGINT', 0));
  process.on('uncaughtException', (error) => {
    logger.error('uncaught exception', { error });
    void stop('uncaughtException', 1);
  });
  process.on('unhandledRejection', (error) => {
    logger.error('unhandled rejection', { error });
    void stop('unhandledRejection', 1);
  });
  app.start().then(
    ({ url }) => logger.info('listening', { url }),
    (error: unknown) => {
      logger.error('start failed', { error });
      void stop('start failed', 1);
    },
  );
}

/**
 * What a service's `start()` has opened, undone latest first: each step pushes its closer as it succeeds,
 * so the stop order is the reverse of the start order (conventions.md: stop accepting, drain, bus, store).
 */
export class Closers {
  private readonly stack: Array<() => Promise<void>> = [];

  constructor(private readonly service: string) {}

  push(close: () => Promise<void>): void {
    this.stack.push(close);
  }

  /** Runs every closer, latest first, even when one fails; then reports the failures together. */
  async closeAll(): Promise<void> {
    const failures: unknown[] = [];
    while (this.stack.length > 0) await this.stack.pop()!().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw new AggregateError(failures, `${this.service} did not close cleanly`);
  }

  /** After a failed start: closes what was opened (a failure to is logged, not thrown), then rethrows `error`. */
  async abandon(error: unknown, logger: Logger): Promise<never> {
    await this.closeAll().catch((closeError: unknown) =>
      logger.warn('cleanup after a failed start failed', { error: closeError }),
    );
    throw error;
  }
}

/** `work`, or a rejection naming `what` once `ms` have passed. */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
