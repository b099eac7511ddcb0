/** Model files for otb-infer tests: part A's committed fixture, variants of it, and mutants. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { OnnxGraph } from "../../cli/train/onnx-writer";
import { fitZScore } from "../../cli/train/zscore";
import { sha256Of, type ModelCard } from "../../nodes/shared/model-card";
import { CHECK_TIMEOUT_MS } from "../../nodes/otb-infer/model-slot";

/**
 * How long a test waits for a model load (or reload) to end, in service or refused: past the
 * node's own bound for the child's check, so that a loaded machine is not read as a failure the
 * node itself would not report (light lane beside two hogs, 5 December: 15 s was not enough).
 */
export const MODEL_LOAD_WAIT_MS = CHECK_TIMEOUT_MS + 5000;

export const FIXTURE_DIR = path.resolve(__dirname, "..", "..", "..", "test", "fixtures", "models");
export const FIXTURE_ONNX = path.join(FIXTURE_DIR, "fixture-zscore.onnx");
export const FIXTURE_CARD = path.join(FIXTURE_DIR, "fixture-zscore.card.json");
export const FEATURES = ["pump.current:mean", "pump.pressure:mean", "pump.temperature:max"];

/** Hand-checked by the fixture's author: contributions_j = z_j^2 / 3, score = their sum, threshold 4. */
export const KNOWN = [
  { input: [10, 2, 50], contributions: [0, 0, 0], score: 0 },
  { input: [14, 2, 50], contributions: [4 / 3, 0, 0], score: 4 / 3 },
  { input: [12, 3, 40], contributions: [1 / 3, 4 / 3, 4 / 3], score: 3 },
  { input: [16, 3.5, 65], contributions: [3, 3, 3], score: 9 },
];

export function fixtureCard(): ModelCard {
  return JSON.parse(fs.readFileSync(FIXTURE_CARD, "utf8")) as ModelCard;
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "otb-infer-"));
}

/**
 * Writes `<dir>/<name>.onnx` and its card (the fixture's card with `overrides`), pinned to the
 * bytes unless the overrides say otherwise. The model is written first, then the card, each by
 * rename, like `otbridge train` does.
 */
export function writeModel(dir: string, bytes: Uint8Array, overrides: Partial<ModelCard> = {}, name = "model"): { onnx: string; card: string } {
  const onnx = path.join(dir, `${name}.onnx`);
  const card = path.join(dir, `${name}.card.json`);
  const full = { ...fixtureCard(), sha256: sha256Of(bytes), ...overrides };
  fs.writeFileSync(`${onnx}.tmp`, bytes);
  fs.renameSync(`${onnx}.tmp`, onnx);
  fs.writeFileSync(`${card}.tmp`, JSON.stringify(full, null, 2));
  fs.renameSync(`${card}.tmp`, card);
  return { onnx, card };
}

/** A z-score model like the fixture, centred elsewhere (a "retrained" model). */
export function zscoreModel(mean: number[], std = [2, 0.5, 5]): Uint8Array {
  return fitZScore([], { mean, std }).graph.toBytes({ producerVersion: "test", modelVersion: 2 });
}

/** Deterministic PRNG (the trainer's mulberry32) so that mutants are the same on every run. */
export { seededRandom as rng } from "../../cli/train/stats";

/** Mutant i: 1-8 random bytes overwritten, a byte range deleted, or a truncation, by turns. */
export function mutate(bytes: Uint8Array, random: () => number, i: number): Uint8Array {
  const out = Buffer.from(bytes);
  const at = (): number => Math.floor(random() * out.length);
  switch (i % 3) {
    case 0: {
      const k = 1 + Math.floor(random() * 8);
      for (let j = 0; j < k; j++) out[at()] = Math.floor(random() * 256);
      return out;
    }
    case 1: {
      const from = at();
      return Buffer.concat([out.subarray(0, from), out.subarray(Math.min(out.length, from + 1 + Math.floor(random() * 16)))]);
    }
    default:
      return out.subarray(0, Math.max(1, at()));
  }
}

/**
 * A deliberately slow model (a 3 -> width -> width -> width -> 1 chain of MatMuls, constant weights)
 * for tests about what a long inference does to the rest of the runtime. Output "score" only.
 */
export function slowModel(width = 1000): Uint8Array {
  const g = new OnnxGraph("otbridge-slow-test");
  let x = g.input("features", [null, 3]);
  x = g.op("MatMul", [x, g.floats("w_in", new Float32Array(3 * width).fill(0.01), [3, width])]);
  for (let k = 0; k < 2; k++) x = g.op("Relu", [g.op("MatMul", [x, g.floats(`w${k}`, new Float32Array(width * width).fill(0.001), [width, width])])]);
  x = g.op("MatMul", [x, g.floats("w_out", new Float32Array(width).fill(0.001), [width, 1])]);
  g.output(x, "score", [null, 1]);
  return g.toBytes({ producerVersion: "test", modelVersion: 1 });
}

/**
 * The fixture's z-score model (same mean, std and outputs) exported with a fixed batch size
 * instead of a dynamic one, as some exporters write it: input [batch, 3], outputs [batch, 1] and [batch, 3].
 */
export function fixedBatchModel(batch: number, mean = [10, 2, 50], std = [2, 0.5, 5]): Uint8Array {
  const g = new OnnxGraph("otbridge-zscore-fixed-batch");
  const x = g.input("features", [batch, 3]);
  const z = g.op("Div", [g.op("Sub", [x, g.floats("norm_mean", mean, [1, 3])]), g.floats("norm_std", std, [1, 3])]);
  const contributions = g.op("Div", [g.op("Mul", [z, z]), g.floats("n_features", [3], [])]);
  const score = g.op("ReduceSum", [contributions, g.int64s("axis_features", [1], [1])], { keepdims: { int: 1 } });
  g.output(score, "score", [batch, 1]);
  g.output(contributions, "contributions", [batch, 3]);
  return g.toBytes({ producerVersion: "test", modelVersion: 1 });
}
