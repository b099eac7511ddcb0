/**
 * examples/ (Node-RED's Import > Examples menu): one commented flow per otb node type, and the
 * self-contained ones do what their comment promises when their inject buttons are pressed.
 * (test/flows.test.ts deploys every example into a real runtime; this runs them.)
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import otbContext = require("../../nodes/otb-context/otb-context");
import otbInfer = require("../../nodes/otb-infer/otb-infer");
import otbLine = require("../../nodes/otb-line/otb-line");
import otbValidate = require("../../nodes/otb-validate/otb-validate");
import otbWindow = require("../../nodes/otb-window/otb-window");
import { REPO_ROOT } from "../../cli/node-red-runner";
import { validateContextEvent, validateFeatureFrame, validateInference, validateSignal } from "../../nodes/shared/schemas";
import type { FeatureFrame, Signal } from "../../nodes/shared/types";
import { helper, withCoreNodes } from "../helpers/red";
import { waitFor } from "../helpers/peers";

const DIR = path.join(REPO_ROOT, "examples");
type FlowNode = Record<string, unknown> & { id: string; type: string };

function load(prefix: string): FlowNode[] {
  const file = fs.readdirSync(DIR).find((f) => f.startsWith(prefix));
  assert.ok(file, `examples/${prefix}*`);
  return JSON.parse(fs.readFileSync(path.join(DIR, file), "utf8")) as FlowNode[];
}

/** Debug nodes become helper nodes, so the test sees what the sidebar would show. */
function runnable(flow: FlowNode[]): FlowNode[] {
  return flow.map((n) => (n.type === "debug" ? { id: n.id, type: "helper", z: n.z, name: n.name, wires: [] } : n));
}

function collect(id: string): Array<Record<string, unknown>> {
  const got: Array<Record<string, unknown>> = [];
  helper.getNode(id).on("input", (msg: Record<string, unknown>) => got.push(msg));
  return got;
}

function press(id: string): void {
  helper.getNode(id).receive({});
}

const core = ["common/20-inject", "common/90-comment", "function/10-function"].map((rel) => require(require.resolve(`@node-red/nodes/core/${rel}.js`)) as (RED: unknown) => void);

describe("examples/", function () {
  this.timeout(20_000);
  afterEach(() => helper.unload());

  it("has a commented example for every otb node type the pack registers", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { "node-red": { nodes: Record<string, string> } };
    const covered = new Set<string>();
    for (const f of fs.readdirSync(DIR).filter((f) => f.endsWith(".json"))) {
      const flow = JSON.parse(fs.readFileSync(path.join(DIR, f), "utf8")) as FlowNode[];
      assert.match(f, /^\d\d - [A-Z].+\.json$/, `${f}: "NN - Title.json"`);
      const comment = flow.find((n) => n.type !== "tab");
      assert.equal(comment?.type, "comment", `${f} starts with a comment`);
      assert.ok(String(comment?.info ?? "").length > 100, `${f}: the comment explains the example`);
      for (const n of flow) covered.add(n.type);
    }
    const missing = Object.keys(pkg["node-red"].nodes).filter((t) => t.startsWith("otb-") && !covered.has(t));
    assert.deepEqual(missing, []);
  });

  it("04 Check data quality: the good batch passes, the bad one is quarantined with reasons", async () => {
    await helper.load(withCoreNodes([otbValidate, ...core]), runnable(load("04 ")));
    const passed = collect("ex04.passed");
    const quarantine = collect("ex04.quarantine");
    press("ex04.good");
    press("ex04.bad");
    await waitFor(() => passed.length >= 1 && quarantine.length >= 1, 5000, "both outputs");
    const ok = passed[0].payload as Signal[];
    assert.deepEqual(ok.map((s) => s.quality), ["good", "good"]);
    const bad = quarantine[0].payload as Signal[];
    assert.deepEqual(bad.map((s) => [s.tag, s.reasons?.[0]]), [["pump1.motor.current", "out_of_range"], ["pump1.discharge.pressure", "type_mismatch"]]);
    for (const s of [...ok, ...bad]) assert.ok(validateSignal(s), JSON.stringify(validateSignal.errors));
  });

  it("05 Put Signals in context: Signals carry product, batch and mode, and a context event says so", async () => {
    await helper.load(withCoreNodes([otbLine, otbContext, ...core]), runnable(load("05 ")));
    const stamped = collect("ex05.stamped");
    const events = collect("ex05.events");
    press("ex05.update");
    press("ex05.signals");
    await waitFor(() => stamped.length >= 1 && events.some((e) => (e.payload as { context: { product?: string } }).context.product), 5000, "stamped Signals and an event");
    const s = (stamped[0].payload as Signal[]).find((x) => x.tag === "pump1.motor.current")!;
    assert.equal(s.context?.product, "COOLANT-A");
    assert.equal(s.context?.batch, "B1001");
    assert.equal(s.context?.mode, "running");
    assert.equal((stamped[0].topics as string[])[1], "acme/plant1/pumps/line1/pump1.motor.current");
    const ev = events[events.length - 1].payload;
    assert.ok(validateContextEvent(ev), JSON.stringify(validateContextEvent.errors));
  });

  it("06 Turn Signals into feature frames: 25 s of data close two 10 s frames", async () => {
    await helper.load(withCoreNodes([otbWindow, ...core]), runnable(load("06 ")));
    const frames = collect("ex06.frames");
    press("ex06.sim");
    await waitFor(() => frames.length >= 2, 5000, "two frames");
    const f = frames[0].payload as FeatureFrame;
    assert.ok(validateFeatureFrame(f), JSON.stringify(validateFeatureFrame.errors));
    assert.deepEqual(f.names, ["pump1.motor.current:mean", "pump1.motor.current:std", "pump1.discharge.pressure:slope"]);
    assert.equal(f.windowMs, 10_000);
    assert.ok(Math.abs(f.values[2] - 0.02) < 1e-9, `pressure rises 0.02 bar/s, slope ${f.values[2]}`);
  });

  it("07 Score frames with an ONNX model: normal frames score low, worn-bearing frames raise the alarm after three", async () => {
    const flow = runnable(load("07 ")).map((n) =>
      n.type === "tab" ? { ...n, env: [{ name: "OTB_MODEL_PATH", type: "str", value: path.join(REPO_ROOT, "flows", "models", "pilot-pump.onnx") }] } : n,
    );
    await helper.load(withCoreNodes([otbInfer, ...core]), flow);
    const inferences = collect("ex07.inference");
    const events = collect("ex07.events");
    await waitFor(() => events.some((e) => (e.payload as { kind: string }).kind === "model"), 15_000, "the model in service");
    press("ex07.normal");
    await waitFor(() => inferences.length >= 1, 5000, "an inference");
    const normal = inferences[0].payload as { score: number; threshold: number; anomaly: boolean };
    assert.ok(validateInference(normal), JSON.stringify(validateInference.errors));
    assert.equal(normal.anomaly, false, `normal score ${normal.score}`);
    for (let i = 0; i < 3; i++) press("ex07.worn");
    await waitFor(() => events.some((e) => (e.payload as { kind: string; state?: string }).state === "raised"), 5000, "an alarm");
  });
});
