/**
 * Hand-made sensor streams with the simulator's fault shapes (drift, flatline, spike, NaN,
 * out-of-range, gaps), seeded so that every run sees the same numbers. Tests use these instead of
 * waiting for the simulator: the fault onset is known to the sample.
 */
import type { Signal } from "../../nodes/shared";
import type { TagRule } from "../../nodes/otb-validate/catalog";

/** Park-Miller with Box-Muller on top: deterministic Gaussian noise. */
export class Rng {
  private state: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.state = seed % 2147483647 || 1;
  }

  uniform(): number {
    this.state = (this.state * 16807) % 2147483647;
    return (this.state - 1) / 2147483646;
  }

  gauss(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = Math.max(this.uniform(), 1e-12);
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

export const T0 = Date.UTC(2026, 5, 10, 8, 0, 0);
export const MEAN = 50;
export const SIGMA = 1;

/** One rule set with every rule on, for a tag with mean 50 and sigma 1 sampled at 1 Hz. */
export function ruleFor(tag: string): TagRule {
  return {
    tag,
    type: "number",
    unit: "bar",
    range: { badBelow: 0, uncertainBelow: 40, uncertainAbove: 60, badAbove: 100 },
    maxRatePerSec: 10,
    staleMs: 5000,
    flatline: { epsilon: 0, forMs: 30_000 },
    spike: { window: 31, threshold: 8, minDeviation: 3 },
    drift: { mean: MEAN, sigma: SIGMA, baselineSamples: 300, lambda: 0.02, limit: 5 },
  };
}

export type Fault = "normal" | "drift" | "flatline" | "spike" | "nan" | "out_of_range" | "step";

/**
 * `seconds` samples of `tag` at 1 Hz starting at T0, with `fault` from sample `onset` on:
 * drift is a ramp of 0.02 sigma per second, flatline freezes the value, spike adds 15 sigma to
 * one sample, nan makes one sample NaN, out_of_range one sample 120, step adds 15 sigma from then on.
 */
export function stream(tag: string, fault: Fault, seconds: number, onset: number, seed = 7): Signal[] {
  const rng = new Rng(seed);
  const out: Signal[] = [];
  let frozen = NaN;
  for (let i = 0; i < seconds; i++) {
    let v = MEAN + SIGMA * rng.gauss();
    if (i >= onset) {
      switch (fault) {
        case "drift":
          v += 0.02 * SIGMA * (i - onset);
          break;
        case "flatline":
          if (Number.isNaN(frozen)) frozen = v;
          v = frozen;
          break;
        case "spike":
          if (i === onset) v += 15 * SIGMA;
          break;
        case "nan":
          if (i === onset) v = NaN;
          break;
        case "out_of_range":
          if (i === onset) v = 120;
          break;
        case "step":
          v += 15 * SIGMA;
          break;
        case "normal":
          break;
      }
    }
    out.push(signal(tag, v, T0 + i * 1000));
  }
  return out;
}

export function signal(tag: string, value: Signal["value"], ts: number): Signal {
  return { tag, value, ts, quality: "good", source: { protocol: "sim", address: `ns=1;s=${tag}` } };
}

/** Index of the first Signal whose reasons include `reason`, or -1. */
export function firstWith(signals: Signal[], reason: string): number {
  return signals.findIndex((s) => s.reasons?.includes(reason));
}
