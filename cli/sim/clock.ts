/**
 * Simulated time. The line advances in fixed steps of simulated time (default 1 s, like a 1 Hz
 * historian); `speed` maps real time to simulated time, so at --speed 3600 an hour of operation
 * takes a second of wall time and every timestamp the servers publish stays on the simulated
 * time line (ts of step k = startTs + k * stepMs), never on the wall clock.
 */
export interface ClockOptions {
  startTs: number;
  speed: number;
  stepMs: number;
  /** Wall-clock source, replaceable in tests. */
  realNow?: () => number;
}

export class SimClock {
  readonly startTs: number;
  readonly speed: number;
  readonly stepMs: number;
  private readonly realNow: () => number;
  private realStart: number;
  private stepIndex = 0;

  constructor(opts: ClockOptions) {
    this.startTs = opts.startTs;
    this.speed = opts.speed;
    this.stepMs = opts.stepMs;
    this.realNow = opts.realNow ?? (() => performance.now());
    this.realStart = this.realNow();
  }

  /** Re-anchors wall time (after a slow server start) without moving simulated time. */
  restart(): void {
    this.realStart = this.realNow() - (this.stepIndex * this.stepMs) / this.speed;
  }

  /** Simulated time of the last completed step. */
  get now(): number {
    return this.startTs + this.stepIndex * this.stepMs;
  }

  get steps(): number {
    return this.stepIndex;
  }

  /** How many steps are due now, given the wall time elapsed; the caller runs them and calls advance(). */
  due(): number {
    const simElapsed = (this.realNow() - this.realStart) * this.speed;
    return Math.max(0, Math.floor(simElapsed / this.stepMs) - this.stepIndex);
  }

  /** Marks one step done and returns its timestamp. */
  advance(): number {
    this.stepIndex++;
    return this.now;
  }

  /** Wall milliseconds that a span of simulated time takes. */
  realMs(simMs: number): number {
    return simMs / this.speed;
  }
}
