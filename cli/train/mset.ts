/**
 * MSET (Multivariate State Estimation Technique, Gross et al.) with a Gaussian similarity
 * operator, as one ONNX graph. A memory matrix D of M normal states (z-scored) is kept; for a
 * row z the estimate of the normal state closest to it is
 *   k = exp(-||D_i - z||^2 / (2 h^2))   (similarity to each memory state, [M])
 *   w = k (G + lambda I)^-1             (G = the same similarity among memory states, [M,M])
 *   zhat = w D
 * and the residual r = z - zhat is what the plant does that normal operation cannot explain.
 *   score = sum_j r_j^2 / s_j^2,  contributions_j = r_j^2 / s_j^2
 * with s_j the residual spread on held-out normal rows (rows not in the memory), so a sensor
 * that MSET always reconstructs loosely does not dominate.
 *
 * Memory selection is deterministic: every feature's minimum and maximum state (classic
 * min-max selection, so the memory spans the normal range), then a seeded sample of the rest.
 * Unlike PCA it models non-linear relations between sensors.
 */
import type { FittedDetector } from "./detector";
import { normalisedInput, safeStd, scoreFromContributions } from "./graph-parts";
import { spdInverse, transpose, type Matrix } from "./linalg";
import { OnnxGraph } from "./onnx-writer";
import { columnMean, columnStd, quantile, seededRandom } from "./stats";
import { at, el } from "../checked";

export interface MsetParams {
  /** Memory states kept (M). */
  memory: number;
  /** Bandwidth h as a multiple of the median distance between memory states. */
  bandwidth: number;
  /** Ridge added to G's diagonal (G's diagonal is 1). */
  ridge: number;
}

export const MSET_DEFAULTS: MsetParams = { memory: 120, bandwidth: 4, ridge: 0.1 };

export interface MsetModel {
  mean: number[];
  std: number[];
  memory: Matrix; // [M, n], z-scored
  gInverse: Matrix; // [M, M]
  gamma: number; // 1 / (2 h^2)
  residualVar: number[]; // [n]
}

function dist2(a: number[], b: number[]): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (at(a, j) - at(b, j)) ** 2;
  return s;
}

export function selectMemory(z: Matrix, size: number, seed: number): number[] {
  const chosen = new Set<number>();
  const n = at(z, 0).length;
  for (let j = 0; j < n && chosen.size < size; j++) {
    let lo = 0;
    let hi = 0;
    z.forEach((r, i) => {
      if (at(r, j) < el(z, lo, j)) lo = i;
      if (at(r, j) > el(z, hi, j)) hi = i;
    });
    chosen.add(lo);
    if (chosen.size < size) chosen.add(hi);
  }
  const rest = z.map((_, i) => i).filter((i) => !chosen.has(i));
  const rand = seededRandom(seed);
  // Fisher-Yates with the seeded generator: same seed, same memory, same model bytes.
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [rest[i], rest[j]] = [at(rest, j), at(rest, i)];
  }
  for (const i of rest) {
    if (chosen.size >= size) break;
    chosen.add(i);
  }
  return [...chosen].sort((a, b) => a - b);
}

export function msetEstimate(m: MsetModel, z: number[]): number[] {
  const k = m.memory.map((d) => Math.exp(-m.gamma * dist2(d, z)));
  const w = m.gInverse.map((_, c) => k.reduce((acc, kv, i) => acc + kv * el(m.gInverse, i, c), 0));
  return z.map((_, j) => w.reduce((acc, wv, i) => acc + wv * el(m.memory, i, j), 0));
}

export function fitMsetModel(rows: number[][], seed: number, params: MsetParams = MSET_DEFAULTS): MsetModel {
  if (rows.length < 4) throw new Error(`MSET needs at least 4 normal frames, got ${rows.length}`);
  const mean = columnMean(rows);
  const std = safeStd(columnStd(rows, mean));
  const z = rows.map((r) => r.map((v, j) => (v - at(mean, j)) / at(std, j)));
  const size = Math.max(2, Math.min(params.memory, z.length - Math.ceil(z.length / 4)));
  const picked = selectMemory(z, size, seed);
  const memory = picked.map((i) => at(z, i));
  const pairs: number[] = [];
  for (let a = 0; a < memory.length; a++) for (let b = a + 1; b < memory.length; b++) pairs.push(Math.sqrt(dist2(at(memory, a), at(memory, b))));
  const h = Math.max(quantile(pairs, 0.5) * params.bandwidth, 1e-3);
  const gamma = 1 / (2 * h * h);
  const g = memory.map((a, i) => memory.map((b, j) => Math.exp(-gamma * dist2(a, b)) + (i === j ? params.ridge : 0)));
  const model: MsetModel = { mean, std, memory, gInverse: spdInverse(g), gamma, residualVar: [] };
  const inMemory = new Set(picked);
  const held = z.filter((_, i) => !inMemory.has(i));
  const residuals = held.map((zr) => {
    const est = msetEstimate(model, zr);
    return zr.map((v, j) => v - at(est, j));
  });
  // Residual spread per feature, floored so a perfectly reconstructed feature cannot explode.
  model.residualVar = safeStd(columnStd(residuals, new Array<number>(mean.length).fill(0))).map((s) => Math.max(s * s, 1e-4));
  return model;
}

export function msetGraph(m: MsetModel): OnnxGraph {
  const n = m.mean.length;
  const size = m.memory.length;
  const g = new OnnxGraph("otbridge-mset");
  const z = normalisedInput(g, m.mean, m.std);
  const axes = g.int64s("axis_1", [1], [1]);
  const zz = g.op("ReduceSum", [g.op("Mul", [z, z]), axes], { keepdims: { int: 1 } }); // [N,1]
  const zd = g.op("MatMul", [z, g.floats("mset_memory_t", transpose(m.memory).flat(), [n, size])]); // [N,M]
  const dd = g.floats("mset_memory_sq", m.memory.map((d) => d.reduce((a, v) => a + v * v, 0)), [1, size]);
  const d2 = g.op("Relu", [g.op("Add", [g.op("Sub", [zz, g.op("Mul", [zd, g.floats("two", [2], [])])]), dd])]);
  const k = g.op("Exp", [g.op("Mul", [d2, g.floats("mset_neg_gamma", [-m.gamma], [])])]);
  const w = g.op("MatMul", [k, g.floats("mset_g_inverse", m.gInverse.flat(), [size, size])]);
  const estimate = g.op("MatMul", [w, g.floats("mset_memory", m.memory.flat(), [size, n])]);
  const r = g.op("Sub", [z, estimate]);
  const contributions = g.op("Div", [g.op("Mul", [r, r]), g.floats("mset_residual_var", m.residualVar, [1, n])]);
  scoreFromContributions(g, contributions, n);
  return g;
}

export function fitMset(rows: number[][], seed: number, params: Partial<MsetParams> = {}): FittedDetector {
  const p = { ...MSET_DEFAULTS, ...params };
  const m = fitMsetModel(rows, seed, p);
  return {
    detector: "mset",
    graph: msetGraph(m),
    mean: m.mean,
    std: m.std,
    params: { ...p, memoryStates: m.memory.length, gamma: m.gamma },
    contributionMeaning: "r_j^2 / s_j^2, residual of feature j against the MSET estimate over its normal spread; all >= 0, sum = score",
  };
}
