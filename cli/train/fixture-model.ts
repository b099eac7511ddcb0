/**
 * The committed fixture model test/fixtures/models/fixture-zscore.{onnx,card.json}: a tiny
 * z-score detector over three features with hand-checkable outputs, for otb-infer's tests.
 * Regenerate with `node dist/cli/train/fixture-model.js` (deterministic: same bytes every time;
 * test/train/fixture-model.test.ts fails if the committed files drift from this code).
 *
 * Known values (contributions_j = z_j^2 / 3, score = their sum, threshold 4):
 *   [10, 2, 50]   -> z [0,0,0]  -> contributions [0,0,0]       score 0
 *   [14, 2, 50]   -> z [2,0,0]  -> contributions [4/3,0,0]     score 1.3333
 *   [12, 3, 40]   -> z [1,2,-2] -> contributions [1/3,4/3,4/3] score 3
 *   [16, 3.5, 65] -> z [3,3,3]  -> contributions [3,3,3]       score 9 (anomalous)
 */
import * as path from "path";
import { standardOutputs, writeModelFiles, INPUT_NAME, type ModelCard } from "./model-card";
import { fitZScore } from "./zscore";

export const FIXTURE_NAME = "fixture-zscore";
export const FIXTURE_FEATURES = ["pump.current:mean", "pump.pressure:mean", "pump.temperature:max"];
export const FIXTURE_CASES: Array<{ input: number[]; contributions: number[]; score: number }> = [
  { input: [10, 2, 50], contributions: [0, 0, 0], score: 0 },
  { input: [14, 2, 50], contributions: [4 / 3, 0, 0], score: 4 / 3 },
  { input: [12, 3, 40], contributions: [1 / 3, 4 / 3, 4 / 3], score: 3 },
  { input: [16, 3.5, 65], contributions: [3, 3, 3], score: 9 },
];

export function buildFixtureModel(): { bytes: Uint8Array; card: Omit<ModelCard, "sha256"> } {
  const mean = [10, 2, 50];
  const std = [2, 0.5, 5];
  const fitted = fitZScore([], { mean, std });
  const bytes = fitted.graph.toBytes({ producerVersion: "fixture", modelVersion: 1, metadata: { name: FIXTURE_NAME } });
  return {
    bytes,
    card: {
      name: FIXTURE_NAME,
      version: "1.0.0",
      createdAt: "2026-01-01T00:00:00.000Z",
      detector: fitted.detector,
      features: FIXTURE_FEATURES,
      input: { name: INPUT_NAME, shape: [null, FIXTURE_FEATURES.length] },
      outputs: standardOutputs(fitted.contributionMeaning),
      normalisation: { kind: "zscore", mean, std, inGraph: true },
      threshold: 4,
      baseline: { mean, std, n: 400 },
      training: { source: "synthetic fixture (cli/train/fixture-model.ts)", normalRows: 400, seed: 1, params: {} },
    },
  };
}

if (require.main === module) {
  const dir = path.resolve(__dirname, "..", "..", "..", "test", "fixtures", "models");
  const { bytes, card } = buildFixtureModel();
  const out = writeModelFiles(dir, bytes, card);
  console.log(`wrote ${out.onnxPath} (${bytes.length} bytes, sha256 ${out.card.sha256})`);
}
