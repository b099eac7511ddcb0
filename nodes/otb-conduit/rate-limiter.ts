/**
 * A token bucket for the conduit's rate limit (messages, or Sparkplug metrics, per second).
 * Capacity is one second's worth, so a burst after idling never exceeds the configured rate.
 */
export class RateLimiter {
  private tokens = 0;
  private last = Date.now();

  constructor(private readonly perSecond: number) {}

  /** How many of `want` may go now (all of them when unlimited). */
  take(want: number, now = Date.now()): number {
    if (this.perSecond <= 0) return want;
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    const n = Math.min(want, Math.floor(this.tokens));
    this.tokens -= n;
    return n;
  }

  /** Gives back tokens taken but not used. */
  refund(n: number): void {
    if (this.perSecond > 0) this.tokens += n;
  }

  /** When to try again after take() returned 0. */
  retryInMs(): number {
    return this.perSecond > 0 ? Math.ceil(1000 / this.perSecond) : 0;
  }
}
