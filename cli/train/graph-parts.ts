/**
 * Graph pieces every detector shares: the in-graph z-score normalisation (the card says
 * `inGraph: true`, so otb-infer feeds raw feature values) and the score/contributions tail,
 * where the score is by construction the row sum of the contributions, so an alarm's
 * per-sensor breakdown always adds up to the number that raised it.
 */
import { CONTRIBUTIONS_OUTPUT, INPUT_NAME, SCORE_OUTPUT } from "./model-card";
import { OnnxGraph } from "./onnx-writer";

/** Smallest std used for normalisation: a constant training signal must not divide by zero. */
export const MIN_STD = 1e-6;

export function safeStd(std: number[]): number[] {
  return std.map((s) => (Number.isFinite(s) && s > MIN_STD ? s : MIN_STD));
}

/** Declares the `features` input [batch, n] and returns the normalised tensor z = (x - mean) / std. */
export function normalisedInput(g: OnnxGraph, mean: number[], std: number[]): string {
  const n = mean.length;
  const x = g.input(INPUT_NAME, [null, n]);
  const centred = g.op("Sub", [x, g.floats("norm_mean", mean, [1, n])]);
  return g.op("Div", [centred, g.floats("norm_std", safeStd(std), [1, n])]);
}

/** Emits `contributions` [batch, n] and `score` [batch, 1] = ReduceSum(contributions, axis 1). */
export function scoreFromContributions(g: OnnxGraph, contributions: string, n: number): void {
  const axes = g.int64s("axis_features", [1], [1]);
  const score = g.op("ReduceSum", [contributions, axes], { keepdims: { int: 1 } });
  g.output(score, SCORE_OUTPUT, [null, 1], "anomaly score, higher = more anomalous");
  g.output(contributions, CONTRIBUTIONS_OUTPUT, [null, n], "each feature's share of the score");
}
