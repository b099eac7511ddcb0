/**
 * Loading a pinned model, in the order that keeps untrusted bytes away from onnxruntime until
 * they have earned it: card (schema) -> bytes -> sha256 against the card's pin and the node's
 * own optional pin -> the engine (engine.ts; "inference unavailable" when none loads) -> a check
 * in a throwaway child process -> the shared in-process session, checked again (input names and
 * shape, outputs, a test run) -> warm-up runs (warm-up.ts). Any failure is a ModelError (or EngineUnavailableError) whose
 * message says which step refused the model and why.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { OtbError, toError } from "../shared";
import { cardPathFor, loadModelCard, sha256Of, type ModelCard } from "../shared/model-card";
import { engine as processEngine, type Engine } from "./engine";
import { CheckCache } from "./check-cache";
import type { CheckReport } from "./model-check";
import { pool, type Execution, type Runner } from "./session-pool";

export { pool, type Execution } from "./session-pool";

export class ModelError extends OtbError {
  constructor(message: string) {
    super("model", message);
  }
}

export interface LoadOptions {
  modelPath: string;
  /** Defaults to `<model>.card.json` beside the model. */
  cardPath?: string;
  /** The node's own pin; empty trusts the card's sha256. */
  pinnedSha256?: string;
  threads: number;
  /** Parse the file in a child process first (default). Off only for trusted files in benchmarks. */
  isolate: boolean;
  checkTimeoutMs: number;
  /** "main" (default): Node-RED's thread; "worker": a worker thread (see session-pool.ts). */
  execution?: Execution;
  /** The ONNX engine; default: the process's (engine.ts picks onnxruntime-node, else onnxruntime-web). */
  engine?: Engine;
  /**
   * A folder (under Node-RED's userDir) where the child's passes are remembered across restarts
   * (check-cache.ts), so that a restart with the same model skips the child. Absent: in memory only.
   */
  checkCacheDir?: string;
}

export interface LoadedModel {
  card: ModelCard;
  sha256: string;
  modelPath: string;
  runner: Runner;
  report: CheckReport;
  /** The engine that runs it, e.g. "onnxruntime-web 1.31.1 (wasm)". */
  engine: string;
  /** Warm-up runs of this model's runner (warm-up.ts; once per runner, so a shared one reports its first load's). */
  warmRuns: number;
  /** Gives the session back to the pool; the last user closes it. */
  release(): Promise<void>;
}

const acceptedByChild = new Set<string>();

/** Forgets the passes kept in memory (what a Node-RED restart does); the disk cache stays. For tests. */
export function forgetChecks(): void {
  acceptedByChild.clear();
}

const short = (sha: string): string => `${sha.slice(0, 12)}…`;

export async function loadModel(options: LoadOptions): Promise<LoadedModel> {
  const modelPath = path.resolve(options.modelPath);
  const card = await loadModelCard(options.cardPath ? path.resolve(options.cardPath) : cardPathFor(modelPath)).catch((err: unknown) => {
    throw new ModelError(toError(err).message);
  });
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(modelPath);
  } catch (err) {
    throw new ModelError(`cannot read model ${modelPath}: ${(err as NodeJS.ErrnoException).code ?? toError(err).message}`);
  }
  const sha256 = sha256Of(bytes);
  if (sha256 !== card.sha256) {
    throw new ModelError(`sha256 mismatch: ${path.basename(modelPath)} is ${short(sha256)}, its card pins ${short(card.sha256)}; refused before loading`);
  }
  const pin = (options.pinnedSha256 ?? "").trim().toLowerCase();
  if (pin && pin !== sha256) {
    throw new ModelError(`sha256 mismatch: ${path.basename(modelPath)} is ${short(sha256)}, this node pins ${short(pin)}; refused before loading`);
  }
  // The child's verdict depends only on the bytes (pinned by sha256) and what the card asks of
  // them, so it is remembered: a redeploy, or a second node on the same model, skips the spawn.
  const engine = options.engine ?? processEngine();
  const checked = `${sha256}|${JSON.stringify([card.input, card.features, Object.keys(card.outputs), card.baseline?.mean ?? null])}`;
  const verdictKey = `${engine.modulePath}|${checked}`;
  if (options.isolate && !acceptedByChild.has(verdictKey)) {
    const cache = options.checkCacheDir ? new CheckCache(options.checkCacheDir) : null;
    // By engine name, version and kind rather than path: the same engine reinstalled elsewhere
    // parses the same way; a different version may not, and checks again.
    const cacheKey = `${engine.label}|${checked}`;
    if (!cache?.has(cacheKey)) {
      await checkInChild(modelPath, sha256, card, options.threads, options.checkTimeoutMs, engine);
      cache?.add(cacheKey);
    }
    if (acceptedByChild.size > 256) acceptedByChild.clear();
    acceptedByChild.add(verdictKey);
  }
  const execution = options.execution ?? "main";
  const key = `${modelPath}|${sha256}|${options.threads}|${engine.modulePath}|${execution}`;
  const runner = await pool.acquire(key, bytes, options.threads, execution, engine);
  try {
    const report = await runner.check(card);
    // After the check (a model is never run before it passed); a shared runner warms once.
    const warmRuns = await runner.warmUp(card);
    return { card, sha256, modelPath, runner, report, engine: engine.label, warmRuns, release: () => pool.release(key) };
  } catch (err) {
    await pool.release(key);
    throw new ModelError(`model ${path.basename(modelPath)} refused: ${toError(err).message}`);
  }
}

/** Runs model-check-child.js on the file; resolves if it accepted the model, throws ModelError otherwise. */
export function checkInChild(modelPath: string, sha256: string, card: ModelCard, threads: number, timeoutMs: number, engine?: Engine): Promise<CheckReport> {
  return new Promise((resolve, reject) => {
    let enginePath: string;
    try {
      enginePath = (engine ?? processEngine()).modulePath;
    } catch (err) {
      reject(err);
      return;
    }
    const child = spawn(process.execPath, [path.join(__dirname, "model-check-child.js")], { stdio: ["pipe", "pipe", "pipe"], windowsHide: true });
    let stdout = "";
    let stderr = "";
    let settled = false;
    const finish = (err: Error | null, report?: CheckReport): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(report as CheckReport);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(new ModelError(`model ${path.basename(modelPath)} refused: the checker did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.stdin.on("error", () => undefined); // the child may die before reading its request
    child.on("error", (err) => finish(new ModelError(`cannot start the model checker: ${err.message}`)));
    // "close", not "exit": "exit" can come before the child's last stdout data has been read
    // (Node's child_process docs), and a passing check then read as an empty reply. Seen with ten
    // lines in one busy Node-RED: "refused: onnxruntime exited with code 0 while parsing it".
    child.on("close", (code, signal) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      let result: { ok: boolean; error?: string; report?: CheckReport } | null = null;
      try {
        result = line ? JSON.parse(line) : null;
      } catch {
        result = null;
      }
      if (result?.ok) finish(null, result.report);
      else if (result) finish(new ModelError(`model ${path.basename(modelPath)} refused: ${firstLine(result.error)}`));
      else {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        finish(new ModelError(`model ${path.basename(modelPath)} refused: onnxruntime ${how} while parsing it${stderr ? ` (${firstLine(stderr)})` : ""}`));
      }
    });
    child.stdin.end(JSON.stringify({ modelPath, sha256, card, threads, engine: enginePath }));
  });
}

function firstLine(text: string | undefined): string {
  return (String(text ?? "unknown error").trim().split("\n")[0] ?? "").slice(0, 300);
}
