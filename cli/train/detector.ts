/** What every detector returns: an ONNX graph plus what the model card needs to describe it. */
import type { OnnxGraph } from "./onnx-writer";

export interface FittedDetector {
  /** The card's `detector` value, e.g. "pca-t2q". */
  detector: string;
  graph: OnnxGraph;
  /** Normalisation applied inside the graph. */
  mean: number[];
  std: number[];
  /** Hyper-parameters and fitted sizes, recorded in the card's training.params. */
  params: Record<string, unknown>;
  /** How to read the contributions output, for the card. */
  contributionMeaning: string;
}

export interface DetectorOptions {
  seed: number;
}
