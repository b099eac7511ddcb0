/**
 * The model card written beside every `<name>.onnx` (the contract shared with otb-infer; the
 * node side validates it with nodes/shared/model-card.ts). The writer computes the sha256
 * from the exact bytes it writes, so card and file cannot disagree.
 */
import * as fs from "fs";
import * as path from "path";
import { parseModelCard, sha256Of } from "../../nodes/shared/model-card";

export interface ModelCard {
  name: string;
  version: string;
  /** Lowercase hex sha256 of the .onnx file bytes. */
  sha256: string;
  createdAt: string;
  detector: string;
  /** Names and order of the input vector. */
  features: string[];
  input: { name: string; shape: [null, number] };
  /** Graph output name -> meaning. */
  outputs: Record<string, string>;
  normalisation: { kind: "zscore"; mean: number[]; std: number[]; inGraph: true };
  /** Score above this => anomalous frame. */
  threshold: number;
  /** Training feature statistics, for drift. */
  baseline: { mean: number[]; std: number[]; n: number };
  training: { source: string; normalRows: number; seed: number; params: Record<string, unknown> };
}

export const SCORE_OUTPUT = "score";
export const CONTRIBUTIONS_OUTPUT = "contributions";
export const INPUT_NAME = "features";

/** The same hash otb-infer pins (nodes/shared/model-card.ts). */
export const sha256Hex = sha256Of;

/** The standard outputs description for a score + contributions graph. */
export function standardOutputs(contributionMeaning: string): Record<string, string> {
  return {
    [SCORE_OUTPUT]: "float32 [batch,1], anomaly score, higher = more anomalous",
    [CONTRIBUTIONS_OUTPUT]: `float32 [batch,nFeatures], each feature's share of the score (${contributionMeaning})`,
  };
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Writes `<dir>/<name>.onnx` then `<dir>/<name>.card.json`, each via a temporary file and a
 * rename, so a watcher (otb-infer hot reload) never sees a half-written file. The card goes
 * last: a reloader that waits for a card matching the model's hash sees a consistent pair.
 */
export function writeModelFiles(dir: string, bytes: Uint8Array, card: Omit<ModelCard, "sha256">): { onnxPath: string; cardPath: string; card: ModelCard } {
  if (!SAFE_NAME.test(card.name)) throw new Error(`model name "${card.name}" must be letters, digits, '.', '_' or '-'`);
  fs.mkdirSync(dir, { recursive: true });
  const full: ModelCard = { ...card, sha256: sha256Hex(bytes) };
  // Key order as in the contract, for readable diffs of committed cards.
  const ordered: ModelCard = {
    name: full.name, version: full.version, sha256: full.sha256, createdAt: full.createdAt, detector: full.detector,
    features: full.features, input: full.input, outputs: full.outputs, normalisation: full.normalisation,
    threshold: full.threshold, baseline: full.baseline, training: full.training,
  };
  const text = JSON.stringify(ordered, null, 2) + "\n";
  // Refuse to write a card the node would refuse to load: one parser for both sides.
  parseModelCard(text, `model card of ${card.name}`);
  const onnxPath = path.join(dir, `${card.name}.onnx`);
  const cardPath = path.join(dir, `${card.name}.card.json`);
  atomicWrite(onnxPath, bytes);
  atomicWrite(cardPath, text);
  return { onnxPath, cardPath, card: ordered };
}

function atomicWrite(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}
