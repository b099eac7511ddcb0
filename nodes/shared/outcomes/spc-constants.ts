/**
 * Shewhart control-chart constants. d2 and d3 (mean and standard deviation of the range of n
 * standard normal observations) are the tabulated values of ASTM STP-15D / Montgomery,
 * "Introduction to Statistical Quality Control", Appendix VI; c4 is computed exactly from the
 * gamma function. The chart factors follow from them:
 *   A2 = 3 / (d2 sqrt n), D3 = max(0, 1 - 3 d3/d2), D4 = 1 + 3 d3/d2,
 *   A3 = 3 / (c4 sqrt n), B3 = max(0, 1 - 3 sqrt(1 - c4^2)/c4), B4 = 1 + 3 sqrt(1 - c4^2)/c4,
 * which reproduce the NIST/SEMATECH e-Handbook tables (section 6.3.2.1) to their printed digits
 * (test/outcomes/spc-constants.test.ts checks that).
 */
import { at } from "../checked";

const D2: Record<number, [number, number]> = {
  2: [1.128, 0.853], 3: [1.693, 0.888], 4: [2.059, 0.88], 5: [2.326, 0.864], 6: [2.534, 0.848],
  7: [2.704, 0.833], 8: [2.847, 0.82], 9: [2.97, 0.808], 10: [3.078, 0.797], 11: [3.173, 0.787],
  12: [3.258, 0.778], 13: [3.336, 0.77], 14: [3.407, 0.763], 15: [3.472, 0.756], 16: [3.532, 0.75],
  17: [3.588, 0.744], 18: [3.64, 0.739], 19: [3.689, 0.734], 20: [3.735, 0.729], 21: [3.778, 0.724],
  22: [3.819, 0.72], 23: [3.858, 0.716], 24: [3.895, 0.712], 25: [3.931, 0.708],
};

export const MIN_SUBGROUP = 2;
export const MAX_SUBGROUP = 25;

export interface ChartConstants {
  n: number;
  d2: number;
  d3: number;
  c4: number;
  A2: number;
  D3: number;
  D4: number;
  A3: number;
  B3: number;
  B4: number;
}

/** ln Γ(x) by the Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0. */
function lnGamma(x: number): number {
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = at(c, 0);
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += at(c, i) / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** c4(n) = sqrt(2/(n-1)) Γ(n/2) / Γ((n-1)/2): E[s] = c4 σ for n normal observations. */
export function c4(n: number): number {
  return Math.sqrt(2 / (n - 1)) * Math.exp(lnGamma(n / 2) - lnGamma((n - 1) / 2));
}

const cache = new Map<number, ChartConstants>();

export function constants(n: number): ChartConstants {
  const hit = cache.get(n);
  if (hit) return hit;
  const entry = D2[n];
  if (!entry) throw new RangeError(`subgroup size ${n} is outside ${MIN_SUBGROUP}..${MAX_SUBGROUP}`);
  const [d2, d3] = entry;
  const c = c4(n);
  const s = Math.sqrt(1 - c * c) / c;
  const k: ChartConstants = {
    n, d2, d3, c4: c,
    A2: 3 / (d2 * Math.sqrt(n)),
    D3: Math.max(0, 1 - (3 * d3) / d2),
    D4: 1 + (3 * d3) / d2,
    A3: 3 / (c * Math.sqrt(n)),
    B3: Math.max(0, 1 - 3 * s),
    B4: 1 + 3 * s,
  };
  cache.set(n, k);
  return k;
}
