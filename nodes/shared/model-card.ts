/**
 * The model card: the JSON file beside `<name>.onnx` that says what the model expects and means
 * (feature names and order, input tensor, output meaning, alarm threshold, training baseline).
 * `otbridge train` writes it and otb-infer refuses a model that does not match it. The card pins
 * the model by the sha256 of its bytes, so a swapped or corrupted file is refused before
 * onnxruntime ever parses it.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import { ConfigError } from "./errors";
import { describeErrors, lazyValidator, type KeysOf } from "./schemas";

export interface ModelCard {
  name: string;
  version: string;
  /** Lowercase hex sha256 of the .onnx file bytes. */
  sha256: string;
  createdAt: string;
  /** e.g. "pca-t2q", "autoencoder". */
  detector: string;
  /** Names AND order of the input vector, "<tag>:<aggregation>". */
  features: string[];
  /** float32 [batch, nFeatures]; the batch dimension is null (dynamic). */
  input: { name: string; shape: [number | null, number] };
  /** Graph output name -> its meaning. "score" ([batch,1]) and "contributions" ([batch,n]) by convention. */
  outputs: Record<string, string>;
  normalisation?: { kind: string; mean?: number[]; std?: number[]; inGraph: boolean };
  /** A score above this marks the frame anomalous. */
  threshold?: number;
  /** Training feature statistics, for drift. */
  baseline?: { mean: number[]; std: number[]; n: number };
  training?: Record<string, unknown>;
}

export const modelCardKeys: KeysOf<ModelCard> = {
  name: true, version: true, sha256: true, createdAt: true, detector: true, features: true, input: true,
  outputs: true, normalisation: true, threshold: true, baseline: true, training: true,
};

const numberArray = { type: "array", items: { type: "number" } } as const;

export const modelCardSchema = {
  $id: "otb:model-card",
  type: "object",
  // Extra keys are allowed: a newer trainer may add fields an older node does not need.
  additionalProperties: true,
  required: ["name", "version", "sha256", "createdAt", "detector", "features", "input", "outputs"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 256, pattern: "^[^/+#$\\u0000][^/+#\\u0000]*$" },
    version: { type: "string", minLength: 1, maxLength: 64 },
    sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
    createdAt: { type: "string" },
    detector: { type: "string" },
    features: { type: "array", minItems: 1, maxItems: 10000, items: { type: "string", minLength: 1, maxLength: 1024 } },
    input: {
      type: "object",
      required: ["name", "shape"],
      properties: {
        name: { type: "string", minLength: 1 },
        shape: {
          type: "array", minItems: 2, maxItems: 2,
          items: [{ type: ["integer", "null"] }, { type: "integer", minimum: 1 }],
        },
      },
    },
    outputs: { type: "object", minProperties: 1, additionalProperties: { type: "string" } },
    normalisation: {
      type: "object",
      required: ["kind", "inGraph"],
      properties: { kind: { type: "string" }, mean: numberArray, std: numberArray, inGraph: { type: "boolean" } },
    },
    threshold: { type: "number" },
    baseline: {
      type: "object",
      required: ["mean", "std", "n"],
      properties: { mean: numberArray, std: numberArray, n: { type: "number", minimum: 0 } },
    },
    training: { type: "object" },
  },
} as const;

// Compiled on the pack's shared ajv instance (strict mode: the tuple `items` carries min/maxItems).
export const validateModelCard = lazyValidator<ModelCard>((ajv) => ajv.compile<ModelCard>(modelCardSchema));

/**
 * Checks what the schema cannot: lengths that must agree with the feature list, distinct names.
 * Returns the problems; an empty list means the card is consistent.
 */
export function cardProblems(card: ModelCard): string[] {
  const n = card.features.length;
  const problems: string[] = [];
  if (new Set(card.features).size !== n) problems.push("features contains duplicate names");
  if (card.input.shape[1] !== n) problems.push(`input.shape[1] is ${card.input.shape[1]} but there are ${n} features`);
  const lengthOf = (what: string, arr: number[] | undefined): void => {
    if (arr && arr.length !== n) problems.push(`${what} has ${arr.length} values for ${n} features`);
  };
  lengthOf("normalisation.mean", card.normalisation?.mean);
  lengthOf("normalisation.std", card.normalisation?.std);
  lengthOf("baseline.mean", card.baseline?.mean);
  lengthOf("baseline.std", card.baseline?.std);
  return problems;
}

/** Parses and checks a card's JSON text; throws a ConfigError naming every problem. */
export function parseModelCard(text: string, where = "model card"): ModelCard {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  if (!validateModelCard(data)) throw new ConfigError(`${where}: ${describeErrors(validateModelCard.errors)}`);
  const problems = cardProblems(data);
  if (problems.length > 0) throw new ConfigError(`${where}: ${problems.join("; ")}`);
  return data;
}

/** Reads and checks `<name>.card.json`. Throws a ConfigError (missing file, bad JSON, schema). */
export async function loadModelCard(path: string): Promise<ModelCard> {
  let text: string;
  try {
    text = await fs.promises.readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read model card ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseModelCard(text, `model card ${path}`);
}

/** The card that belongs to a model file: `pump.onnx` -> `pump.card.json`. */
export function cardPathFor(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, "") + ".card.json";
}

export function sha256Of(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** sha256 of a file's bytes, streamed (models can be large). */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    fs.createReadStream(path)
      .on("error", reject)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolve(hash.digest("hex")));
  });
}
