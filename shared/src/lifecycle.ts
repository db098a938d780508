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
      logger.error('stop failed', { error });
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
