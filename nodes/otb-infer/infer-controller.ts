/**
 * otb-infer's behaviour (otb-infer.ts only builds it): FeatureFrames queue in an InferEngine
 * (infer-engine.ts: bounded queue, batches, drop policy) and come out as Inferences on output 1,
 * with alarm raises and clears (alarm-events.ts) on output 2; output 2 also carries model
 * (re)load events, drift reports and operators' Verdicts with their KPI (verdict-desk.ts). The
 * model comes from a ModelSlot (model-slot.ts: pinned load, hot reload). Frames that arrive while
 * the first model loads wait, bounded by the queue size. Problems found outside an input (a
 * refused model, drops under overload) reach Catch nodes once per cause, after the flow started.
 */
import { ValidationError } from "../shared/errors";
import { unsInferenceTopic } from "../shared/envelope";
import type { NodeContext, NodeController } from "../shared/define-node";
import type { NodeMessageInFlow, NodeSend } from "../shared/red";
import { describeErrors, isValidFeatureFrame, validateFeatureFrame } from "../shared/schemas";
import type { Inference } from "../shared/types";
import { AlarmTracker } from "./alarm-events";
import { DriftMonitor } from "./drift";
import type { InferConfig } from "./infer-config";
import { InferEngine, type Job } from "./infer-engine";
import { inferStatus, VERDICTS_IN_MEMORY } from "./infer-status";
import type { LoadedModel } from "./model-loader";
import { ModelSlot } from "./model-slot";
import { VerdictDesk } from "./verdict-desk";

interface Pending {
  msg: NodeMessageInFlow;
  send: NodeSend;
  /** Settles the input: done() or done(err) (node-kit.ts onInput). */
  resolve(): void;
  reject(err: Error): void;
}

/** Drops are counted and reported at most this often: one error per frame would flood Catch under overload. */
const DROP_REPORT_MS = 5_000;
/** Status updates from scored frames at most this often (an alarm transition always shows). */
const STATUS_EVERY_MS = 250;

const identity = (m: LoadedModel): { name: string; version: string; sha256: string } => ({ name: m.card.name, version: m.card.version, sha256: m.sha256 });

export class InferController implements NodeController {
  private readonly engine: InferEngine<Pending>;
  private readonly slot: ModelSlot;
  private readonly verdicts: VerdictDesk;
  private readonly alarms: AlarmTracker;
  /** Frames that arrived before the first load settled; null once frames go to the engine. */
  private preload: Job<Pending>[] | null = [];
  private drift: DriftMonitor | null = null;
  private lastDrift: number | undefined;
  /** Why no model loads at all (e.g. "inference unavailable: ..."); frames are refused with it. */
  private loadProblem: string | null = null;
  private reloadProblem: string | null = null;
  private dropsReported = 0;
  private lastStatusAt = 0;
  /** The last scored frame: every status refresh shows it. */
  private last: Inference | undefined;
  private closed = false;

  constructor(private readonly ctx: NodeContext<unknown>, private readonly config: InferConfig) {
    this.verdicts = new VerdictDesk(ctx, (err) => this.reportLater(err));
    this.alarms = new AlarmTracker(config.raiseAfter, config.clearAfter, this.verdicts.store, (err, msg) => ctx.report(err, msg));
    this.engine = new InferEngine<Pending>(
      { maxQueue: config.maxQueue, maxBatch: config.maxBatch, dropPolicy: config.dropPolicy, threshold: config.threshold },
      {
        scored: (job, inference) => this.scored(job, inference),
        failed: (job, err) => this.failed(job, err),
        dropped: (job) => job.tag.resolve(),
        internalError: (err) => this.reportLater(err),
      },
    );
    this.slot = new ModelSlot(this.engine, config, {
      installed: (model) => this.installed(model),
      loaded: (model, previous) => this.announce(model, previous),
      unchanged: () => this.clearReloadProblem(),
      refused: (err, running) => this.refused(err, running),
    });
    ctx.status.waiting(`loading model${this.verdicts.inMemory ? `; ${VERDICTS_IN_MEMORY}` : ""}`);
    this.slot.load().then(() => this.startScoring(), (err: unknown) => this.reportLater(err));
    if (config.driftIntervalMs > 0) ctx.every(config.driftIntervalMs, () => this.reportDrift()).unref?.();
    ctx.every(DROP_REPORT_MS, () => this.reportDrops()).unref?.();
  }

  input(msg: NodeMessageInFlow, send: NodeSend): Promise<void> {
    // A refusal settles the promise too, never throws: a throw would reach Catch ahead of the
    // refusal of a frame that came before it (the engine refuses frames through the promise).
    try {
      return this.accept(msg, send);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private accept(msg: NodeMessageInFlow, send: NodeSend): Promise<void> {
    const frame = msg.payload;
    if ((frame as { kind?: unknown } | null)?.kind === "verdict") {
      send([null, this.verdicts.judge(msg)]);
      return Promise.resolve();
    }
    if (!isValidFeatureFrame(frame)) throw new ValidationError(`payload is not a FeatureFrame: ${describeErrors(validateFeatureFrame.errors)}`);
    // Settles when the frame is scored, refused or dropped; the sender never waits for it.
    return new Promise<void>((resolve, reject) => this.submit({ frame, arrivedAt: performance.now(), tag: { msg, send, resolve, reject } }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.slot.close(); // a load under way releases its own model when it finishes
    for (const job of [...(this.preload ?? []), ...this.engine.takeAll()]) job.tag.resolve();
    if (this.preload) this.preload = [];
    await this.engine.batchSettled(); // never release a session under a running batch
    const model = this.engine.current;
    this.engine.setModel(null);
    await model?.release();
  }

  private submit(job: Job<Pending>): void {
    if (!this.preload) {
      this.engine.submit(job);
      if (this.engine.counters.dropped - this.dropsReported === 1) this.refreshStatus();
      return;
    }
    if (this.preload.length < this.config.maxQueue) {
      this.preload.push(job); // counted as received when the engine takes it
      return;
    }
    // The queue's drop policy applies while the model loads too.
    const dropped = this.config.dropPolicy === "drop-newest" ? job : (this.preload.shift() as Job<Pending>);
    if (dropped !== job) this.preload.push(job);
    this.engine.counters.received++;
    this.engine.counters.dropped++;
    dropped.tag.resolve();
  }

  private startScoring(): void {
    const waiting = this.preload ?? [];
    this.preload = null;
    for (const job of waiting) this.engine.submit(job);
  }

  private scored(job: Job<Pending>, inference: Inference): void {
    if (this.drift && job.values) this.drift.add(job.values);
    if (this.lastDrift !== undefined) inference.drift = this.lastDrift;
    const { msg, send, resolve } = job.tag;
    const alarm = this.alarms.update(inference);
    msg.payload = inference;
    if (inference.context) msg.topic = unsInferenceTopic(inference.context, inference.model.name);
    send([msg, alarm]);
    resolve();
    this.last = inference;
    if (this.statusDue(alarm !== null)) this.refreshStatus();
  }

  private failed(job: Job<Pending>, err: Error): void {
    if (this.loadProblem && !this.engine.current) {
      job.tag.reject(new Error(`not scored: ${this.loadProblem}`)); // the status keeps the load error
      return;
    }
    job.tag.reject(err);
    if (this.statusDue(false)) this.ctx.status.warning(`not scored: ${err.message}`.slice(0, 40));
  }

  private installed(model: LoadedModel): void {
    const { card } = model;
    this.loadProblem = null;
    this.reloadProblem = null;
    this.drift = card.baseline ? new DriftMonitor(card.features, card.baseline.mean, card.baseline.std, Date.now()) : null;
    this.lastDrift = undefined;
  }

  private announce(model: LoadedModel, previous: LoadedModel | null): void {
    const { card } = model;
    const state = previous ? "reloaded" : "loaded";
    const where = this.config.execution === "worker" ? "worker thread" : "main thread";
    this.ctx.node.log(`model ${state}: ${card.name} ${card.version} (sha256 ${model.sha256.slice(0, 12)}…, ${this.config.threads} thread(s), ${where}, ${model.engine}, ${model.warmRuns} warm-up runs)`);
    this.ctx.node.send([null, { payload: { kind: "model", state, model: identity(model), features: card.features, engine: model.engine } }]);
    this.refreshStatus();
  }

  private clearReloadProblem(): void {
    this.reloadProblem = null;
    this.refreshStatus();
  }

  /** A refused model: reported once per cause (a file rewritten with the same fault is the same outage). */
  private refused(err: Error, running: LoadedModel | null): void {
    const context = { payload: null, model: this.config.modelPath };
    if (!running) {
      if (this.loadProblem === err.message) return;
      this.loadProblem = err.message;
      this.ctx.status.error(`model: ${err.message}`.slice(0, 60));
      this.reportLater(err, context);
      return;
    }
    if (this.reloadProblem === err.message) return;
    this.reloadProblem = err.message;
    this.refreshStatus();
    this.reportLater(new Error(`new model refused, still running ${running.card.name} ${running.card.version}: ${err.message}`), context);
  }

  private reportDrift(): void {
    const model = this.engine.current;
    const report = this.drift?.report(Date.now()) ?? null;
    if (!model || !report) return;
    this.lastDrift = report.drift;
    this.ctx.node.send([null, { payload: { ...report, model: identity(model) } }]);
    if (report.drift > this.config.driftWarn) this.ctx.node.warn(`input drift ${report.drift.toFixed(2)} (training std units) over ${report.n} frames, above ${this.config.driftWarn}`);
    this.refreshStatus();
  }

  private reportDrops(): void {
    const dropped = this.engine.counters.dropped;
    if (dropped <= this.dropsReported) return;
    const recent = dropped - this.dropsReported;
    this.dropsReported = dropped;
    const { dropPolicy, maxQueue } = this.config;
    this.reportLater(new Error(`queue full: dropped ${recent} frame(s) in ${DROP_REPORT_MS / 1000} s (${dropPolicy}, queue ${maxQueue}); ${dropped} in total`), { payload: { dropped: recent, total: dropped } });
    this.refreshStatus();
  }

  private reportLater(err: unknown, msg?: Record<string, unknown>): void {
    this.ctx.report(err, msg);
  }

  private statusDue(force: boolean): boolean {
    const now = performance.now();
    if (!force && now - this.lastStatusAt <= STATUS_EVERY_MS) return false;
    this.lastStatusAt = now;
    return true;
  }

  private refreshStatus(): void {
    const model = this.engine.current;
    if (!model || this.closed) return;
    const { level, text } = inferStatus({
      model: model.card, reloadRefused: this.reloadProblem !== null, alarmActive: this.alarms.active,
      dropped: this.engine.counters.dropped, dropsUnreported: this.engine.counters.dropped > this.dropsReported,
      drift: this.lastDrift, driftWarn: this.config.driftWarn, last: this.last, verdictsInMemory: this.verdicts.inMemory,
    });
    this.ctx.status[level](text);
  }
}
