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

/**
 * Runs `fn` under V8's sampling profiler (node:inspector) and appends the samples to `into`, so
 * that a profile covers only the measured part of a benchmark (no start-up, no warm-up, no
 * reference); write it with writeCpuProfile and read it with profile-top.js. Without `into`,
 * just runs `fn`.
 */
export async function profiled<T>(into: CpuProfileSet | undefined, fn: () => Promise<T>): Promise<T> {
  if (!into) return fn();
  const session = await into.session();
  await post(session, "Profiler.start");
  try {
    return await fn();
  } finally {
    const { profile } = (await post(session, "Profiler.stop")) as { profile: CpuProfile };
    into.profiles.push(profile);
  }
}

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Profiles of several measured slices, merged into one file (profile-top.js reads sample times). */
export class CpuProfileSet {
  readonly profiles: CpuProfile[] = [];
  private open: import("inspector").Session | null = null;

  async session(): Promise<import("inspector").Session> {
    if (!this.open) {
      const inspector = await import("inspector");
      this.open = new inspector.Session();
      this.open.connect();
      await post(this.open, "Profiler.enable");
      // 100 us between samples (the default is 1 ms): slices of a second give enough samples.
      await post(this.open, "Profiler.setSamplingInterval", { interval: 100 });
    }
    return this.open;
  }

  /** Writes the slices as one profile: node ids renumbered per slice, samples concatenated. */
  write(file: string): void {
    const merged: CpuProfile = { nodes: [], startTime: 0, endTime: 0, samples: [], timeDeltas: [] };
    let offset = 0;
    for (const p of this.profiles) {
      let max = 0;
      for (const n of p.nodes) {
        merged.nodes.push({ ...n, id: n.id + offset, children: n.children?.map((c) => c + offset) });
        if (n.id > max) max = n.id;
      }
      for (const s of p.samples) merged.samples.push(s + offset);
      for (let i = 0; i < p.timeDeltas.length; i++) merged.timeDeltas.push(i === 0 ? 0 : p.timeDeltas[i]);
      merged.endTime += p.endTime - p.startTime;
      offset += max;
    }
    require("fs").writeFileSync(file, JSON.stringify(merged));
    this.open?.disconnect();
    this.open = null;
  }
}

function post(session: import("inspector").Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
}
