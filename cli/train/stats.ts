/** Column statistics and quantiles over row-major data (arrays of feature rows). */
import { at } from "../checked";

export function columnMean(rows: number[][]): number[] {
  const n = rows[0]?.length ?? 0;
  const m = new Array<number>(n).fill(0);
  for (const r of rows) for (let j = 0; j < n; j++) m[j] = at(m, j) + at(r, j);
  return m.map((v) => v / Math.max(rows.length, 1));
}

/** Sample standard deviation (n - 1), 0 for fewer than two rows. */
export function columnStd(rows: number[][], mean = columnMean(rows)): number[] {
  const n = mean.length;
  const s = new Array<number>(n).fill(0);
  for (const r of rows) for (let j = 0; j < n; j++) s[j] = at(s, j) + (at(r, j) - at(mean, j)) ** 2;
  return s.map((v) => (rows.length > 1 ? Math.sqrt(v / (rows.length - 1)) : 0));
}

/** Linear-interpolated quantile (q in [0, 1]) of finite values. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const v = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const pos = Math.min(Math.max(q, 0), 1) * (v.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return at(v, lo) + (at(v, hi) - at(v, lo)) * (pos - lo);
}

/** Deterministic PRNG (mulberry32): the same seed gives the same model on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
