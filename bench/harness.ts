/**
 * Benchmark contract. A benchmark measures the pack against the raw library (or bare Node-RED)
 * in the same run, so the ratio means something on any machine; benchmarks never fail CI.
 *
 *   export = { name, description, run } satisfies Benchmark
 *
 * run() is called several times (opts.runs, default 5); the runner prints the median of each figure.
 */
export interface Figure {
  /** e.g. "signals/s, batches of 100" */
  name: string;
  unit: string;
  /** The pack's value. */
  pack: number;
  /** The raw library's (or bare Node-RED's) value measured in the same run. */
  raw: number;
  higherIsBetter: boolean;
  note?: string;
}

export interface BenchOptions {
  /** Shorter runs for a smoke check (`--quick`). */
  quick: boolean;
  /** Which run of opts.runs this is (0-based). */
  iteration: number;
  /** Free-form extra arguments after the benchmark name. */
  args: string[];
}

export interface Benchmark {
  name: string;
  description: string;
  /** How many runs the median is taken over, unless --runs says otherwise. */
  runs?: number;
  run(opts: BenchOptions): Promise<Figure[]>;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

/** pack/raw, and how many times better or worse that is given the figure's direction. */
export function ratio(f: Pick<Figure, "pack" | "raw">): number {
  return f.raw === 0 ? NaN : f.pack / f.raw;
}

/** High-resolution wall clock in milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
