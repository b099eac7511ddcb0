/** Parsing of an otb-infer's editor configuration; throws ConfigError naming the field. */
import * as path from "path";
import { ConfigError, bool, num } from "../shared";
import type { NodeDef } from "../shared/red";
import type { DropPolicy } from "./infer-engine";
import type { Execution } from "./session-pool";

export interface OtbInferDef extends NodeDef {
  modelPath: string;
  cardPath?: string;
  /** Optional pin of the model's sha256 in the flow itself (reviewed in git). */
  sha256?: string;
  threads: string | number;
  /** "main" (default) or "worker": where the model runs (see session-pool.ts). */
  execution?: Execution;
  maxQueue: string | number;
  maxBatch: string | number;
  dropPolicy: DropPolicy;
  /** Empty: the card's threshold. */
  threshold?: string | number;
  raiseAfter: string | number;
  clearAfter: string | number;
  /** Seconds between drift reports; 0 turns drift off. */
  driftInterval: string | number;
  driftWarn: string | number;
  hotReload: boolean | string;
  pollInterval: string | number;
}

export interface InferConfig {
  modelPath: string;
  cardPath?: string;
  pinnedSha256?: string;
  threads: number;
  execution: Execution;
  maxQueue: number;
  maxBatch: number;
  dropPolicy: DropPolicy;
  threshold?: number;
  raiseAfter: number;
  clearAfter: number;
  driftIntervalMs: number;
  driftWarn: number;
  hotReload: boolean;
  pollMs: number;
}

const DROP: readonly DropPolicy[] = ["drop-oldest", "drop-newest"];

/** `baseDir` resolves relative paths (Node-RED's user directory, where flows live). */
export function parseInferConfig(def: Partial<OtbInferDef>, baseDir: string): InferConfig {
  const modelPath = String(def.modelPath ?? "").trim();
  if (!modelPath) throw new ConfigError("model file is required");
  if (!/\.onnx$/i.test(modelPath)) throw new ConfigError(`model file "${modelPath}" must end in .onnx`);
  const cardPath = String(def.cardPath ?? "").trim();
  const pin = String(def.sha256 ?? "").trim().toLowerCase();
  if (pin && !/^[0-9a-f]{64}$/.test(pin)) throw new ConfigError("sha256 pin must be 64 hex digits, or empty to trust the card");
  const dropPolicy = (def.dropPolicy || "drop-oldest") as DropPolicy;
  if (!DROP.includes(dropPolicy)) throw new ConfigError(`drop policy "${dropPolicy}" is not one of ${DROP.join(", ")}`);
  const thresholdText = String(def.threshold ?? "").trim();
  const threshold = thresholdText === "" ? undefined : num(thresholdText, NaN);
  if (threshold !== undefined && !Number.isFinite(threshold)) throw new ConfigError("threshold must be a number, or empty to use the card's");
  const execution = (def.execution || "main") as Execution;
  if (execution !== "main" && execution !== "worker") throw new ConfigError(`execution "${execution}" is not main or worker`);
  const maxQueue = Math.round(num(def.maxQueue, 100, 1, 1_000_000));
  return {
    modelPath: path.resolve(baseDir, modelPath),
    cardPath: cardPath ? path.resolve(baseDir, cardPath) : undefined,
    pinnedSha256: pin || undefined,
    threads: Math.round(num(def.threads, 1, 1, 64)),
    execution,
    maxQueue,
    maxBatch: Math.round(num(def.maxBatch, 32, 1, Math.min(4096, maxQueue))),
    dropPolicy,
    threshold,
    raiseAfter: Math.round(num(def.raiseAfter, 3, 1, 100_000)),
    clearAfter: Math.round(num(def.clearAfter, 5, 1, 100_000)),
    driftIntervalMs: Math.round(num(def.driftInterval, 60, 0, 86_400) * 1000),
    driftWarn: num(def.driftWarn, 1, 0),
    hotReload: bool(def.hotReload, true),
    pollMs: Math.round(num(def.pollInterval, 2, 0.05, 3600) * 1000),
  };
}
