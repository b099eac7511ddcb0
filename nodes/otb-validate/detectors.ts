/**
 * Per-tag sensor-fault detectors. Each keeps a few numbers (and the spike window a pair of
 * preallocated Float64Arrays), so that checking a value allocates nothing.
 */
import type { DriftRule, FlatlineRule, SpikeRule } from "./catalog";

/**
 * Rolling median and MAD over the last `size` samples, kept sorted by insertion (O(window)).
 *
 * Element reads are plain `a[i]!`, not the checked `atF64` of nodes/shared/checked: every index
 * here lies in [0, n) with n <= size, the fixed length of both arrays (each loop's bounds say so),
 * and test/quality/catalog.test.ts holds median and MAD to a sorting reference on generated series.
 * The checked call cost a third of a spike check (58 against 35 ns, once per value of every tag
 * with a spike rule).
 */
export class RollingMedian {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private head = 0;
  private n = 0;

  constructor(readonly size: number) {
    this.ring = new Float64Array(size);
    this.sorted = new Float64Array(size);
  }

  /** Samples in the window (up to its size). */
  get count(): number {
    return this.n;
  }

  push(x: number): void {
    const s = this.sorted;
    const n = this.n;
    if (n === this.size) {
      // Full: the new value takes the oldest one's place in the sorted copy and moves to its rank,
      // so only the values between the two ranks shift (one pass instead of a removal and an insertion).
      const old = this.ring[this.head]!;
      let i = indexOf(s, n, old);
      if (x > old) {
        while (i < n - 1 && s[i + 1]! < x) {
          s[i] = s[i + 1]!;
          i++;
        }
      } else {
        while (i > 0 && s[i - 1]! > x) {
          s[i] = s[i - 1]!;
          i--;
        }
      }
      s[i] = x;
    } else {
      let j = n;
      while (j > 0 && s[j - 1]! > x) {
        s[j] = s[j - 1]!;
        j--;
      }
      s[j] = x;
      this.n = n + 1;
    }
    this.ring[this.head] = x;
    this.head = this.head + 1 === this.size ? 0 : this.head + 1;
  }

  median(): number {
    const n = this.n;
    const s = this.sorted;
    if (n === 0) return NaN; // an empty window has no median (as before: the mean of two missing values)
    const mid = n >> 1;
    return n % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  }

  /**
   * A lower bound of mad(med), in O(1). Take `rank - 1` samples in the middle of the sorted
   * window (rank: the MAD's rank among the n deviations, the lower one for an even n). Every
   * other sample lies at least as far from `med` as the nearest sample outside them, so at least
   * n - rank + 1 deviations reach that distance, and the rank-th smallest (for an even n, the mean
   * of it and the next) does too. Subtraction rounds monotonically, so this holds for the
   * floating-point mad() as well. 0 means no bound (under 3 samples, or `med` not inside them).
   */
  madLowerBound(med: number): number {
    const n = this.n;
    const rank = n % 2 === 1 ? (n >> 1) + 1 : n >> 1;
    const inside = rank - 1;
    if (n < 3 || inside < 1) return 0;
    const first = (n >> 1) - ((inside - 1) >> 1);
    const last = first + inside - 1;
    const s = this.sorted;
    const below = first > 0 ? med - s[first - 1]! : Infinity;
    const above = last < n - 1 ? s[last + 1]! - med : Infinity;
    const bound = below < above ? below : above;
    return bound > 0 && bound !== Infinity ? bound : 0;
  }

  /**
   * Median absolute deviation from `med`, without sorting: the deviations to the left of the
   * median (walking down from it) and to the right (walking up) are each already ordered, so the
   * middle rank of their union is found by binary search on how many come from the left (the
   * k-th smallest of two sorted lists), in log2(n) steps instead of merging n/2 of them.
   */
  mad(med: number): number {
    const n = this.n;
    const s = this.sorted;
    if (n === 0) return Infinity; // an empty window: no deviation is small enough (as before)
    // lo = first index >= med: left deviations are med - s[lo-1-i], right ones s[lo+j] - med.
    let lo = n >> 1;
    if (lo < n && s[lo]! >= med) {
      while (lo > 0 && s[lo - 1]! >= med) lo--;
    } else {
      while (lo < n && s[lo]! < med) lo++;
    }
    const nL = lo;
    const nR = n - lo;
    const m = (n >> 1) + 1; // how many of the smallest deviations reach the (upper) middle rank
    // Smallest a (taken from the left) such that the next left deviation is not below the last right one taken.
    let a = m - nR > 0 ? m - nR : 0;
    let hi = m < nL ? m : nL;
    while (a < hi) {
      const mid = (a + hi) >> 1;
      const b = m - mid;
      if (b > 0 && med - s[lo - 1 - mid]! < s[lo + b - 1]! - med) a = mid + 1;
      else hi = mid;
    }
    const b = m - a;
    const l1 = a > 0 ? med - s[lo - a]! : -Infinity; // largest taken from the left
    const r1 = b > 0 ? s[lo + b - 1]! - med : -Infinity; // largest taken from the right
    const dev = l1 >= r1 ? l1 : r1;
    if (n % 2 === 1) return dev;
    // Even n: the mean with the rank below, the second largest of those taken.
    const l2 = a > 1 ? med - s[lo - a + 1]! : -Infinity;
    const r2 = b > 1 ? s[lo + b - 2]! - med : -Infinity;
    const prev = l1 >= r1 ? (l2 >= r1 ? l2 : r1) : l1 >= r2 ? l1 : r2;
    return (prev + dev) / 2;
  }
}

function indexOf(s: Float64Array, n: number, x: number): number {
  // Binary search for an element equal to x (it is present).
  let a = 0;
  let b = n - 1;
  while (a < b) {
    const m = (a + b) >> 1;
    if (s[m]! < x) a = m + 1;
    else b = m;
  }
  return a;
}

/** 1.4826 * MAD estimates sigma for normally distributed data. */
const MAD_TO_SIGMA = 1.4826;

/**
 * A spike is an isolated excursion: far from the rolling median (robust z above the threshold
 * and more than minDeviation) while the sample before it was not already moving away on the
 * same side. That second condition is what keeps a real process change quiet: a pump start or
 * stop ramps over several samples, each far from the old median, but only the first can look
 * isolated, and its step is small (the catalog's minDeviation is set above it). The price: a
 * spike on a sample that directly follows a same-side excursion (a ramp, or a two-sample glitch)
 * is not flagged.
 */
export class SpikeDetector {
  private readonly window: RollingMedian;
  private readonly minCount: number;
  /** -1, 0 or +1: the side the previous sample was moving to, 0 if it was near the median. */
  private lastSide = 0;

  constructor(private readonly rule: SpikeRule) {
    this.window = new RollingMedian(rule.window);
    this.minCount = rule.window;
  }

  /** True when `x` is a spike against the window before it; the value then joins the window. */
  check(x: number): boolean {
    let spike = false;
    let side = 0;
    const w = this.window;
    if (w.count >= this.minCount) {
      const med = w.median();
      const deviation = Math.abs(x - med);
      // Most values sit well inside the noise: when even the smallest possible scale (from a lower
      // bound of the MAD, O(1)) puts z at or below threshold/2, the value is neither a spike nor
      // on a side, exactly as the full O(log n) MAD would say (z only falls as the MAD grows).
      const low = w.madLowerBound(med);
      if (deviation === 0 || (low > 0 && deviation / (MAD_TO_SIGMA * low) <= this.rule.threshold / 2)) {
        this.lastSide = 0;
        w.push(x);
        return false;
      }
      const scale = MAD_TO_SIGMA * w.mad(med);
      const z = scale > 0 ? deviation / scale : deviation > 0 ? Infinity : 0;
      if (z > this.rule.threshold / 2) side = x > med ? 1 : -1;
      spike = z > this.rule.threshold && deviation > this.rule.minDeviation && side !== this.lastSide;
    }
    this.lastSide = side;
    // Every value joins the window: the median ignores a spike, and a level change becomes the
    // new normal once it fills half the window.
    this.window.push(x);
    return spike;
  }
}

export class FlatlineDetector {
  private reference = NaN;
  private since = 0;

  constructor(private readonly rule: FlatlineRule) {}

  /** True while the value has stayed within epsilon of one reference for at least forMs. */
  check(x: number, ts: number): boolean {
    if (!(Math.abs(x - this.reference) <= this.rule.epsilon)) {
      this.reference = x;
      this.since = ts;
      return false;
    }
    return ts - this.since >= this.rule.forMs;
  }
}

/**
 * EWMA control chart against a commissioning baseline: flags a slow shift of the mean that a
 * range check misses. With the defaults (lambda 0.02, limit 5) a one-sigma step is flagged after
 * about 34 samples, and white noise at 1 Hz raises well under one false alarm per tag-day
 * (limit 4 reacts after 26 samples but measured 0.09 false alarms per tag-hour).
 * Hysteresis (clear below 3/4 of the limit) keeps the flag from flapping at the edge.
 */
export class DriftDetector {
  private mean: number;
  private sigma: number;
  private ewma = NaN;
  private drifting = false;
  private learnN = 0;
  private learnMean = 0;
  private learnM2 = 0;
  private bound = 0;

  constructor(private readonly rule: DriftRule) {
    this.mean = rule.mean ?? NaN;
    this.sigma = rule.sigma ?? NaN;
    if (Number.isFinite(this.mean)) this.start();
  }

  /** Baseline mean and sigma (NaN while still learning), for the quality summary. */
  get baseline(): { mean: number; sigma: number; ewma: number } {
    return { mean: this.mean, sigma: this.sigma, ewma: this.ewma };
  }

  /** Feeds one good value; true while drifting. */
  check(x: number): boolean {
    if (Number.isNaN(this.ewma)) {
      this.learn(x);
      return false;
    }
    const lambda = this.rule.lambda;
    this.ewma = lambda * x + (1 - lambda) * this.ewma;
    const off = Math.abs(this.ewma - this.mean);
    if (this.drifting) this.drifting = off > 0.75 * this.bound;
    else this.drifting = off > this.bound;
    return this.drifting;
  }

  private learn(x: number): void {
    // Welford's running mean and variance over the first baselineSamples good values.
    this.learnN++;
    const d = x - this.learnMean;
    this.learnMean += d / this.learnN;
    this.learnM2 += d * (x - this.learnMean);
    if (this.learnN >= this.rule.baselineSamples) {
      this.mean = this.learnMean;
      this.sigma = Math.sqrt(this.learnM2 / (this.learnN - 1));
      this.start();
    }
  }

  private start(): void {
    const lambda = this.rule.lambda;
    // A perfectly constant baseline has sigma 0: treat any visible shift as drift, not every bit.
    const sigma = this.sigma > 0 ? this.sigma : Math.max(Math.abs(this.mean) * 1e-6, 1e-12);
    this.bound = this.rule.limit * sigma * Math.sqrt(lambda / (2 - lambda));
    this.ewma = this.mean;
  }
}
