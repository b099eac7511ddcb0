import { strict as assert } from "assert";
import * as fs from "fs";
import * as sinon from "sinon";
import { validateInference, type Context, type FeatureFrame, type Inference } from "../../nodes/shared";
import { pool } from "../../nodes/otb-infer/model-loader";
import { waitFor } from "../helpers/peers";
import { catchStatusComplete, helper, nextMessage, tab } from "../helpers/red";
import { engine } from "../../nodes/otb-infer/engine";
import { FEATURES, FIXTURE_ONNX, KNOWN, fixedBatchModel, MODEL_LOAD_WAIT_MS, tempDir, writeModel, zscoreModel } from "./models";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const inferNode = require("../../nodes/otb-infer/otb-infer");

const ctx: Context = { enterprise: "acme", site: "plant1", area: "pumps", line: "line1" };

function frame(values: number[], names = FEATURES, extra: Partial<FeatureFrame> = {}): FeatureFrame {
  return { kind: "features", ts: 1_767_254_400_000, windowMs: 10_000, names, values, missing: [], quality: "good", context: ctx, ...extra };
}

interface Flow {
  infer: import("node-red").Node;
  out: import("node-red").Node;
  events: import("node-red").Node;
  errors: import("node-red").Node;
}

async function load(config: Record<string, unknown>): Promise<Flow> {
  const flow = tab([
    { id: "infer", type: "otb-infer", driftInterval: 0, ...config, wires: [["out"], ["events"]] },
    { id: "out", type: "helper" },
    { id: "events", type: "helper" },
    { id: "catcher", type: "catch", scope: null, uncaught: false, wires: [["errors"]] },
    { id: "errors", type: "helper" },
  ]);
  await helper.load([inferNode, ...catchStatusComplete], flow);
  return { infer: helper.getNode("infer"), out: helper.getNode("out"), events: helper.getNode("events"), errors: helper.getNode("errors") };
}

/** Waits for the "model loaded" event that says the node is ready to score. */
async function loaded(f: Flow): Promise<Record<string, unknown>> {
  const msg = await nextMessage(f.events, MODEL_LOAD_WAIT_MS);
  return msg.payload as Record<string, unknown>;
}

function collect(node: import("node-red").Node): Array<Record<string, unknown>> {
  const got: Array<Record<string, unknown>> = [];
  node.on("input", (m: Record<string, unknown>) => got.push(m));
  return got;
}

describe("otb-infer node", function () {
  // Generous: a hot reload spawns a check child per new file, slow beside CPU hogs.
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(async () => {
    await helper.unload();
    sinon.restore();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("scores frames to known outputs, with contributions, model identity and UNS topic", async () => {
    const f = await load({ modelPath: FIXTURE_ONNX });
    const ready = await loaded(f);
    assert.equal(ready.state, "loaded");
    const got = collect(f.out);
    for (const k of KNOWN) f.infer.receive({ payload: frame(k.input) });
    await waitFor(() => got.length === KNOWN.length, 5000);
    got.forEach((msg, i) => {
      const inf = msg.payload as Inference;
      assert.ok(validateInference(inf), JSON.stringify(validateInference.errors));
      assert.equal(msg.topic, "acme/plant1/pumps/line1/_inference/fixture-zscore");
      assert.deepEqual(inf.model, { name: "fixture-zscore", version: "1.0.0", sha256: "93be162abdb1076d9f386eb6579db565fb09fda26fcfb888ae3ea66e2bde29f9" });
      assert.ok(Math.abs((inf.score as number) - KNOWN[i].score) < 1e-5);
      assert.equal(inf.anomaly, KNOWN[i].score > 4);
      assert.equal(inf.threshold, 4);
      FEATURES.forEach((name, j) => assert.ok(Math.abs((inf.contributions as Record<string, number>)[name] - KNOWN[i].contributions[j]) < 1e-5));
      assert.ok(inf.latencyMs >= 0 && inf.latencyMs < 5000);
    });
  });

  // A burst as a flow delivers it: one send() of 32 messages from an upstream node, each then
  // delivered in its own setImmediate callback (Node-RED's asynchronous message delivery).
  for (const model of ["dynamic batch", "fixed batch of 1"] as const) {
    it(`scores a burst sent by an upstream node, each frame to its known outputs (model with a ${model})`, async () => {
      const modelPath = model === "dynamic batch" ? FIXTURE_ONNX : writeModel(dir, fixedBatchModel(1)).onnx;
      const flow = tab([
        { id: "split", type: "function", func: "return [msg.payload.map((p) => ({ payload: p }))];", outputs: 1, wires: [["infer"]] },
        { id: "infer", type: "otb-infer", modelPath, driftInterval: 0, maxBatch: 32, wires: [["out"], ["events"]] },
        { id: "out", type: "helper" },
        { id: "events", type: "helper" },
        { id: "catcher", type: "catch", scope: null, uncaught: false, wires: [["errors"]] },
        { id: "errors", type: "helper" },
      ]);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      await helper.load([inferNode, require("@node-red/nodes/core/function/10-function.js"), ...catchStatusComplete], flow);
      const f: Flow = { infer: helper.getNode("infer"), out: helper.getNode("out"), events: helper.getNode("events"), errors: helper.getNode("errors") };
      await loaded(f);
      const got = collect(f.out);
      const errors = collect(f.errors);
      // Counts the session's runs (and calls through): one per batch for a dynamic batch.
      const runs = sinon.spy((engine().ort.InferenceSession as unknown as { prototype: { run(): unknown } }).prototype, "run");
      helper.getNode("split").receive({ payload: Array.from({ length: 32 }, (_, i) => frame(KNOWN[i % KNOWN.length].input, FEATURES, { ts: 1_767_254_400_000 + i })) });
      await waitFor(() => got.length === 32, 10_000);
      got.forEach((msg, i) => {
        const inf = msg.payload as Inference;
        const k = KNOWN[i % KNOWN.length];
        assert.equal(inf.ts, 1_767_254_400_000 + i, "in the order sent");
        assert.ok(Math.abs((inf.score as number) - k.score) < 1e-5, `frame ${i}: score ${inf.score}, expected ${k.score}`);
        FEATURES.forEach((name, j) => assert.ok(Math.abs((inf.contributions as Record<string, number>)[name] - k.contributions[j]) < 1e-5));
      });
      assert.equal(runs.callCount, model === "dynamic batch" ? 1 : 32, "a dynamic batch scores the burst in one run");
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(errors.map((e) => (e.error as { message: string }).message), []);
    });
  }

  it("scores the same with the model on a worker thread", async () => {
    const f = await load({ modelPath: FIXTURE_ONNX, execution: "worker" });
    await loaded(f);
    const got = collect(f.out);
    for (const k of KNOWN) f.infer.receive({ payload: frame(k.input) });
    await waitFor(() => got.length === KNOWN.length, 5000);
    assert.deepEqual(got.map((m) => Math.round((m.payload as Inference).score! * 1e4) / 1e4), KNOWN.map((k) => Math.round(k.score * 1e4) / 1e4));
  });

  it("re-orders a frame's features to the card's order, and refuses frames it cannot score", async () => {
    const f = await load({ modelPath: FIXTURE_ONNX });
    await loaded(f);
    const reordered = nextMessage(f.out);
    f.infer.receive({ payload: frame([65, 16, 3.5], ["pump.temperature:max", "pump.current:mean", "pump.pressure:mean"]) });
    assert.ok(Math.abs(((await reordered).payload as Inference).score! - 9) < 1e-5);

    const errors = collect(f.errors);
    const scored = collect(f.out);
    f.infer.receive({ payload: frame([1, 2], ["pump.current:mean", "pump.pressure:mean"]) });
    f.infer.receive({ payload: frame([10, 0, 50], FEATURES, { missing: ["pump.pressure:mean"], quality: "bad" }) });
    f.infer.receive({ payload: { kind: "features", values: "nope" } });
    await waitFor(() => errors.length === 3, 5000);
    const texts = errors.map((e) => (e.error as { message: string }).message);
    assert.match(texts[0], /frame lacks model input feature\(s\) pump.temperature:max/);
    assert.match(texts[1], /frame not scored: missing pump.pressure:mean/);
    assert.match(texts[2], /payload is not a FeatureFrame/);
    assert.equal(scored.length, 0);
  });

  it("raises an alarm after N anomalous frames and clears it after M normal ones, naming the top features", async () => {
    const f = await load({ modelPath: FIXTURE_ONNX, raiseAfter: "3", clearAfter: "2" });
    await loaded(f);
    const events = collect(f.events);
    const scored = collect(f.out);
    const high = [16, 2, 50]; // z [3,0,0]: score 3 — below 4
    const anomalous = [18, 2, 50]; // z [4,0,0]: score 16/3
    const sequence = [anomalous, anomalous, high, anomalous, anomalous, anomalous, anomalous, KNOWN[0].input, anomalous, KNOWN[0].input, KNOWN[0].input];
    for (const v of sequence) f.infer.receive({ payload: frame(v) });
    await waitFor(() => scored.length === sequence.length, 5000);
    const alarms = events.map((e) => e.payload as Record<string, unknown>).filter((p) => p.kind === "alarm");
    assert.deepEqual(alarms.map((a) => a.state), ["raised", "cleared"]);
    assert.deepEqual((alarms[0].contributors as Array<{ feature: string }>)[0].feature, "pump.current:mean");
    assert.equal(events[0].topic, "acme/plant1/pumps/line1/_alarms/fixture-zscore");
  });

  it("reports input drift against the card's training baseline, periodically and on each Inference", async () => {
    const f = await load({ modelPath: FIXTURE_ONNX, driftInterval: "0.3", driftWarn: "1" });
    await loaded(f);
    const drift = new Promise<Record<string, unknown>>((resolve) =>
      f.events.on("input", (m: Record<string, unknown>) => (m.payload as { kind: string }).kind === "drift" && resolve(m.payload as Record<string, unknown>)),
    );
    for (let i = 0; i < 10; i++) f.infer.receive({ payload: frame([14, 2.5, 55]) }); // z = 2, 1, 1
    const report = await drift;
    assert.ok(Math.abs((report.drift as number) - Math.sqrt(2)) < 1e-5, `rms of (2,1,1) is sqrt 2, got ${report.drift}`);
    assert.deepEqual(report.features, { "pump.current:mean": 2, "pump.pressure:mean": 1, "pump.temperature:max": 1 });
    assert.equal(report.n, 10);
    const next = nextMessage(f.out);
    f.infer.receive({ payload: frame([10, 2, 50]) });
    assert.ok(Math.abs(((await next).payload as Inference).drift! - Math.sqrt(2)) < 1e-5);
  });

  it("refuses an unusable configuration with the field named", async () => {
    const f = await load({ modelPath: "models/pump.txt" });
    const err = await nextMessage(f.errors);
    assert.match((err.error as { message: string }).message, /modelPath "models\/pump.txt" must end in .onnx/);
  });

  it("refuses a model whose sha256 does not match, says why, and scores nothing", async () => {
    const { onnx } = writeModel(dir, fs.readFileSync(FIXTURE_ONNX), { sha256: "f".repeat(64) });
    const f = await load({ modelPath: onnx });
    const err = await nextMessage(f.errors, 10_000);
    assert.match((err.error as { message: string }).message, /sha256 mismatch: model.onnx is 93be162abdb1…, its card pins ffffffffffff…; refused before loading/);
    const next = nextMessage(f.errors);
    f.infer.receive({ payload: frame(KNOWN[0].input) });
    assert.match(((await next).error as { message: string }).message, /not scored: sha256 mismatch: model.onnx is 93be162abdb1…/);
  });

  it("hot-reloads a good model and keeps it running when a bad file replaces it", async () => {
    const first = writeModel(dir, fs.readFileSync(FIXTURE_ONNX));
    const f = await load({ modelPath: first.onnx, pollInterval: "0.2" });
    await loaded(f);
    const events = collect(f.events);
    const errors = collect(f.errors);
    const statuses: string[] = [];
    (f.infer as unknown as NodeJS.EventEmitter).on("call:status", (call: { args: Array<{ text?: string }> }) => statuses.push(String(call.args[0]?.text)));

    const retrained = zscoreModel([20, 2, 50]);
    writeModel(dir, retrained, { version: "2.0.0" });
    await waitFor(() => events.some((e) => (e.payload as { state?: string }).state === "reloaded"), MODEL_LOAD_WAIT_MS, "the reload");
    const v2 = nextMessage(f.out);
    f.infer.receive({ payload: frame([20, 2, 50]) });
    const inf = (await v2).payload as Inference;
    assert.equal(inf.model.version, "2.0.0");
    assert.equal(inf.score, 0, "scored by the new model");

    // A new card for the same bytes (a re-tuned threshold) is a new model too.
    const reloads = (): number => events.filter((e) => (e.payload as { state?: string }).state === "reloaded").length;
    writeModel(dir, retrained, { version: "2.0.1", threshold: 0.5 });
    await waitFor(() => reloads() === 2, MODEL_LOAD_WAIT_MS, "the second reload");
    const tuned = nextMessage(f.out);
    f.infer.receive({ payload: frame([22, 2, 50]) });
    assert.deepEqual([((await tuned).payload as Inference).threshold, ((await tuned).payload as Inference).model.version], [0.5, "2.0.1"]);

    // A corrupt file with a card re-pinned to it: the checks refuse it and the last good model keeps running.
    writeModel(dir, retrained.subarray(0, 40), { version: "3.0.0" });
    await waitFor(() => errors.length > 0, MODEL_LOAD_WAIT_MS, "the refused reload reported");
    assert.match((errors[0].error as { message: string }).message, /new model refused, still running fixture-zscore 2.0.1: /);
    const still = nextMessage(f.out);
    f.infer.receive({ payload: frame([20, 2, 50]) });
    assert.equal(((await still).payload as Inference).model.version, "2.0.1");

    // The good files back (the running model's bytes and card): no longer "reload refused".
    assert.ok(statuses.includes("fixture-zscore 2.0.1; reload refused"), statuses.join(" | "));
    writeModel(dir, retrained, { version: "2.0.1", threshold: 0.5 });
    await waitFor(() => statuses.length > 0 && !/reload refused/.test(statuses[statuses.length - 1]!), MODEL_LOAD_WAIT_MS, "the status past the refusal");
    assert.equal(errors.length, 1, "the refused file was reported once");
  });

  it("drops and counts under overload, batches the backlog, and never makes the sender wait", async () => {
    const f = await load({ modelPath: FIXTURE_ONNX, maxQueue: "50", maxBatch: "16" });
    await loaded(f);
    const statuses: string[] = [];
    (f.infer as unknown as NodeJS.EventEmitter).on("call:status", (call: { args: Array<{ text?: string }> }) => statuses.push(String(call.args[0]?.text)));
    // Fault injection: every run takes 20 ms, far slower than frames arrive.
    const proto = Object.getPrototypeOf(await fixtureSession()) as { run: (...a: unknown[]) => Promise<unknown> };
    const realRun = proto.run;
    const batchSizes: number[] = [];
    sinon.stub(proto, "run").callsFake(async function (this: unknown, ...args: unknown[]) {
      batchSizes.push((args[0] as Record<string, { dims: number[] }>).features.dims[0]);
      await new Promise((r) => setTimeout(r, 20));
      return realRun.apply(this, args);
    });
    const scored = collect(f.out);
    const errors = collect(f.errors);
    const sent = 2000;
    const t0 = Date.now();
    for (let i = 0; i < sent; i++) {
      f.infer.receive({ payload: frame(KNOWN[i % 4].input) });
      if (i % 100 === 99) await new Promise((r) => setImmediate(r)); // a source yields between its batches
    }
    const sendMs = Date.now() - t0;
    // The drop report reaches Catch nodes within its 5 s period; the status says it at once.
    await waitFor(() => errors.some((e) => /queue full/.test((e.error as { message: string }).message)), 8000);
    assert.ok(statuses.some((t) => /dropped, queue full/.test(t)), "status shows the drops");
    const report = (errors.find((e) => /queue full/.test((e.error as { message: string }).message))?.error as { message: string }).message;
    const total = Number(/; (\d+) in total/.exec(report)?.[1]);
    await waitFor(() => scored.length + total === sent, 5000);
    assert.ok(total > 0 && scored.length > 0, report);
    assert.ok(Math.max(...batchSizes) > 1 && Math.max(...batchSizes) <= 16, `backlog scored in batches of at most 16 (${batchSizes.slice(0, 8).join(",")}…)`);
    // The sender never waited on a 20 ms inference: 2000 frames took far less than 2000 x 20 ms.
    assert.ok(sendMs < 0.5 * sent * 20, `sending took ${sendMs} ms`);
  });
});

/** The fixture's shared session, from the pool (its prototype carries run()). */
async function fixtureSession(): Promise<object> {
  const entries = (pool as unknown as { entries: Map<string, { runner: Promise<{ session?: object }> }> }).entries;
  const key = [...entries.keys()].find((k) => k.startsWith(FIXTURE_ONNX) && k.endsWith("|main"));
  assert.ok(key, "the fixture session is in the pool");
  const runner = await (entries.get(key) as { runner: Promise<{ session?: object }> }).runner;
  return runner.session as object;
}
