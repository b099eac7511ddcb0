/**
 * Helpers of the differential tests that hold a hand-written check to ajv's verdict on generated
 * inputs (signal-check.test.ts, feature-frame-check.test.ts).
 */
import { inspect as utilInspect } from "util";

/** Deterministic generator (mulberry32), so a failure can be replayed. */
export { seededRandom as rng } from "../../cli/train/stats";

/** A deep copy that keeps prototypes, undefined values and array holes (JSON would not). */
export function structuredCloneish(x: unknown): unknown {
  if (typeof x !== "object" || x === null) return x;
  if (Array.isArray(x)) {
    const out = new Array(x.length);
    for (let i = 0; i < x.length; i++) if (i in x) out[i] = structuredCloneish(x[i]);
    return out;
  }
  const proto = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) return x;
  const out = Object.create(proto) as Record<string, unknown>;
  for (const k of Object.keys(x)) out[k] = structuredCloneish((x as Record<string, unknown>)[k]);
  return out;
}

/** One line, cut to 400 characters, for a failure message. */
export function inspect(x: unknown): string {
  return utilInspect(x, { depth: 4, breakLength: Infinity }).slice(0, 400);
}
