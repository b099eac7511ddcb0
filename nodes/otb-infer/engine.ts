/**
 * Which ONNX engine runs the models. The pack depends on onnxruntime-web only: its WebAssembly
 * build runs in Node, has no install script and carries its .wasm files inside the npm package,
 * so `npm install node-red-contrib-otbridge` needs nothing beyond the npm registry.
 * onnxruntime-node is faster but its postinstall fetches CUDA binaries from api.nuget.org and
 * exits 1 without that host (1.30.0: getaddrinfo ENOTFOUND api.nuget.org), so it is an optional
 * peer: used when the user installed it beside Node-RED (`npm install onnxruntime-node` there).
 *
 * The choice is made once per process, by the same rule in Node-RED's process, the inference
 * worker thread and the model-check child, which are handed the chosen module's path so that all
 * three run the same engine. When none loads, the error names each engine and why it failed.
 */
import * as fs from "fs";
import * as path from "path";
import type { InferenceSession, Tensor } from "onnxruntime-web";
// errors only, not ../shared: the model-check child imports this, and must start fast (no ajv).
import { OtbError, toError } from "../shared/errors";

/** What the pack uses of either module (both re-export onnxruntime-common's API). */
export interface Ort {
  InferenceSession: { create(bytes: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => Tensor;
  env: { wasm?: { numThreads?: number } };
}

export type EngineName = "onnxruntime-node" | "onnxruntime-web";

export interface Engine {
  name: EngineName;
  version: string;
  /** "native" (onnxruntime-node's CPU build) or "wasm" (onnxruntime-web in Node). */
  kind: "native" | "wasm";
  /** The resolved module path, handed to the worker thread and the model-check child. */
  modulePath: string;
  ort: Ort;
  /** Session options for this engine with `threads` intra-op threads where it supports them. */
  sessionOptions(threads: number): InferenceSession.SessionOptions;
  /** "onnxruntime-web 1.31.1 (wasm)", for the log line and the model event. */
  label: string;
}

export class EngineUnavailableError extends OtbError {
  constructor(message: string) {
    super("model", message);
  }
}

/**
 * Keeps WebAssembly on V8's baseline compiler (Liftoff) in this process, unless OTB_WASM_TIERUP=1.
 * By default V8 recompiles hot wasm functions with TurboFan on background threads; for the small
 * models of a line (the pilot's PCA, a few kB) that bought nothing and cost a lot (this project's
 * machine, Node 20, onnxruntime-web 1.31, pilot model, 6,000 runs, two runs each): 113-119 MB PSS
 * instead of 141-172 MB per process, 1.0 s of CPU instead of 1.8 s, steady p50 24-26 us instead of
 * 20-22 us and p99 69-95 us instead of 180-234 us. A large model may run slower without TurboFan:
 * OTB_WASM_TIERUP=1 keeps V8's default. The flag is process-wide (every wasm module compiled after
 * it runs on Liftoff: slower at worst, never different) and is set before onnxruntime-web compiles
 * its module; v8.setFlagsFromString after start is supported by Node for such flags (it measured
 * the same as `node --liftoff-only`).
 */
function baselineWasmCompiler(env: NodeJS.ProcessEnv = process.env): void {
  if (env.OTB_WASM_TIERUP === "1") return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require("v8") as typeof import("v8")).setFlagsFromString("--liftoff-only");
}

/** Preference order: the native build when the user installed it, then the bundled WebAssembly one. */
export const DEFAULT_CANDIDATES: readonly string[] = ["onnxruntime-node", "onnxruntime-web"];

function nameOf(specifierOrPath: string): EngineName {
  return /onnxruntime-node/.test(specifierOrPath) ? "onnxruntime-node" : "onnxruntime-web";
}

function versionOf(modulePath: string, name: EngineName, mod: Record<string, unknown>): string {
  const env = mod.env as { versions?: Record<string, string> } | undefined;
  const fromEnv = env?.versions?.[name === "onnxruntime-node" ? "node" : "web"] ?? env?.versions?.common;
  if (fromEnv) return fromEnv;
  // The package.json above the resolved entry (dist/...), found by walking up.
  for (let dir = path.dirname(modulePath); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
    if (pkg.name === name) return pkg.version ?? "?";
  }
  return "?";
}

/** Loads one engine from a module specifier or an absolute path; throws if it does not load. */
export function loadEngineFrom(specifierOrPath: string): Engine {
  const modulePath = require.resolve(specifierOrPath);
  const name = nameOf(modulePath);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(modulePath) as Ort & Record<string, unknown>;
  if (typeof mod.InferenceSession?.create !== "function" || typeof mod.Tensor !== "function") {
    throw new Error(`${modulePath} has no InferenceSession/Tensor`);
  }
  const kind = name === "onnxruntime-node" ? "native" : "wasm";
  if (kind === "wasm") {
    if (typeof WebAssembly !== "object") throw new Error("this Node.js has no WebAssembly");
    baselineWasmCompiler();
    // One WebAssembly instance serves every session of the process, so its thread count is
    // global; 1 keeps inference off the cores ingestion needs and spawns no extra workers.
    if (mod.env.wasm) mod.env.wasm.numThreads = 1;
  }
  const version = versionOf(modulePath, name, mod);
  return {
    name, version, kind, modulePath, ort: mod, label: `${name} ${version} (${kind})`,
    sessionOptions(threads: number): InferenceSession.SessionOptions {
      // Sequential execution and a fixed thread count: the edge PC's cores belong to ingestion first.
      const common: InferenceSession.SessionOptions = { graphOptimizationLevel: "all", executionMode: "sequential" };
      return kind === "native"
        ? { ...common, intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ["cpu"] }
        : { ...common, executionProviders: ["wasm"] };
    },
  };
}

/** First engine of `candidates` that loads; the reasons of every failure when none does. */
export function selectEngine(candidates: readonly string[] = DEFAULT_CANDIDATES): Engine {
  const reasons: string[] = [];
  for (const candidate of candidates) {
    try {
      return loadEngineFrom(candidate);
    } catch (err) {
      const e = toError(err) as NodeJS.ErrnoException;
      const [firstLine = ""] = e.message.trim().split("\n");
      const why = e.code === "MODULE_NOT_FOUND" && e.message.includes(`'${candidate}'`) ? "not installed" : firstLine.slice(0, 200);
      reasons.push(`${candidate}: ${why}`);
    }
  }
  throw new EngineUnavailableError(
    `inference unavailable: no ONNX engine loads on ${process.platform}-${process.arch}, Node ${process.versions.node} (${reasons.join("; ")})`,
  );
}

let chosen: { engine?: Engine; error?: Error } | null = null;

/**
 * The candidates of this process: OTB_INFER_ENGINE (a module name or path) alone when set, to
 * pin one engine (e.g. onnxruntime-web although onnxruntime-node is installed); else the default.
 */
export function candidates(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const pinned = (env.OTB_INFER_ENGINE ?? "").trim();
  return pinned ? [pinned] : DEFAULT_CANDIDATES;
}

/** The process's engine, chosen on first use (a flow without otb-infer never loads one). */
export function engine(): Engine {
  if (!chosen) {
    try {
      chosen = { engine: selectEngine(candidates()) };
    } catch (err) {
      chosen = { error: toError(err) };
    }
  }
  if (chosen.error) throw chosen.error;
  return chosen.engine as Engine;
}

/** Engines already loaded by path, for the worker thread and the child, which are told which one. */
const byPath = new Map<string, Engine>();
export function engineAt(modulePath: string): Engine {
  let e = byPath.get(modulePath);
  if (!e) {
    e = loadEngineFrom(modulePath);
    byPath.set(modulePath, e);
  }
  return e;
}

/** Forgets the process's choice, so that the next engine() chooses again (benchmarks, tests). */
export function resetEngine(): void {
  chosen = null;
}
