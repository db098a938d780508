import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, type Logger } from '@chat/shared';

/** For tests: every formatted log line, as a file or the console would receive it. */
export class LogCapture {
  readonly lines: string[] = [];
  /** Pass to `createLogger(service, level, [capture.transport])`. */
  readonly transport = new winston.transports.Stream({
    stream: new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    }),
  });

  private readonly loggers = new Map<string, Logger>();

  /** A logger of `service` at `debug` (so every line any level could write is captured), one per name. */
  logger(service: string): Logger {
    let logger = this.loggers.get(service);
    if (!logger) {
      logger = createLogger(service, 'debug', [this.transport]);
      this.loggers.set(service, logger);
    }
    return logger;
  }

  /** The lines as the JSON objects the logger wrote. */
  entries(): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}
