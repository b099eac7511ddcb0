/**
 * otb-infer: FeatureFrames in, Inferences out (output 1); Alarms (raise/clear), drift reports,
 * model (re)load events, operator Verdicts and alarm KPIs out of output 2. A message with
 * `payload.kind === "verdict"` ({alarmId, verdict, note, user}) judges one of this node's alarms:
 * it is stored under the user directory (verdict-store.ts) and goes out as a Verdict event
 * followed by the alarm KPI of that model and week. The model is pinned by its card's sha256, checked in a
 * child process before this process parses it, shared between nodes, and hot-reloaded only
 * after the new file passed the same checks. See infer-engine.ts for the queue and batching.
 */
import {
  StatusReporter, ValidationError, describeErrors, onClose, reportError, toError, unsInferenceTopic, unsLinePath, validateFeatureFrame,
  type Alarm, type Inference,
} from "../shared";
import { cardPathFor } from "../shared/model-card";
import type { Node, NodeAPI, NodeDef, NodeDone, NodeMessageInFlow, NodeSend } from "../shared/red";
import { Hysteresis } from "./alarm";
import { DriftMonitor, type DriftReport } from "./drift";
import { parseInferConfig, type InferConfig, type OtbInferDef } from "./infer-config";
import { InferEngine, type Job } from "./infer-engine";
import { loadModel, type LoadedModel } from "./model-loader";
import { ModelWatcher } from "./model-watcher";
import { parseVerdictInput, verdictFilePath, VerdictStore } from "./verdict-store";

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
    /** The last scored frame: every status refresh (drift timer, drops, reload) shows it. */
    let lastInference: Inference | undefined;
    const alarm = new Hysteresis(config.raiseAfter, config.clearAfter);
    /** The alarm active now: its id and raise time go on its clear too. */
    let openAlarm: { id: string; raisedAt: number } | null = null;
    const store = openVerdictStore();

    const engine = new InferEngine<Pending>(
      { maxQueue: config.maxQueue, maxBatch: config.maxBatch, dropPolicy: config.dropPolicy, threshold: config.threshold },
      {
        scored(job, inference) {
          if (drift && job.values) drift.add(job.values);
          if (lastDrift !== undefined) inference.drift = lastDrift;
          const { msg, send, done } = job.tag;
          const transition = alarm.update(inference.anomaly === true);
          const topic = inference.context ? unsInferenceTopic(inference.context, inference.model.name) : undefined;
          const event = transition ? alarmMessage(alarmEvent(transition, inference)) : null;
          msg.payload = inference;
          if (topic) msg.topic = topic;
          send([msg, event]);
          done();
          lastInference = inference;
          const now = performance.now();
          if (transition || now - lastStatusAt > 250) {
            lastStatusAt = now;
            refreshStatus();
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

    function openVerdictStore(): VerdictStore {
      const userDir = (RED.settings as unknown as { userDir?: string }).userDir;
      if (!userDir) {
        node.warn("Node-RED has no userDir: operator verdicts on alarms will not survive a restart");
        return new VerdictStore(null);
      }
      const file = verdictFilePath(userDir, node.id);
      try {
        return new VerdictStore(file);
      } catch (err) {
        // Never overwrite a file we cannot read: keep verdicts in memory and say so.
        setImmediate(() => reportError(node, new Error(`verdict store ${file} unreadable, verdicts kept in memory only: ${toError(err).message}`), { payload: null }));
        return new VerdictStore(null);
      }
    }

    /**
     * The Alarm of a transition. Its id (model name, sha256 prefix, event time of the raise) is
     * the same for the raise and the clear, and the same after a restart replays the frames.
     */
    function alarmEvent(state: "raised" | "cleared", inf: Inference): Alarm {
      const contributors = Object.entries(inf.contributions ?? {})
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([feature, contribution]) => ({ feature, contribution, share: inf.score ? contribution / inf.score : 0 }));
      if (state === "raised" || !openAlarm) openAlarm = { id: `${inf.model.name}-${inf.model.sha256.slice(0, 8)}-${inf.ts}`, raisedAt: inf.ts };
      const a: Alarm = {
        kind: "alarm", id: openAlarm.id, state, ts: inf.ts, raisedAt: openAlarm.raisedAt, model: inf.model,
        score: inf.score ?? NaN, threshold: inf.threshold ?? NaN,
        consecutive: state === "raised" ? config.raiseAfter : config.clearAfter, contributors,
        ...(inf.context ? { context: inf.context } : {}),
      };
      if (state === "cleared") openAlarm = null;
      try {
        store.recordAlarm(a);
      } catch (err) {
        reportError(node, new Error(`alarm ${a.id} not stored for verdicts: ${toError(err).message}`), { payload: a });
      }
      return a;
    }

    function alarmMessage(a: Alarm): { topic?: string; payload: Alarm } {
      return { ...(a.context ? { topic: `${unsLinePath(a.context)}/_alarms/${a.model.name}` } : {}), payload: a };
    }

    /** An operator's verdict: stored first, then the Verdict event and the refreshed KPI. */
    function judge(msg: NodeMessageInFlow, send: NodeSend, done: NodeDone): void {
      try {
        const client = (msg as { _client?: { user?: { username?: string; name?: string; userId?: string } } })._client?.user;
        const input = parseVerdictInput(msg.payload, client?.username ?? client?.name ?? client?.userId);
        const now = Date.now();
        const verdict = store.judge(input, now);
        const kpi = store.kpiFor(verdict.alarmId, now);
        const line = verdict.context ? unsLinePath(verdict.context) : null;
        const out: Array<{ topic?: string; payload: unknown }> = [{ ...(line ? { topic: `${line}/_events/verdict` } : {}), payload: verdict }];
        if (kpi) out.push({ ...(line ? { topic: `${line}/_events/alarm-kpi` } : {}), payload: kpi });
        send([null, out]);
        done();
      } catch (err) {
        done(toError(err));
      }
    }

    /**
     * Every caller (a scored frame, the drift and drop timers, a reload) shows the same picture:
     * "no data" only until the first frame was scored.
     */
    function refreshStatus(): void {
      const last = lastInference;
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
      if ((frame as { kind?: unknown } | null)?.kind === "verdict") {
        judge(msg, send, done);
        return;
      }
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
