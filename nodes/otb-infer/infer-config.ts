/** An otb-infer's checked configuration (schema.ts) as the engine's options; throws ConfigError naming the field. */
import * as path from "path";
import type { NodeDef } from "../shared/red";
import { readConfig, type ConfigOf } from "../shared/schema";
import { schema } from "./schema";
import type { DropPolicy } from "./infer-engine";
import type { Execution } from "./session-pool";

export type InferSettings = ConfigOf<typeof schema>;
export type OtbInferDef = NodeDef & Partial<Record<keyof InferSettings, unknown>> & Record<string, unknown>;

export interface InferConfig {
  modelPath: string;
  /** Where passed model checks are remembered (check-cache.ts); none: check every load. */
  checkCacheDir?: string;
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

/** A saved otb-infer's configuration (as the runtime and `otbridge lint` read it); `baseDir` resolves relative paths. */
export function parseInferConfig(def: Record<string, unknown>, baseDir: string): InferConfig {
  return inferFromSettings(readConfig(schema, def), baseDir);
}

export function inferFromSettings(c: InferSettings, baseDir: string): InferConfig {
  return {
    modelPath: path.resolve(baseDir, c.modelPath),
    cardPath: c.cardPath ? path.resolve(baseDir, c.cardPath) : undefined,
    pinnedSha256: c.sha256 ? c.sha256.toLowerCase() : undefined,
    threads: c.threads,
    execution: c.execution,
    maxQueue: c.maxQueue,
    // A batch larger than the queue could never fill.
    maxBatch: Math.min(c.maxBatch, c.maxQueue),
    dropPolicy: c.dropPolicy,
    threshold: Number.isFinite(c.threshold) ? c.threshold : undefined,
    raiseAfter: c.raiseAfter,
    clearAfter: c.clearAfter,
    driftIntervalMs: Math.round(c.driftInterval * 1000),
    driftWarn: c.driftWarn,
    hotReload: c.hotReload,
    pollMs: Math.round(c.pollInterval * 1000),
  };
}
