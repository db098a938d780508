import { BadRequestError, UpstreamUnavailableError } from '@chat/shared';

export interface WorkLaneLimits {
  /** Tasks running at once. */
  concurrency: number;
  /** Tasks that may wait for a turn; one more is refused at once. */
  maxQueued: number;
  /** How long a task may wait for its turn before it is refused. */
  maxWaitMs: number;
}

interface Waiting {
  start: () => void;
  timer: NodeJS.Timeout;
}

/**
 * The caller went away (the gateway gave up on the request) before its work was kept: nobody reads the
 * answer, and this is no fault of ours to log as one.
 */
export class CallerGoneError extends BadRequestError {
  override name = 'CallerGoneError';
  constructor() {
    super('The request was abandoned by its caller.');
  }
}

/**
 * Bounded expensive work (issue 9, finding 5): at most `concurrency` tasks run, at most `maxQueued` wait,
 * each for at most `maxWaitMs`. Anything past those bounds is refused at once with 503 (the HTTP edge
 * adds Retry-After) rather than queued without end, and a task whose caller has gone (its signal aborted)
 * leaves the queue without running.
 */
export class WorkLane {
  private running = 0;
  private readonly queue: Waiting[] = [];

  constructor(
    private readonly limits: WorkLaneLimits,
    private readonly busyMessage = 'The server is busy; try again in a few seconds.',
  ) {}

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw new CallerGoneError();
    if (this.running >= this.limits.concurrency) await this.turn(signal);
    else this.running += 1;
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Resolves when a running slot has been handed to this caller. */
  private turn(signal: AbortSignal | undefined): Promise<void> {
    if (this.queue.length >= this.limits.maxQueued)
      return Promise.reject(new UpstreamUnavailableError(this.busyMessage));
    return new Promise<void>((resolve, reject) => {
      const leave = (error: Error) => {
        const index = this.queue.indexOf(waiting);
        if (index >= 0) this.queue.splice(index, 1);
        clearTimeout(waiting.timer);
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = () => leave(new CallerGoneError());
      const waiting: Waiting = {
        start: () => {
          clearTimeout(waiting.timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        timer: setTimeout(() => leave(new UpstreamUnavailableError(this.busyMessage)), this.limits.maxWaitMs),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiting);
    });
  }

  /** A slot is free: the next waiting task takes it (the count stays), else the count drops. */
  private release(): void {
    const next = this.queue.shift();
    if (next) next.start();
    else this.running -= 1;
  }
}
