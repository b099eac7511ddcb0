/**
 * Where a model runs, and the pool that shares it. Both engines (engine.ts) run a session
 * synchronously on the JavaScript thread (onnxruntime-node's run() is a setImmediate around a
 * blocking native call; onnxruntime-web's single-threaded WebAssembly computes in place), so a
 * slow model stalls everything else in Node-RED while it computes. Two ways to run:
 * - "main": on Node-RED's thread; lowest latency, right for models that take microseconds;
 * - "worker": in a worker thread; costs a message round trip per batch, and the flow (ingestion
 *   included) keeps running however long the model takes.
 * Either way there is one runner per model file (path + hash + threads + execution + engine), shared.
 */
import * as path from "path";
import { Worker } from "worker_threads";
import type { InferenceSession } from "onnxruntime-web";
import { OtbError, toError } from "../shared";
import type { ModelCard } from "../shared/model-card";
import type { Engine } from "./engine";
import { checkSession, type CheckReport } from "./model-check";
import { fixedBatchOf, runRows } from "./run-rows";
import { warmUp } from "./warm-up";

export type Execution = "main" | "worker";

export interface Runner {
  /** The session itself when it runs on this thread ("main"). */
  readonly session?: InferenceSession;
  readonly alive: boolean;
  /** Runs one float32 [batch, n] input; resolves with every graph output's data. */
  run(inputName: string, input: Float32Array, dims: [number, number]): Promise<Record<string, Float32Array>>;
  /** The model-check.ts checks, where the session lives. */
  check(card: ModelCard): Promise<CheckReport>;
  /** Warm-up runs on the card's baseline (warm-up.ts), once per runner; resolves with the runs made. */
  warmUp(card: ModelCard): Promise<number>;
  release(): Promise<void>;
}

/** The warm-up frame: the card's baseline means (what model-check.ts runs too), else zeros. */
function warmFrame(card: ModelCard): Float32Array {
  return Float32Array.from(card.baseline?.mean ?? new Array<number>(card.features.length).fill(0));
}

class MainRunner implements Runner {
  readonly alive = true;
  private readonly fixedBatch: number | null;
  private warmed: Promise<number> | null = null;
  constructor(readonly session: InferenceSession, private readonly engine: Engine) {
    this.fixedBatch = fixedBatchOf(session);
  }

  run(inputName: string, input: Float32Array, dims: [number, number]): Promise<Record<string, Float32Array>> {
    return runRows(this.engine.ort, this.session, this.fixedBatch, inputName, input, dims);
  }

  check(card: ModelCard): Promise<CheckReport> {
    return checkSession(this.engine.ort, this.session, card);
  }

  warmUp(card: ModelCard): Promise<number> {
    const frame = warmFrame(card);
    const dims: [number, number] = [1, frame.length];
    this.warmed ??= warmUp(() => this.run(card.input.name, frame, dims));
    return this.warmed;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(err: Error): void;
}

class WorkerRunner implements Runner {
  private readonly worker = new Worker(path.join(__dirname, "session-worker.js"));
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;
  private warmed: Promise<number> | null = null;

  constructor() {
    this.worker.unref(); // never keeps a stopping runtime alive
    this.worker.on("message", (m: { id: number; error?: string } & Record<string, unknown>) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m);
    });
    this.worker.on("error", (err) => this.fail(new OtbError("model", `inference worker failed: ${toError(err).message}`)));
    this.worker.on("exit", (code) => this.fail(new OtbError("model", `inference worker exited (code ${code})`)));
  }

  get alive(): boolean {
    return this.dead === null;
  }

  async load(bytes: Uint8Array, threads: number, engine: Engine): Promise<void> {
    await this.call({ type: "load", bytes, threads, engine: engine.modulePath });
  }

  async run(inputName: string, input: Float32Array, dims: [number, number]): Promise<Record<string, Float32Array>> {
    // A copy, transferred: the caller reuses `input` for its next batch (infer-engine.ts).
    const copy = input.slice();
    const reply = await this.call({ type: "run", inputName, input: copy, dims }, [copy.buffer as ArrayBuffer]);
    return reply.outputs as Record<string, Float32Array>;
  }

  async check(card: ModelCard): Promise<CheckReport> {
    return (await this.call({ type: "check", card })).report as CheckReport;
  }

  /** In the worker, on its own engine instance: one message, not one per run. */
  warmUp(card: ModelCard): Promise<number> {
    this.warmed ??= this.call({ type: "warm", inputName: card.input.name, input: warmFrame(card) }).then((r) => r.runs as number);
    return this.warmed;
  }

  async release(): Promise<void> {
    if (this.alive) await this.call({ type: "release" }).catch(() => undefined);
    await this.worker.terminate();
  }

  private call(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Record<string, unknown>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

async function createRunner(bytes: Uint8Array, threads: number, execution: Execution, engine: Engine): Promise<Runner> {
  if (execution === "main") return new MainRunner(await engine.ort.InferenceSession.create(bytes, engine.sessionOptions(threads)), engine);
  const runner = new WorkerRunner();
  try {
    await runner.load(bytes, threads, engine);
  } catch (err) {
    await runner.release().catch(() => undefined);
    throw err;
  }
  return runner;
}

/** One runner per model file (path + hash + threads + execution + engine), shared by every node that uses it. */
export class RunnerPool {
  private readonly entries = new Map<string, { runner: Promise<Runner>; refs: number }>();

  acquire(key: string, bytes: Uint8Array, threads: number, execution: Execution, engine: Engine): Promise<Runner> {
    let entry = this.entries.get(key);
    if (entry) {
      // A worker that died (and took its session with it) is replaced for the next user.
      const current = entry;
      void entry.runner.then((r) => {
        if (!r.alive && this.entries.get(key) === current) this.entries.delete(key);
      }, () => undefined);
    }
    if (!entry) {
      const runner = createRunner(bytes, threads, execution, engine);
      entry = { runner, refs: 0 };
      this.entries.set(key, entry);
      runner.catch(() => this.entries.delete(key));
    }
    entry.refs++;
    return entry.runner.catch((err: unknown) => {
      const [firstLine = ""] = toError(err).message.trim().split("\n");
      throw new OtbError("model", `onnxruntime refused the model: ${firstLine.slice(0, 300)}`);
    });
  }

  async release(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    if (--entry.refs > 0) return;
    this.entries.delete(key);
    const runner = await entry.runner.catch(() => null);
    await runner?.release().catch(() => undefined);
  }

  /** Runners currently open (for tests and status). */
  get size(): number {
    return this.entries.size;
  }
}

export const pool = new RunnerPool();
