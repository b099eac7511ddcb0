/**
 * The per-tag aggregations of a window, as pure functions over (ts, value) samples. They are
 * the definition of a feature: `otbridge train` must compute training features with these same
 * functions, or the model sees different numbers at run time than it was fitted on.
 */
import { at } from "../shared/checked";

export const AGGREGATIONS = ["last", "mean", "min", "max", "std", "rms", "slope", "count"] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export function isAggregation(s: string): s is Aggregation {
  return (AGGREGATIONS as readonly string[]).includes(s);
}

/** Samples of one tag inside one window; `ts` in ms, parallel arrays (plain or typed). */
export interface Samples {
  ts: ArrayLike<number>;
  values: ArrayLike<number>;
}

/**
 * One aggregation, or undefined when the window holds too little data for it (no value at all,
 * or fewer than two distinct timestamps for a slope). `count` is never undefined: 0 is a value.
 * - std is the population standard deviation (divides by n), so one sample gives 0;
 * - slope is the least-squares slope in units per second;
 * - last is the value with the latest timestamp (the later arrival wins a tie).
 */
export function aggregate(agg: Aggregation, s: Samples): number | undefined {
  const n = s.values.length;
  if (agg === "count") return n;
  if (n === 0) return undefined;
  switch (agg) {
    case "last": {
      let best = 0;
      for (let i = 1; i < n; i++) if (at(s.ts, i) >= at(s.ts, best)) best = i;
      return at(s.values, best);
    }
    case "mean":
      return sum(s.values) / n;
    case "min": {
      let m = at(s.values, 0);
      for (let i = 1; i < n; i++) {
        const v = at(s.values, i);
        if (v < m) m = v;
      }
      return m;
    }
    case "max": {
      let m = at(s.values, 0);
      for (let i = 1; i < n; i++) {
        const v = at(s.values, i);
        if (v > m) m = v;
      }
      return m;
    }
    case "std": {
      const m = sum(s.values) / n;
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const v = at(s.values, i);
        acc += (v - m) * (v - m);
      }
      return Math.sqrt(acc / n);
    }
    case "rms": {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const v = at(s.values, i);
        acc += v * v;
      }
      return Math.sqrt(acc / n);
    }
    case "slope":
      return slopePerSecond(s);
  }
}

function sum(values: ArrayLike<number>): number {
  let acc = 0;
  for (let i = 0; i < values.length; i++) acc += at(values, i);
  return acc;
}

function slopePerSecond(s: Samples): number | undefined {
  const n = s.values.length;
  if (n < 2) return undefined;
  // Centre time on the first sample so epoch milliseconds do not cost float precision.
  const t0 = at(s.ts, 0);
  let mt = 0;
  let mv = 0;
  for (let i = 0; i < n; i++) {
    mt += (at(s.ts, i) - t0) / 1000;
    mv += at(s.values, i);
  }
  mt /= n;
  mv /= n;
  let cov = 0;
  let varT = 0;
  for (let i = 0; i < n; i++) {
    const dt = (at(s.ts, i) - t0) / 1000 - mt;
    cov += dt * (at(s.values, i) - mv);
    varT += dt * dt;
  }
  return varT === 0 ? undefined : cov / varT;
}

/** "pump1.current:mean" -> {tag: "pump1.current", agg: "mean"}; the aggregation follows the last colon. */
export function parseFeatureName(name: string): { tag: string; agg: Aggregation } | null {
  const i = name.lastIndexOf(":");
  if (i <= 0) return null;
  const agg = name.slice(i + 1);
  return isAggregation(agg) ? { tag: name.slice(0, i), agg } : null;
}

export function featureName(tag: string, agg: Aggregation): string {
  return `${tag}:${agg}`;
}
