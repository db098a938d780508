/**
 * A token bucket per socket: `ratePerSecond` frames sustained, `burst` at once. Frames refused in a row
 * are counted as strikes; a client that keeps sending into an empty bucket for `maxStrikes` frames is
 * abusing it (the socket closes with 1008). One accepted frame clears the strikes.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private strikes = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly maxStrikes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** 'ok' to handle the frame, 'limited' to refuse it, 'abusive' once the strikes run out. */
  take(): 'ok' | 'limited' | 'abusive' {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.strikes = 0;
      return 'ok';
    }
    this.strikes += 1;
    return this.strikes >= this.maxStrikes ? 'abusive' : 'limited';
  }
}
