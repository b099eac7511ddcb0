import { strict as assert } from "assert";
import { validateFeatureFrame, type Context, type FeatureFrame, type Inference, type Signal } from "../../nodes/shared";
import { waitFor } from "../helpers/peers";
import { catchStatusComplete, helper, nextMessage, tab } from "../helpers/red";
import { FIXTURE_CARD, FIXTURE_ONNX } from "./models";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const windowNode = require("../../nodes/otb-window/otb-window");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const inferNode = require("../../nodes/otb-infer/otb-infer");

const ctx: Context = { enterprise: "acme", site: "plant1", area: "pumps", line: "line1", mode: "running" };

function sig(tag: string, value: Signal["value"], ts: number, quality: Signal["quality"] = "good"): Signal {
  return { tag, value, ts, quality, source: { protocol: "sim", address: tag }, context: ctx };
}

type N = import("node-red").Node;

async function load(windowConfig: Record<string, unknown>, extra: Array<Record<string, unknown>> = [], firstWire = "frames"): Promise<Record<string, N>> {
  const flow = tab([
    { id: "win", type: "otb-window", windowName: "pump-1s", mode: "tumbling", length: "0.2", lateTolerance: "0", missing: "mark", ...windowConfig, wires: [[firstWire], ["refused"]] },
    { id: "frames", type: "helper" },
    { id: "refused", type: "helper" },
    { id: "catcher", type: "catch", scope: null, uncaught: false, wires: [["errors"]] },
    { id: "errors", type: "helper" },
    ...extra,
  ]);
  await helper.load([windowNode, inferNode, ...catchStatusComplete], flow);
  const nodes: Record<string, N> = {};
  for (const id of ["win", "frames", "refused", "errors", ...extra.map((n) => String(n.id))]) nodes[id] = helper.getNode(id);
  return nodes;
}

function collect(node: N): Array<Record<string, unknown>> {
  const got: Array<Record<string, unknown>> = [];
  node.on("input", (m: Record<string, unknown>) => got.push(m));
  return got;
}

describe("otb-window node", function () {
  this.timeout(20_000);
  afterEach(() => helper.unload());

  it("turns Signal batches into frames on the UNS topic, and closes windows when input stops", async () => {
    const n = await load({ features: [{ tag: "pump.current", agg: "mean" }, { tag: "pump.current", agg: "count" }, { tag: "pump.pressure", agg: "max" }] });
    const frames = collect(n.frames);
    const t = Math.floor(Date.now() / 200) * 200;
    n.win.receive({ payload: [sig("pump.current", 4, t + 10), sig("pump.current", 6, t + 20), sig("pump.pressure", 2, t + 30), sig("pump.pressure", 9, t + 40, "bad")] });
    n.win.receive({ payload: sig("pump.pressure", 3, t + 50) });
    // No more input: the wall clock closes this window and the next, empty one.
    await waitFor(() => frames.length >= 2, 3000);
    const [first, second] = frames.map((m) => m.payload as FeatureFrame);
    assert.ok(validateFeatureFrame(first), JSON.stringify(validateFeatureFrame.errors));
    assert.equal(frames[0].topic, "acme/plant1/pumps/line1/_features/pump-1s");
    assert.deepEqual([first.ts, first.windowMs, first.names, first.values, first.missing, first.quality, first.context], [
      t + 200, 200, ["pump.current:mean", "pump.current:count", "pump.pressure:max"], [5, 2, 3], [], "good", ctx,
    ]);
    assert.deepEqual([second.values, second.missing, second.quality], [[0, 0, 0], ["pump.current:mean", "pump.pressure:max"], "bad"]);
  });

  it("routes refused signals with reasons and reports non-Signals to Catch", async () => {
    const n = await load({ length: "60", features: [{ tag: "a", agg: "last" }] });
    const refused = collect(n.refused);
    const errors = collect(n.errors);
    const now = Date.now();
    n.win.receive({ payload: [sig("a", 1, now), { tag: "a", value: 1 }, sig("a", "text", now), sig("a", 1, now + 3_600_000)] });
    await waitFor(() => refused.length === 1 && errors.length === 1, 3000);
    const reasons = (refused[0].payload as Array<{ reason: string }>).map((r) => r.reason);
    assert.equal(reasons.length, 3);
    assert.match(reasons[0], /^invalid: message must have required property 'ts'/);
    assert.deepEqual(reasons.slice(1), ["not_numeric", "future_ts"]);
    assert.match((errors[0].error as { message: string }).message, /1 of 4 item\(s\) are not Signals/);
  });

  it("checks only what it uses: an item with a tag no feature names is ignored unread, anything else is checked", async () => {
    const n = await load({ length: "60", features: [{ tag: "a", agg: "last" }] });
    const refused = collect(n.refused);
    const errors = collect(n.errors);
    const now = Date.now();
    // Unused tag with no ts: ignored, as a valid Signal of that tag always was. A non-object, an
    // item without a tag and a used tag without a ts are refused, each with the schema's reason.
    n.win.receive({ payload: [{ tag: "other", value: 1 }, sig("a", 1, now), 42, { value: 1, ts: now }, { tag: "a", value: 2 }] });
    await waitFor(() => refused.length === 1 && errors.length === 1, 3000);
    const items = refused[0].payload as Array<{ item: unknown; reason: string }>;
    assert.deepEqual(items.map((r) => r.item), [42, { value: 1, ts: now }, { tag: "a", value: 2 }]);
    assert.ok(items.every((r) => r.reason.startsWith("invalid: ")), JSON.stringify(items));
    assert.match((errors[0].error as { message: string }).message, /3 of 5 item\(s\) are not Signals/);
  });

  it("takes its features from a model card, and refuses to run on a bad configuration", async () => {
    const n = await load({ cardPath: FIXTURE_CARD, features: [] });
    const next = nextMessage(n.frames);
    const t = Date.now() - 1000;
    n.win.receive({ payload: [sig("pump.current", 10, t), sig("pump.pressure", 2, t), sig("pump.temperature", 50, t)] });
    assert.deepEqual(((await next).payload as FeatureFrame).names, ["pump.current:mean", "pump.pressure:mean", "pump.temperature:max"]);
    await helper.unload();

    const bad = await load({ windowName: "a/b", features: [{ tag: "a", agg: "mean" }] });
    const error = await nextMessage(bad.errors);
    assert.match((error.error as { message: string }).message, /windowName "a\/b" cannot be a topic level/);
    const again = nextMessage(bad.errors);
    bad.win.receive({ payload: sig("a", 1, Date.now()) });
    assert.match(((await again).error as { message: string }).message, /windowName/);
  });

  it("feeds otb-infer end to end: Signals in, a scored Inference out", async () => {
    const n = await load({ cardPath: FIXTURE_CARD, features: [] }, [
      { id: "infer", type: "otb-infer", modelPath: FIXTURE_ONNX, driftInterval: 0, wires: [["scored"], ["events"]] },
      { id: "scored", type: "helper" },
      { id: "events", type: "helper" },
    ], "infer");
    await nextMessage(n.events, 15_000); // model loaded
    const next = nextMessage(n.scored);
    const t = Date.now() - 1000;
    n.win.receive({ payload: [sig("pump.current", 15, t), sig("pump.current", 17, t + 1), sig("pump.pressure", 3.5, t), sig("pump.temperature", 60, t), sig("pump.temperature", 65, t + 2)] });
    const msg = await next;
    const inf = msg.payload as Inference;
    assert.equal(msg.topic, "acme/plant1/pumps/line1/_inference/fixture-zscore");
    assert.ok(Math.abs((inf.score as number) - 9) < 1e-5, `mean current 16, pressure 3.5, max temperature 65 score 9, got ${inf.score}`);
    assert.equal(inf.anomaly, true);
    assert.deepEqual(inf.context, ctx);
  });
});
