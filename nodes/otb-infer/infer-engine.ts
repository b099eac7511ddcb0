/**
 * The scoring pipeline of otb-infer, without Node-RED: a bounded queue in front of one model,
 * drained in batches. submit() never waits for inference, so whatever feeds the node (the
 * ingestion side) keeps its rate; when the queue is full the drop policy decides which frame
 * goes, and every drop is counted and handed back to the caller.
 */
import { ValidationError, type FeatureFrame, type Inference } from "../shared";
import { at } from "../shared/checked";
import { CONTRIBUTIONS_OUTPUT, SCORE_OUTPUT } from "./model-check";
import type { LoadedModel } from "./model-loader";

export type DropPolicy = "drop-oldest" | "drop-newest";

export interface EngineOptions {
  maxQueue: number;
  maxBatch: number;
  dropPolicy: DropPolicy;
  /** Overrides the card's threshold when set. */
  threshold?: number;
}

export interface Job<T = unknown> {
  frame: FeatureFrame;
  /** performance.now() when the frame reached the node. */
  arrivedAt: number;
  /** The caller's handle (the msg and its done callback). */
  tag: T;
  values?: Float32Array;
  /** The model the values were ordered for; a hot reload in between re-orders them. */
  orderedFor?: LoadedModel;
}

export interface EngineCounters {
  received: number;
  scored: number;
  dropped: number;
  refused: number;
  failed: number;
  batches: number;
  largestBatch: number;
}

export interface EngineEvents<T> {
  scored(job: Job<T>, inference: Inference): void;
  /** The job was refused (bad frame) or its batch failed; `err` says why. */
  failed(job: Job<T>, err: Error): void;
  dropped(job: Job<T>): void;
  /** A bug in an event handler; reported, never thrown into the event loop. */
  internalError(err: Error): void;
}

export class InferEngine<T = unknown> {
  readonly counters: EngineCounters = { received: 0, scored: 0, dropped: 0, refused: 0, failed: 0, batches: 0, largestBatch: 0 };
  private queue: Job<T>[] = [];
  private running: Promise<void> | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private model: LoadedModel | null = null;
  /** Frame name lists seen -> index into the frame's values for each model feature. */
  private orders = new Map<string, Int32Array>();
  private inputs = new Map<number, Float32Array>();

  constructor(private readonly options: EngineOptions, private readonly events: EngineEvents<T>) {}

  /** Swaps the model (after hot reload); frames already queued are scored by the new one. */
  setModel(model: LoadedModel | null): void {
    this.model = model;
    this.orders.clear();
  }

  get current(): LoadedModel | null {
    return this.model;
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Validates and queues a frame; refusals and drops are reported through the events. */
  submit(job: Job<T>): void {
    this.counters.received++;
    try {
      job.values = this.vectorOf(job.frame);
      job.orderedFor = this.model ?? undefined;
    } catch (err) {
      this.counters.refused++;
      this.events.failed(job, err as Error);
      return;
    }
    if (this.queue.length >= this.options.maxQueue) {
      this.counters.dropped++;
      if (this.options.dropPolicy === "drop-newest") {
        this.events.dropped(job);
        return;
      }
      this.events.dropped(this.queue.shift() as Job<T>);
    }
    this.queue.push(job);
    // Drain on the next turn of the event loop (setImmediate, not a microtask): Node-RED delivers
    // each message of a burst in its own setImmediate callback (Flow.js, asyncMessageDelivery), and
    // Node runs microtasks between those callbacks, so a microtask drain would score a burst one
    // frame per batch. Callbacks queued in this turn all run before ours, so the whole burst is
    // one batch; a lone frame waits one loop turn (microseconds, no timer).
    if (!this.running) {
      this.running = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain()).catch((err: unknown) => this.events.internalError(err as Error));
    }
  }

  /** Jobs still queued (on close: the caller finishes them). */
  takeAll(): Job<T>[] {
    const jobs = this.queue;
    this.queue = [];
    return jobs;
  }

  private vectorOf(frame: FeatureFrame): Float32Array {
    const model = this.model;
    if (!model) throw new ValidationError("no model loaded");
    const features = model.card.features;
    if (frame.missing.length > 0) {
      const needed = frame.missing.filter((m) => features.includes(m));
      if (needed.length > 0) throw new ValidationError(`frame not scored: missing ${needed.join(", ")}`);
    }
    const key = frame.names.join("\u0000");
    let order = this.orders.get(key);
    if (!order) {
      const built = Int32Array.from(features, (f) => frame.names.indexOf(f));
      const absent = features.filter((_, j) => at(built, j) < 0);
      if (absent.length > 0) {
        throw new ValidationError(`frame lacks model input feature(s) ${absent.join(", ")} (model ${model.card.name} expects ${features.join(", ")})`);
      }
      if (this.orders.size > 64) this.orders.clear(); // bounded: a few distinct window layouts at most
      this.orders.set(key, built);
      order = built;
    }
    // order has one index per model feature (built from `features` above), so at() cannot miss;
    // the frame's own values may (names and values of different lengths): the typeof check catches it.
    const out = new Float32Array(features.length);
    for (let j = 0; j < out.length; j++) {
      const v = frame.values[at(order, j)];
      if (typeof v !== "number" || !Number.isFinite(v)) throw new ValidationError(`frame not scored: ${at(features, j)} is not a finite number`);
      out[j] = v;
    }
    return out;
  }

  /**
   * Resolves once the batch running now (if any) has finished. Batches started after setModel()
   * use the new model, so after this the previous model's session can be released safely.
   */
  async batchSettled(): Promise<void> {
    await this.inFlight.catch(() => undefined);
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch);
        this.inFlight = this.runBatch(batch);
        await this.inFlight;
      }
    } finally {
      this.running = null;
    }
  }

  private async runBatch(batch: Job<T>[]): Promise<void> {
    const model = this.model;
    if (!model) {
      for (const job of batch) this.fail(job, new ValidationError("no model loaded"));
      return;
    }
    const { card } = model;
    const n = card.features.length;
    batch = batch.filter((job) => {
      if (job.orderedFor === model) return true;
      try {
        job.values = this.vectorOf(job.frame);
        job.orderedFor = model;
        return true;
      } catch (err) {
        this.fail(job, err as Error);
        return false;
      }
    });
    const b = batch.length;
    if (b === 0) return;
    const input = this.inputFor(b * n);
    for (const [i, job] of batch.entries()) input.set(job.values as Float32Array, i * n);
    let results: Record<string, Float32Array>;
    try {
      results = await model.runner.run(card.input.name, input, [b, n]);
    } catch (err) {
      for (const job of batch) this.fail(job, new Error(`inference failed: ${(err as Error).message}`));
      return;
    }
    this.counters.batches++;
    if (b > this.counters.largestBatch) this.counters.largestBatch = b;
    const threshold = this.options.threshold ?? card.threshold;
    // The card's outputs, each with the runner's data for the whole batch. model-check.ts checks
    // them at load, but a runner that omits one must fail the batch's frames, not the drain loop.
    const outputData: Array<[string, Float32Array]> = [];
    for (const name of Object.keys(card.outputs)) {
      const data = results[name];
      if (!data) {
        for (const job of batch) this.fail(job, new Error(`inference failed: model ${card.name} gave no output ${name}`));
        return;
      }
      outputData.push([name, data]);
    }
    const now = performance.now();
    const features = card.features;
    for (let i = 0; i < b; i++) {
      const job = batch[i] as Job<T>;
      const outputs: Record<string, number[]> = {};
      let finite = true;
      // Plain loops over the batch's output data, no subarray view or iterator per row: this runs
      // once per frame between the batch's run and its first send (the burst's latency).
      for (let o = 0; o < outputData.length; o++) {
        const [name, data] = outputData[o] as [string, Float32Array];
        const per = data.length / b;
        const row: number[] = [];
        for (let k = i * per, end = k + per; k < end; k++) {
          const v = data[k] as number;
          if (!Number.isFinite(v)) finite = false;
          row.push(v);
        }
        outputs[name] = row;
      }
      if (!finite) {
        this.fail(job, new Error(`model ${card.name} produced a non-finite output for this frame`));
        continue;
      }
      const inference: Inference = {
        kind: "inference",
        ts: job.frame.ts,
        model: { name: card.name, version: card.version, sha256: model.sha256 },
        outputs,
        latencyMs: Math.max(0, now - job.arrivedAt),
      };
      const score = outputs[SCORE_OUTPUT]?.[0];
      if (score !== undefined) {
        inference.score = score;
        if (threshold !== undefined) {
          inference.threshold = threshold;
          inference.anomaly = score > threshold;
        }
      }
      const contributions = outputs[CONTRIBUTIONS_OUTPUT];
      if (contributions && contributions.length === n) {
        const byFeature: Record<string, number> = {};
        for (let j = 0; j < n; j++) byFeature[at(features, j)] = at(contributions, j);
        inference.contributions = byFeature;
      }
      if (job.frame.context) inference.context = job.frame.context;
      this.counters.scored++;
      this.events.scored(job, inference);
    }
  }

  /**
   * The batch input, reused per size instead of allocated per batch (less garbage, fewer GC
   * pauses in the latency tail). Safe because this engine runs one batch at a time (drain awaits
   * each) and every runner is done with the array when run() resolves: onnxruntime-web copies it
   * into WebAssembly memory, the worker runner copies it before posting.
   */
  private inputFor(length: number): Float32Array {
    let input = this.inputs.get(length);
    if (!input) {
      if (this.inputs.size >= 64) this.inputs.clear(); // sizes 1..maxBatch per feature count
      input = new Float32Array(length);
      this.inputs.set(length, input);
    }
    return input;
  }

  private fail(job: Job<T>, err: Error): void {
    this.counters.failed++;
    this.events.failed(job, err);
  }
}
