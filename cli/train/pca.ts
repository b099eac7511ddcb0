/**
 * PCA with Hotelling T-squared and Q (SPE) as one ONNX graph.
 *
 * On z-scored training rows, keep the k principal components that explain `varianceKept` of
 * the variance (at least 1, at most nFeatures - 1 so the residual space exists). For a row z:
 *   t = z P            (scores, [k])        T2 = sum_k t_k^2 / lambda_k
 *   e = z - t P^T      (residual, [n])      Q  = sum_j e_j^2
 * The score combines both, each scaled by its own training quantile so neither dominates:
 *   score = T2 / T2ref + Q / Qref
 * and the contributions are the standard per-variable decompositions, which sum to it exactly:
 *   c_j = z_j (t Lambda^-1 P^T)_j / T2ref + e_j^2 / Qref
 * (a T2 share can be negative for a single feature; the Q share never is).
 */
import type { FittedDetector } from "./detector";
import { normalisedInput, safeStd, scoreFromContributions } from "./graph-parts";
import { covariance, symmetricEigen, transpose, type Matrix } from "./linalg";
import { OnnxGraph } from "./onnx-writer";
import { columnMean, columnStd, quantile } from "./stats";
import { at, el } from "../checked";

export interface PcaParams {
  /** Fraction of the variance the kept components explain. */
  varianceKept: number;
  /** Training quantile that scales T2 and Q to comparable units. */
  refQuantile: number;
}

export const PCA_DEFAULTS: PcaParams = { varianceKept: 0.9, refQuantile: 0.99 };

export interface PcaModel {
  mean: number[];
  std: number[];
  components: Matrix; // [n, k]
  eigenvalues: number[]; // [k]
  t2Ref: number;
  qRef: number;
}

export function fitPcaModel(rows: number[][], params: PcaParams = PCA_DEFAULTS): PcaModel {
  if (rows.length < 3) throw new Error(`PCA needs at least 3 normal frames, got ${rows.length}`);
  const n = at(rows, 0).length;
  if (n < 2) throw new Error("PCA needs at least 2 features");
  const mean = columnMean(rows);
  const std = safeStd(columnStd(rows, mean));
  const z = rows.map((r) => r.map((v, j) => (v - at(mean, j)) / at(std, j)));
  const { values, vectors } = symmetricEigen(covariance(z));
  const total = values.reduce((a, b) => a + Math.max(b, 0), 0);
  let k = 1;
  for (let acc = Math.max(at(values, 0), 0); k < n - 1 && acc < params.varianceKept * total; k++) acc += Math.max(at(values, k), 0);
  // A component with (near) zero variance would make T2 divide by ~0; floor it relative to the largest.
  const floor = Math.max(at(values, 0), 1e-12) * 1e-6;
  const eigenvalues = values.slice(0, k).map((l) => Math.max(l, floor));
  const components = vectors.map((row) => row.slice(0, k));
  const partial: PcaModel = { mean, std, components, eigenvalues, t2Ref: 1, qRef: 1 };
  const stats = z.map((zr) => t2q(partial, zr));
  partial.t2Ref = Math.max(quantile(stats.map((s) => s.t2), params.refQuantile), 1e-9);
  partial.qRef = Math.max(quantile(stats.map((s) => s.q), params.refQuantile), 1e-9);
  return partial;
}

/** T2 and Q of one z-scored row (the reference the graph is tested against). */
export function t2q(m: PcaModel, z: number[]): { t2: number; q: number } {
  const k = m.eigenvalues.length;
  const t = new Array<number>(k).fill(0);
  for (let c = 0; c < k; c++) for (let j = 0; j < z.length; j++) t[c] = at(t, c) + at(z, j) * el(m.components, j, c);
  let t2 = 0;
  for (let c = 0; c < k; c++) t2 += at(t, c) ** 2 / at(m.eigenvalues, c);
  let q = 0;
  for (let j = 0; j < z.length; j++) {
    let recon = 0;
    for (let c = 0; c < k; c++) recon += at(t, c) * el(m.components, j, c);
    q += (at(z, j) - recon) ** 2;
  }
  return { t2, q };
}

/** Combined score of one raw row, computed in TypeScript (for tests). */
export function pcaScore(m: PcaModel, raw: number[]): number {
  const { t2, q } = t2q(m, raw.map((v, j) => (v - at(m.mean, j)) / at(m.std, j)));
  return t2 / m.t2Ref + q / m.qRef;
}

export function pcaGraph(m: PcaModel): OnnxGraph {
  const n = m.mean.length;
  const k = m.eigenvalues.length;
  const g = new OnnxGraph("otbridge-pca-t2q");
  const z = normalisedInput(g, m.mean, m.std);
  const p = g.floats("pca_components", m.components.flat(), [n, k]);
  const pt = g.floats("pca_components_t", transpose(m.components).flat(), [k, n]);
  const t = g.op("MatMul", [z, p]);
  // T2 share per feature: z_j * (t / lambda) P^T, scaled by 1 / T2ref.
  const tOverLambda = g.op("Div", [t, g.floats("pca_eigenvalues", m.eigenvalues, [1, k])]);
  const t2Share = g.op("Mul", [z, g.op("MatMul", [tOverLambda, pt])]);
  const t2Part = g.op("Div", [t2Share, g.floats("t2_ref", [m.t2Ref], [])]);
  // Q share per feature: residual squared, scaled by 1 / Qref.
  const e = g.op("Sub", [z, g.op("MatMul", [t, pt])]);
  const qPart = g.op("Div", [g.op("Mul", [e, e]), g.floats("q_ref", [m.qRef], [])]);
  scoreFromContributions(g, g.op("Add", [t2Part, qPart]), n);
  return g;
}

export function fitPca(rows: number[][], params: Partial<PcaParams> = {}): FittedDetector {
  const p = { ...PCA_DEFAULTS, ...params };
  const m = fitPcaModel(rows, p);
  return {
    detector: "pca-t2q",
    graph: pcaGraph(m),
    mean: m.mean,
    std: m.std,
    params: { ...p, components: m.eigenvalues.length, t2Ref: m.t2Ref, qRef: m.qRef },
    contributionMeaning: "T2 share z_j(t Lambda^-1 P^T)_j / T2ref plus Q share e_j^2 / Qref; sum = score",
  };
}
