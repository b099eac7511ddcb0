/**
 * The simplest detector: mean squared z-score against the training period. Its graph is small
 * enough to check by hand, which makes it the fixture model for otb-infer's tests.
 */
import type { FittedDetector } from "./detector";
import { normalisedInput, safeStd, scoreFromContributions } from "./graph-parts";
import { OnnxGraph } from "./onnx-writer";
import { columnMean, columnStd } from "./stats";

/** Fits from normal rows; `mean`/`std` may be given instead (fixtures). */
export function fitZScore(rows: number[][], given?: { mean: number[]; std: number[] }): FittedDetector {
  const mean = given?.mean ?? columnMean(rows);
  const std = safeStd(given?.std ?? columnStd(rows, mean));
  const n = mean.length;
  const g = new OnnxGraph("otbridge-zscore");
  const z = normalisedInput(g, mean, std);
  // contributions_j = z_j^2 / n, so score = mean of squared z-scores.
  const contributions = g.op("Div", [g.op("Mul", [z, z]), g.floats("n_features", [n], [])]);
  scoreFromContributions(g, contributions, n);
  return { detector: "zscore", graph: g, mean, std, params: {}, contributionMeaning: "z_j^2 / nFeatures; all >= 0, sum = score" };
}
