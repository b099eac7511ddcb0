/**
 * From normal feature rows to a model file pair: fit the chosen detector, write its graph,
 * score the normal period through that very graph in onnxruntime, and set the threshold at a
 * quantile of those scores times a margin.
 */
import type { FittedDetector } from "./detector";
import { INPUT_NAME, standardOutputs, type ModelCard } from "./model-card";
import { fitMset } from "./mset";
import { fitPca } from "./pca";
import { scoreRows } from "./score";
import { columnMean, columnStd, quantile } from "./stats";
import { fitZScore } from "./zscore";

export const DETECTORS = ["pca", "mset", "zscore"] as const;
export type DetectorName = (typeof DETECTORS)[number];

export interface TrainOptions {
  name: string;
  version: string;
  detector: DetectorName;
  seed: number;
  /** Detector hyper-parameters (see each detector's defaults). */
  params?: Record<string, number>;
  /** Threshold = quantile(normal scores, thresholdQuantile) * thresholdMargin. */
  thresholdQuantile: number;
  thresholdMargin: number;
  /** Free text for the card's training.source. */
  source: string;
  /** Extra facts for training.params (window length, hysteresis advice...). */
  extraParams?: Record<string, unknown>;
  createdAt?: string;
}

export interface TrainedModel {
  bytes: Uint8Array;
  card: Omit<ModelCard, "sha256">;
  /** Scores of the normal rows, for reporting. */
  normalScores: number[];
}

export function fitDetector(name: DetectorName, rows: number[][], seed: number, params: Record<string, number> = {}): FittedDetector {
  switch (name) {
    case "pca":
      return fitPca(rows, params);
    case "mset":
      return fitMset(rows, seed, params);
    case "zscore":
      return fitZScore(rows);
  }
}

export async function trainModel(rows: number[][], features: string[], opts: TrainOptions): Promise<TrainedModel> {
  if (rows.length === 0) throw new Error("no normal rows to train on");
  if (rows.some((r) => r.length !== features.length || r.some((v) => !Number.isFinite(v)))) {
    throw new Error(`every normal row needs ${features.length} finite values`);
  }
  const fitted = fitDetector(opts.detector, rows, opts.seed, opts.params);
  const bytes = fitted.graph.toBytes({ producerVersion: opts.version, metadata: { name: opts.name, version: opts.version, detector: fitted.detector } });
  const { scores } = await scoreRows(bytes, rows);
  const threshold = quantile(scores, opts.thresholdQuantile) * opts.thresholdMargin;
  if (!Number.isFinite(threshold)) throw new Error("the model's scores on the normal period are not finite");
  const mean = columnMean(rows);
  const card: Omit<ModelCard, "sha256"> = {
    name: opts.name,
    version: opts.version,
    createdAt: opts.createdAt ?? new Date().toISOString(),
    detector: fitted.detector,
    features,
    input: { name: INPUT_NAME, shape: [null, features.length] },
    outputs: standardOutputs(fitted.contributionMeaning),
    normalisation: { kind: "zscore", mean: fitted.mean, std: fitted.std, inGraph: true },
    threshold: round(threshold),
    baseline: { mean, std: columnStd(rows, mean), n: rows.length },
    training: {
      source: opts.source,
      normalRows: rows.length,
      seed: opts.seed,
      params: {
        ...fitted.params,
        thresholdQuantile: opts.thresholdQuantile,
        thresholdMargin: opts.thresholdMargin,
        ...opts.extraParams,
      },
    },
  };
  return { bytes, card, normalScores: scores };
}

/** Thresholds are compared with float32 scores; 7 significant digits is all they carry. */
function round(x: number): number {
  return Number(x.toPrecision(7));
}
