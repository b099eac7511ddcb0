/**
 * Input drift against the training baseline of the model card. Over each reporting period the
 * node accumulates the mean of every feature and compares it with the training mean in units
 * of the training standard deviation: d_j = |mean_j - baseline.mean_j| / baseline.std_j.
 * The drift figure is the root mean square of the d_j: 0 is "like training", 1 means the inputs
 * sit on average one training standard deviation away, which a model was never fitted on.
 */
import { at, atF64 } from "../shared/checked";

export interface DriftReport {
  kind: "drift";
  ts: number;
  drift: number;
  /** d_j per feature name. */
  features: Record<string, number>;
  /** Frames in the period. */
  n: number;
  periodMs: number;
}

export class DriftMonitor {
  private sums: Float64Array;
  private n = 0;
  private since: number;

  constructor(private readonly names: string[], private readonly mean: number[], private readonly std: number[], now: number) {
    // model-card.ts validates these lengths; checked here too so that at() below cannot miss.
    if (mean.length !== names.length || std.length !== names.length) {
      throw new RangeError(`drift baseline has ${mean.length} means and ${std.length} stds for ${names.length} features`);
    }
    this.sums = new Float64Array(names.length);
    this.since = now;
  }

  /** `values` is a scored frame's input vector: one value per feature, in card order. */
  add(values: ArrayLike<number>): void {
    const sums = this.sums;
    for (let j = 0; j < sums.length; j++) sums[j] = atF64(sums, j) + at(values, j);
    this.n++;
  }

  /** The period's report (null if it saw no frame), and a fresh period. */
  report(now: number): DriftReport | null {
    const n = this.n;
    const periodMs = now - this.since;
    const sums = this.sums;
    this.sums = new Float64Array(this.names.length);
    this.n = 0;
    this.since = now;
    if (n === 0) return null;
    const features: Record<string, number> = {};
    let sq = 0;
    for (let j = 0; j < sums.length; j++) {
      // A constant training feature (std 0) would divide by zero: use a floor relative to its mean.
      const mean = at(this.mean, j);
      const scale = Math.max(Math.abs(at(this.std, j)), 1e-6 * Math.max(1, Math.abs(mean)));
      const d = Math.abs(atF64(sums, j) / n - mean) / scale;
      features[at(this.names, j)] = d;
      sq += d * d;
    }
    return { kind: "drift", ts: now, drift: Math.sqrt(sq / sums.length), features, n, periodMs };
  }
}
