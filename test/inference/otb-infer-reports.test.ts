/**
 * otb-infer (defineNode, issue 16): what a user sees when something goes wrong outside an input.
 * A model refused by the asynchronous load, and a process where no ONNX engine loads, reach a
 * real Catch node once with a red status, and frames are refused with the reason. Verdicts are
 * optional to scoring: without a userDir, or with an unreadable verdict file, the node keeps
 * scoring and judging in memory and says so (log, status; Catch for the file a person must fix).
 * Frames that arrive while the model loads wait under the queue's bound and drop policy. Closing
 * during a load finishes within its bound and leaves no session behind.
 */
import { strict as assert } from "assert";
import { EventEmitter } from "events";
import * as fs from "fs";
import * as path from "path";
import * as sinon from "sinon";
import type { Alarm, Context, FeatureFrame, Inference } from "../../nodes/shared";
import { resetEngine } from "../../nodes/otb-infer/engine";
import { pool } from "../../nodes/otb-infer/model-loader";
import { verdictFilePath } from "../../nodes/otb-infer/verdict-store";
import { waitFor } from "../helpers/peers";
import { caughtWithin, helper, tab, withCoreNodes } from "../helpers/red";
import { FEATURES, FIXTURE_ONNX, KNOWN, MODEL_LOAD_WAIT_MS, tempDir, writeModel, zscoreModel } from "./models";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const inferNode = require("../../nodes/otb-infer/otb-infer");

const ctx: Context = { enterprise: "acme", site: "plant1", area: "pumps", line: "line1" };
const T0 = 1_767_254_400_000;
const ANOMALOUS = [18, 2, 50]; // fixture score 16/3 > threshold 4

function frame(values: number[], i = 0): FeatureFrame {
  return { kind: "features", ts: T0 + i * 10_000, windowMs: 10_000, names: FEATURES, values, missing: [], quality: "good", context: ctx };
}

interface Flow {
  infer: import("node-red").Node;
  out: Array<Record<string, unknown>>;
  events: Array<Record<string, unknown>>;
  caught: import("node-red").Node;
  statuses: Array<{ fill?: string; text?: string }>;
}

async function load(config: Record<string, unknown>): Promise<Flow> {
  const flow = tab([
    { id: "infer", type: "otb-infer", driftInterval: 0, raiseAfter: "2", clearAfter: "2", ...config, wires: [["out"], ["events"]] },
    { id: "out", type: "helper" },
    { id: "events", type: "helper" },
    { id: "catcher", type: "catch", scope: null, uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper" },
  ]);
  await helper.load(withCoreNodes(inferNode), flow);
  const f: Flow = { infer: helper.getNode("infer"), out: [], events: [], caught: helper.getNode("caught"), statuses: [] };
  helper.getNode("out").on("input", (m: Record<string, unknown>) => f.out.push(m));
  helper.getNode("events").on("input", (m: Record<string, unknown>) => f.events.push(m));
  (f.infer as unknown as EventEmitter).on("call:status", (call: { args: Array<{ fill?: string; text?: string }> }) => f.statuses.push(call.args[0] ?? {}));
  return f;
}

/** The reported message without the "Error: " prefix Node-RED gives it in Catch. */
const message = (m: Record<string, unknown>): string => String((m.error as { message?: unknown }).message).replace(/^\w*Error: /, "");
const fromInfer = (m: Record<string, unknown>): boolean => (m.error as { source?: { id?: string } }).source?.id === "infer";
const lastStatus = (f: Flow): { fill?: string; text?: string } => f.statuses[f.statuses.length - 1] ?? {};
const ofKind = (f: Flow, kind: string): Array<Record<string, unknown>> => f.events.filter((m) => (m.payload as { kind?: string }).kind === kind);
const warnings = (): string[] =>
  helper.log().args.map((a: Array<{ level: number; msg?: unknown }>) => a[0]).filter((l: { level: number }) => l.level === 30).map((l: { msg?: unknown }) => String(l.msg));

describe("otb-infer: reports outside an input, optional verdicts, loading and closing", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    sinon.restore();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reports a model refused by the load to a real Catch node once, turns red, and refuses frames with the reason", async () => {
    const { onnx } = writeModel(dir, fs.readFileSync(FIXTURE_ONNX), { sha256: "e".repeat(64) });
    const f = await load({ modelPath: onnx });
    const reports = (await caughtWithin(f.caught, MODEL_LOAD_WAIT_MS, 1500)).filter(fromInfer);
    assert.deepEqual(reports.map(message), ["sha256 mismatch: model.onnx is 93be162abdb1…, its card pins eeeeeeeeeeee…; refused before loading"]);
    assert.equal(reports[0]!.model, onnx, "the report names the model file");
    assert.equal(lastStatus(f).fill, "red");
    assert.match(String(lastStatus(f).text), /^model: sha256 mismatch: model\.onnx is 93be162abdb1…/);

    const refusals = caughtWithin(f.caught, 10_000, 500);
    f.infer.receive({ payload: frame(KNOWN[0]!.input) });
    f.infer.receive({ payload: frame(KNOWN[1]!.input, 1) });
    assert.deepEqual((await refusals).map(message), [1, 2].map(() => "not scored: sha256 mismatch: model.onnx is 93be162abdb1…, its card pins eeeeeeeeeeee…; refused before loading"));
    assert.equal(f.out.length, 0);
    assert.equal(lastStatus(f).fill, "red", "the status keeps the load error");
  });

  describe("without an ONNX engine", () => {
    let saved: string | undefined;
    beforeEach(() => {
      saved = process.env.OTB_INFER_ENGINE;
      process.env.OTB_INFER_ENGINE = "otb-no-such-onnx-engine";
      resetEngine();
    });
    afterEach(() => {
      if (saved === undefined) delete process.env.OTB_INFER_ENGINE;
      else process.env.OTB_INFER_ENGINE = saved;
      resetEngine();
    });

    it("says \"inference unavailable\" once to Catch and in the status, and refuses frames with it", async () => {
      const f = await load({ modelPath: FIXTURE_ONNX });
      const reports = (await caughtWithin(f.caught, MODEL_LOAD_WAIT_MS, 1500)).filter(fromInfer);
      assert.equal(reports.length, 1, `one report, got ${reports.map(message).join(" | ")}`);
      assert.match(message(reports[0]!), /^inference unavailable: no ONNX engine loads on .*\(otb-no-such-onnx-engine: not installed\)$/);
      assert.deepEqual([lastStatus(f).fill, lastStatus(f).text?.slice(0, 36)], ["red", "model: inference unavailable: no ONN"]);
      const refusal = caughtWithin(f.caught, 10_000, 300);
      f.infer.receive({ payload: frame(KNOWN[0]!.input) });
      assert.deepEqual((await refusal).map((m) => message(m).slice(0, 35)), ["not scored: inference unavailable: "]);
    });
  });

  it("without a userDir keeps scoring and judging alarms in memory, and says so once in the log and the status", async () => {
    helper.settings({ userDir: undefined });
    const f = await load({ modelPath: FIXTURE_ONNX });
    await waitFor(() => ofKind(f, "model").length === 1, MODEL_LOAD_WAIT_MS, "the model in service");
    assert.equal(lastStatus(f).text, "fixture-zscore 1.0.0, no data; verdicts in memory only");
    assert.equal(f.statuses[0]?.text, "loading model; verdicts in memory only");
    const said = warnings().filter((w) => /userDir/.test(w));
    assert.deepEqual(said, ["Node-RED has no userDir, so the verdict store has nowhere durable to live: set userDir in settings.js or start with --userDir; operator verdicts on alarms are kept in memory only"]);

    [ANOMALOUS, ANOMALOUS].forEach((v, i) => f.infer.receive({ payload: frame(v, i) }));
    await waitFor(() => ofKind(f, "alarm").length === 1, 10_000);
    const alarm = ofKind(f, "alarm")[0]!.payload as Alarm;
    f.infer.receive({ payload: { kind: "verdict", alarmId: alarm.id, verdict: "confirmed", user: "ana" } });
    await waitFor(() => ofKind(f, "alarm-kpi").length === 1, 10_000);
    assert.deepEqual(ofKind(f, "verdict").map((m) => (m.payload as { verdict: string }).verdict), ["confirmed"]);
    assert.equal((ofKind(f, "alarm-kpi")[0]!.payload as { confirmed: number }).confirmed, 1);
    assert.equal(warnings().filter((w) => /userDir/.test(w)).length, 1, "said once");
  });

  it("reports an unreadable verdict file once to Catch, never overwrites it, and keeps scoring", async () => {
    const file = verdictFilePath(dir, "infer");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "{ not json");
    helper.settings({ userDir: dir });
    const f = await load({ modelPath: FIXTURE_ONNX });
    const reports = (await caughtWithin(f.caught, MODEL_LOAD_WAIT_MS, 1000)).filter(fromInfer);
    assert.equal(reports.length, 1);
    assert.match(message(reports[0]!), new RegExp(`^verdict store ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} unreadable, verdicts kept in memory only: .*not JSON`));
    await waitFor(() => ofKind(f, "model").length === 1, MODEL_LOAD_WAIT_MS, "the model in service");
    assert.equal(lastStatus(f).text, "fixture-zscore 1.0.0, no data; verdicts in memory only");
    [ANOMALOUS, ANOMALOUS].forEach((v, i) => f.infer.receive({ payload: frame(v, i) }));
    await waitFor(() => ofKind(f, "alarm").length === 1 && f.out.length === 2, 10_000);
    assert.equal(fs.readFileSync(file, "utf8"), "{ not json", "the unreadable file is left as it was");
  });

  for (const dropPolicy of ["drop-oldest", "drop-newest"] as const) {
    it(`holds frames that arrive while the model loads, bounded by the queue (${dropPolicy}), and scores them once it has loaded`, async () => {
      // A model of its own: its first load spawns the check child, so the frames surely arrive during it.
      const { onnx } = writeModel(dir, zscoreModel([10, 2, 50 + Math.random()]));
      const f = await load({ modelPath: onnx, maxQueue: "5", dropPolicy });
      const sent = 8;
      for (let i = 0; i < sent; i++) f.infer.receive({ payload: frame(KNOWN[0]!.input, i) });
      const drops = caughtWithin(f.caught, MODEL_LOAD_WAIT_MS, 500);
      await waitFor(() => f.out.length === 5, MODEL_LOAD_WAIT_MS, "the queued frames scored");
      assert.equal(ofKind(f, "model").length, 1, "the frames arrived before the model loaded");
      const expected = dropPolicy === "drop-oldest" ? [3, 4, 5, 6, 7] : [0, 1, 2, 3, 4];
      assert.deepEqual(f.out.map((m) => ((m.payload as Inference).ts - T0) / 10_000), expected);
      assert.deepEqual((await drops).filter(fromInfer).map(message), [`queue full: dropped 3 frame(s) in 5 s (${dropPolicy}, queue 5); 3 in total`]);
    });
  }

  it("closes during a load within its bound, reports nothing after, and leaves no session of the model behind", async () => {
    const { onnx } = writeModel(dir, zscoreModel([10, 2, 50 + Math.random()]));
    const entries = (pool as unknown as { entries: Map<string, unknown> }).entries;
    const acquire = sinon.spy(pool, "acquire");
    const f = await load({ modelPath: onnx });
    const reports: Array<Record<string, unknown>> = [];
    f.caught.on("input", (m: Record<string, unknown>) => reports.push(m));
    await helper.unload();
    assert.deepEqual(ofKind(f, "model"), [], "closed before the model loaded");
    assert.ok(!warnings().some((w) => /close did not finish/.test(w)), warnings().join(" | "));
    // The load under way finishes on its own and gives its session back.
    await waitFor(() => acquire.called, MODEL_LOAD_WAIT_MS, "the load's session acquired");
    await waitFor(() => ![...entries.keys()].some((k) => k.startsWith(onnx)), MODEL_LOAD_WAIT_MS, "the session given back");
    assert.deepEqual(reports, []);
  });
});
