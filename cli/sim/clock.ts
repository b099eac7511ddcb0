/**
 * The simulator's one clock. Every protocol carries it: OPC UA source timestamps, the MQTT
 * payloads' ts (JSON and Sparkplug B) and each Modbus unit's clock registers (modbus-map.ts),
 * which otb-modbus-in reads to stamp its polls. The line advances in fixed steps of simulated time
 * (default 1 s, like a 1 Hz historian); the timestamp of step k is startTs + k * stepMs.
 *
 * The rule, at any speed: the clock runs `speed` times faster than the wall clock but never
 * ahead of it. A fast run starts in the past (defaultStartTs: by default it reaches "now" after
 * one hour of wall time) and, once it has caught up, keeps pace with the wall clock (1x). So
 * receivers that refuse values from the future (otb-window: more than 5 min ahead) accept every
 * value, and a window of N seconds holds N seconds of simulated process at every speed.
 */
export interface ClockOptions {
  startTs: number;
  speed: number;
  stepMs: number;
  /** Monotonic time for pacing (ms), replaceable in tests. */
  realNow?: () => number;
  /** The wall clock (epoch ms) that simulated time never passes, replaceable in tests. */
  wallNow?: () => number;
}

/** The speeds `otbridge simulate` and `otbridge start` accept (one rule for both). */
export const SPEED_MIN = 0.01;
export const SPEED_MAX = 10_000;

/** Wall time a fast run takes by default to catch up with the wall clock. */
export const CATCH_UP_MS = 3_600_000;

/**
 * Where a run starts by default: now at speed <= 1; at speed N > 1, (N - 1) hours in the past,
 * so the clock reaches the wall clock after CATCH_UP_MS of wall time. Whole seconds.
 */
export function defaultStartTs(speed: number, now = Date.now()): number {
  return startTsAgo(defaultStartAgoMinutes(speed), now);
}

/** The start `minutes` before `now`, on a whole second. */
export function startTsAgo(minutes: number, now = Date.now()): number {
  return Math.floor((now - minutes * 60_000) / 1000) * 1000;
}

export class SimClock {
  readonly startTs: number;
  readonly speed: number;
  readonly stepMs: number;
  private readonly realNow: () => number;
  private readonly wallNow: () => number;
  private realStart: number;
  private stepIndex = 0;
  private capped = false;

  constructor(opts: ClockOptions) {
    this.startTs = opts.startTs;
    this.speed = opts.speed;
    this.stepMs = opts.stepMs;
    this.realNow = opts.realNow ?? (() => performance.now());
    this.wallNow = opts.wallNow ?? (() => Date.now());
    if (this.startTs > this.wallNow() + this.stepMs) {
      throw new Error(`simulated start ${new Date(this.startTs).toISOString()} is in the future: the simulated clock never runs ahead of the wall clock`);
    }
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

  /** True once the clock has caught up with the wall clock (it then runs at real time). */
  get caughtUp(): boolean {
    return this.capped;
  }

  /** How many steps are due now, given the wall time elapsed; the caller runs them and calls advance(). */
  due(): number {
    const paced = this.startTs + (this.realNow() - this.realStart) * this.speed;
    const wall = this.wallNow();
    if (paced > wall) this.capped = true;
    const target = Math.min(paced, wall);
    return Math.max(0, Math.floor((target - this.startTs) / this.stepMs) - this.stepIndex);
  }

  /** Marks one step done and returns its timestamp. */
  advance(): number {
    this.stepIndex++;
    return this.now;
  }

  /** Wall milliseconds that a span of simulated time takes (before the clock has caught up). */
  realMs(simMs: number): number {
    return simMs / this.speed;
  }
}

/** The rule as the help of `otbridge simulate` and `otbridge start` states it. */
export const TIME_LINE_HELP = `Time: the simulator has one clock and every protocol carries it (OPC UA source timestamps,
the MQTT payloads' ts, and each Modbus unit's clock registers, input 90-91, Unix seconds, which
otb-modbus-in uses to stamp its polls). At --speed N (${SPEED_MIN} to ${SPEED_MAX}) the clock runs N times faster
than the wall clock but never ahead of it: it starts --start-ago minutes in the past (default
60 x (N - 1), so a fast run reaches now after one hour of wall time) and, once it reaches now,
keeps pace with the wall clock (1x). Shifts (otb-line) follow that clock in the line's time zone.`;

/** Minutes in the past the clock starts at by default (see defaultStartTs). */
export function defaultStartAgoMinutes(speed: number): number {
  return speed > 1 ? (CATCH_UP_MS / 60_000) * (speed - 1) : 0;
}
