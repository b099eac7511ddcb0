/**
 * otb-infer: FeatureFrames in, Inferences out (output 1); alarm raise/clear, drift reports and
 * model (re)load events out of output 2. The model is pinned by its card's sha256, checked in a
 * child process before this process parses it, shared between nodes, and hot-reloaded only
 * after the new file passed the same checks. See infer-engine.ts for the queue and batching.
 */
import {
  StatusReporter, ValidationError, describeErrors, onClose, reportError, toError, unsInferenceTopic, validateFeatureFrame,
  type Inference,
} from "../shared";
import { cardPathFor } from "../shared/model-card";
import type { Node, NodeAPI, NodeDef, NodeDone, NodeMessageInFlow, NodeSend } from "../shared/red";
import { Hysteresis } from "./alarm";
import { DriftMonitor, type DriftReport } from "./drift";
import { parseInferConfig, type InferConfig, type OtbInferDef } from "./infer-config";
import { InferEngine, type Job } from "./infer-engine";
import { loadModel, type LoadedModel } from "./model-loader";
import { ModelWatcher } from "./model-watcher";

interface Pending {
  msg: NodeMessageInFlow;
  send: NodeSend;
  done: NodeDone;
}

const DROP_REPORT_MS = 5_000;

export = function (RED: NodeAPI): void {
  function OtbInfer(this: Node, def: OtbInferDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 30_000 });
    const baseDir = (RED.settings as unknown as { userDir?: string }).userDir ?? process.cwd();
    let config: InferConfig;
    try {
      config = parseInferConfig(def, baseDir);
    } catch (err) {
      status.error(`config: ${toError(err).message}`.slice(0, 60));
      // Deferred: Node-RED wires up Catch nodes only after every node of the flow is constructed.
      setImmediate(() => reportError(node, err, { payload: null }));
      node.on("input", function (_msg: NodeMessageInFlow, _send: NodeSend, done: NodeDone) {
        done(toError(err));
      });
      return;
    }

    let closed = false;
    let ready = false;
    let preload: Job<Pending>[] = [];
    let drift: DriftMonitor | null = null;
    let lastDrift: number | undefined;
    let reloadProblem: string | null = null;
    /** Why no model could load at all (e.g. "inference unavailable: ..."); frames are refused with it. */
    let loadProblem: string | null = null;
    let dropsReported = 0;
    let lastStatusAt = 0;
    const alarm = new Hysteresis(config.raiseAfter, config.clearAfter);

    const engine = new InferEngine<Pending>(
      { maxQueue: config.maxQueue, maxBatch: config.maxBatch, dropPolicy: config.dropPolicy, threshold: config.threshold },
      {
        scored(job, inference) {
          if (drift && job.values) drift.add(job.values);
          if (lastDrift !== undefined) inference.drift = lastDrift;
          const { msg, send, done } = job.tag;
          const transition = alarm.update(inference.anomaly === true);
          const topic = inference.context ? unsInferenceTopic(inference.context, inference.model.name) : undefined;
          const event = transition ? { ...(topic ? { topic } : {}), payload: alarmEvent(transition, inference) } : null;
          msg.payload = inference;
          if (topic) msg.topic = topic;
          send([msg, event]);
          done();
          const now = performance.now();
          if (transition || now - lastStatusAt > 250) {
            lastStatusAt = now;
            refreshStatus(inference);
          }
        },
        failed(job, err) {
          if (loadProblem && !engine.current) {
            job.tag.done(new Error(`not scored: ${loadProblem}`)); // the status keeps the load error
            return;
          }
          job.tag.done(err);
          const now = performance.now();
          if (now - lastStatusAt > 250) {
            lastStatusAt = now;
            status.warning(`not scored: ${err.message}`.slice(0, 40));
          }
        },
        dropped(job) {
          // Counted and reported every few seconds; one error per dropped frame would flood the
          // Catch flow exactly when the runtime is already overloaded.
          job.tag.done();
        },
        internalError(err) {
          reportError(node, err);
        },
      },
    );

    function alarmEvent(state: "raised" | "cleared", inf: Inference): Record<string, unknown> {
      const contributors = Object.entries(inf.contributions ?? {})
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([feature, contribution]) => ({ feature, contribution, share: inf.score ? contribution / inf.score : 0 }));
      return {
        kind: "alarm", state, ts: inf.ts, model: inf.model, score: inf.score, threshold: inf.threshold,
        consecutive: state === "raised" ? config.raiseAfter : config.clearAfter, contributors,
        ...(inf.context ? { context: inf.context } : {}),
      };
    }

    function refreshStatus(last?: Inference): void {
      const model = engine.current;
      if (!model || closed) return;
      const c = engine.counters;
      const label = `${model.card.name} ${model.card.version}`;
      if (reloadProblem) status.warning(`${label}; reload refused`);
      else if (alarm.active) status.warning(`ALARM ${last?.score?.toFixed(2) ?? ""}`.trim());
      else if (c.dropped > dropsReported) status.warning(`${c.dropped} dropped, queue full`);
      else if (lastDrift !== undefined && lastDrift > config.driftWarn) status.warning(`drift ${lastDrift.toFixed(2)}`);
      else if (last) status.flowing(`score ${last.score?.toFixed(2) ?? "-"}, ${last.latencyMs.toFixed(2)} ms`);
      else status.waiting(`${label}, no data`);
    }

    let loading: Promise<void> | null = null;
    let reloadAgain = false;
    async function load(): Promise<void> {
      const previous = engine.current;
      try {
        const model: LoadedModel = await loadModel({
          modelPath: config.modelPath, cardPath: config.cardPath, pinnedSha256: config.pinnedSha256,
          threads: config.threads, execution: config.execution, isolate: true, checkTimeoutMs: 30_000,
        });
        if (closed) {
          await model.release();
          return;
        }
        if (previous && previous.sha256 === model.sha256 && JSON.stringify(previous.card) === JSON.stringify(model.card)) {
          await model.release(); // touched, not changed
          reloadProblem = null;
          return;
        }
        engine.setModel(model);
        loadProblem = null;
        const { card } = model;
        drift = card.baseline ? new DriftMonitor(card.features, card.baseline.mean, card.baseline.std, Date.now()) : null;
        lastDrift = undefined;
        reloadProblem = null;
        if (previous) {
          await engine.batchSettled();
          await previous.release();
        }
        node.log(`model ${previous ? "reloaded" : "loaded"}: ${card.name} ${card.version} (sha256 ${model.sha256.slice(0, 12)}…, ${config.threads} thread(s), ${config.execution === "worker" ? "worker thread" : "main thread"}, ${model.engine})`);
        node.send([null, { payload: { kind: "model", state: previous ? "reloaded" : "loaded", model: { name: card.name, version: card.version, sha256: model.sha256 }, features: card.features, engine: model.engine } }]);
        refreshStatus();
      } catch (err) {
        const e = toError(err);
        if (!previous) {
          loadProblem = e.message;
          status.error(`model: ${e.message}`.slice(0, 60));
          reportError(node, e, { payload: null, model: config.modelPath });
        } else {
          reloadProblem = e.message;
          refreshStatus();
          reportError(node, new Error(`new model refused, still running ${previous.card.name} ${previous.card.version}: ${e.message}`), { payload: null, model: config.modelPath });
        }
      }
    }

    function reload(): void {
      if (loading) {
        reloadAgain = true;
        return;
      }
      loading = load().finally(() => {
        loading = null;
        if (reloadAgain && !closed) {
          reloadAgain = false;
          reload();
        }
      });
    }

    status.waiting("loading model");
    const watcher = config.hotReload
      ? new ModelWatcher([config.modelPath, config.cardPath ?? cardPathFor(config.modelPath)], { pollMs: config.pollMs, settleMs: 300 }, reload)
      : null;
    loading = load().finally(() => {
      loading = null;
      ready = true;
      const waiting = preload;
      preload = [];
      for (const job of waiting) engine.submit(job);
      if (reloadAgain && !closed) {
        reloadAgain = false;
        reload();
      }
    });

    const timers: NodeJS.Timeout[] = [];
    if (config.driftIntervalMs > 0) {
      timers.push(setInterval(() => {
        const model = engine.current;
        const report: DriftReport | null = drift ? drift.report(Date.now()) : null;
        if (!model || !report) return;
        lastDrift = report.drift;
        node.send([null, { payload: { ...report, model: { name: model.card.name, version: model.card.version, sha256: model.sha256 } } }]);
        if (report.drift > config.driftWarn) node.warn(`input drift ${report.drift.toFixed(2)} (training std units) over ${report.n} frames, above ${config.driftWarn}`);
        refreshStatus();
      }, config.driftIntervalMs));
    }
    timers.push(setInterval(() => {
      const dropped = engine.counters.dropped;
      if (dropped > dropsReported) {
        const recent = dropped - dropsReported;
        dropsReported = dropped;
        reportError(node, new Error(`queue full: dropped ${recent} frame(s) in ${DROP_REPORT_MS / 1000} s (${config.dropPolicy}, queue ${config.maxQueue}); ${dropped} in total`), { payload: { dropped: recent, total: dropped } });
        refreshStatus();
      }
    }, DROP_REPORT_MS));
    for (const t of timers) t.unref?.();

    node.on("input", function (msg: NodeMessageInFlow, send: NodeSend, done: NodeDone) {
      const frame = msg.payload;
      if (!validateFeatureFrame(frame)) {
        done(new ValidationError(`payload is not a FeatureFrame: ${describeErrors(validateFeatureFrame.errors)}`));
        return;
      }
      const job: Job<Pending> = { frame, arrivedAt: performance.now(), tag: { msg, send, done } };
      if (ready) {
        engine.submit(job);
        if (engine.counters.dropped > dropsReported && engine.counters.dropped - dropsReported === 1) refreshStatus();
        return;
      }
      if (preload.length >= config.maxQueue) {
        engine.counters.dropped++;
        engine.counters.received++;
        done();
      } else preload.push(job);
    });

    onClose(node, async () => {
      closed = true;
      watcher?.close();
      for (const t of timers) clearInterval(t);
      status.close();
      for (const job of [...preload, ...engine.takeAll()]) job.tag.done();
      preload = [];
      await engine.batchSettled(); // never release a session under a running batch
      const model = engine.current;
      engine.setModel(null);
      await model?.release();
      await loading; // a load that finishes now sees `closed` and releases its own model
    });
  }
  RED.nodes.registerType("otb-infer", OtbInfer as unknown as (this: Node, def: NodeDef) => void);
};
