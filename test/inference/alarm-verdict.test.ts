/**
 * Issue 18 through a real otb-infer in a Node-RED runtime: Alarms are a message kind of their
 * own with a stable id; an operator's verdict on one is stored under the user directory, comes
 * out as a Verdict event and an alarm KPI, survives a restart of the flow, and a bad verdict
 * reaches a Catch node. Plus: the status never says "no data" while frames flow.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { validateAlarm, validateAlarmKpi, validateVerdict, type Alarm, type AlarmKpi, type Context, type FeatureFrame, type Verdict } from "../../nodes/shared";
import { readVerdictFile, verdictFilePath } from "../../nodes/otb-infer/verdict-store";
import { forgetChecks } from "../../nodes/otb-infer/model-loader";
import { waitFor } from "../helpers/peers";
import { catchStatusComplete, helper, tab } from "../helpers/red";
import { FEATURES, FIXTURE_ONNX, KNOWN, MODEL_LOAD_WAIT_MS, tempDir } from "./models";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const inferNode = require("../../nodes/otb-infer/otb-infer");

const ctx: Context = { enterprise: "acme", site: "plant1", area: "pumps", line: "line1" };
const T0 = 1_767_254_400_000;
const ANOMALOUS = [18, 2, 50]; // fixture score 16/3 > threshold 4
const NORMAL = KNOWN[0].input;

function frame(values: number[], i: number): FeatureFrame {
  return { kind: "features", ts: T0 + i * 10_000, windowMs: 10_000, names: FEATURES, values, missing: [], quality: "good", context: ctx };
}

interface Flow {
  infer: import("node-red").Node;
  events: Array<Record<string, unknown>>;
  errors: Array<Record<string, unknown>>;
  statuses: string[];
}

async function load(userDir: string | undefined, extra: Record<string, unknown> = {}): Promise<Flow> {
  helper.settings({ userDir });
  await helper.load([inferNode, ...catchStatusComplete], tab([
    { id: "infer", type: "otb-infer", modelPath: FIXTURE_ONNX, raiseAfter: "2", clearAfter: "2", driftInterval: 0, ...extra, wires: [["out"], ["events"]] },
    { id: "out", type: "helper" },
    { id: "events", type: "helper" },
    { id: "catcher", type: "catch", scope: null, uncaught: false, wires: [["errors"]] },
    { id: "errors", type: "helper" },
  ]));
  const f: Flow = { infer: helper.getNode("infer"), events: [], errors: [], statuses: [] };
  helper.getNode("events").on("input", (m: Record<string, unknown>) => f.events.push(m));
  helper.getNode("errors").on("input", (m: Record<string, unknown>) => f.errors.push(m));
  (f.infer as unknown as NodeJS.EventEmitter).on("call:status", (call: { args: Array<{ text?: string }> }) => f.statuses.push(String(call.args[0]?.text)));
  await waitFor(() => f.events.some((m) => (m.payload as { kind: string }).kind === "model"), MODEL_LOAD_WAIT_MS, "the model in service");
  return f;
}

const ofKind = <T>(f: Flow, kind: string): Array<{ topic?: string; payload: T }> =>
  f.events.filter((m) => (m.payload as { kind: string }).kind === kind) as Array<{ topic?: string; payload: T }>;

describe("otb-infer alarms and operator verdicts", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("remembers the model check's pass under userDir, so a redeploy of the same model skips the check child", async () => {
    // A mocha worker may have checked the fixture already for an earlier file: this process's memory
    // of it would skip the child and so the file under userDir.
    forgetChecks();
    await load(dir);
    const cache = path.join(dir, "otbridge", "model-checks");
    assert.equal(fs.readdirSync(cache).filter((f) => f.endsWith(".json")).length, 1, "one pass remembered");
  });

  it("sends Alarms with one stable id for the raise and its clear, stored for verdicts", async () => {
    const f = await load(dir);
    const seq = [NORMAL, ANOMALOUS, ANOMALOUS, ANOMALOUS, NORMAL, NORMAL, ANOMALOUS, ANOMALOUS, NORMAL, NORMAL];
    seq.forEach((v, i) => f.infer.receive({ payload: frame(v, i) }));
    await waitFor(() => ofKind(f, "alarm").length === 4, 10_000);
    const alarms = ofKind<Alarm>(f, "alarm");
    for (const a of alarms) assert.ok(validateAlarm(a.payload), JSON.stringify(validateAlarm.errors));
    assert.deepEqual(alarms.map((a) => a.payload.state), ["raised", "cleared", "raised", "cleared"]);
    assert.equal(alarms[0].payload.id, alarms[1].payload.id);
    assert.notEqual(alarms[0].payload.id, alarms[2].payload.id);
    assert.equal(alarms[0].payload.raisedAt, T0 + 2 * 10_000);
    assert.equal(alarms[1].payload.raisedAt, alarms[0].payload.raisedAt);
    assert.equal(alarms[0].topic, "acme/plant1/pumps/line1/_alarms/fixture-zscore");
    assert.equal(alarms[0].payload.contributors[0].feature, "pump.current:mean");
    assert.ok(Math.abs(alarms[0].payload.contributors[0].share - 1) < 1e-6);
    const stored = readVerdictFile(verdictFilePath(dir, "infer")).alarms;
    assert.deepEqual(stored.map((a) => [a.id, a.clearedAt]), [[alarms[0].payload.id, alarms[1].payload.ts], [alarms[2].payload.id, alarms[3].payload.ts]]);
  });

  it("stores a verdict, publishes it with the week's precision and time to acknowledge, and keeps it across a restart", async () => {
    let f = await load(dir);
    const seq = [ANOMALOUS, ANOMALOUS, NORMAL, NORMAL, ANOMALOUS, ANOMALOUS, NORMAL, NORMAL];
    seq.forEach((v, i) => f.infer.receive({ payload: frame(v, i) }));
    await waitFor(() => ofKind(f, "alarm").length === 4, 10_000);
    const [first, , second] = ofKind<Alarm>(f, "alarm").map((a) => a.payload);

    f.infer.receive({ payload: { kind: "verdict", alarmId: first.id, verdict: "false alarm", note: "valve maintenance", user: "ana" } });
    await waitFor(() => ofKind(f, "alarm-kpi").length === 1, 10_000);
    const v = ofKind<Verdict>(f, "verdict")[0];
    assert.ok(validateVerdict(v.payload), JSON.stringify(validateVerdict.errors));
    assert.equal(v.topic, "acme/plant1/pumps/line1/_events/verdict");
    assert.deepEqual([v.payload.alarmId, v.payload.verdict, v.payload.user, v.payload.note, v.payload.raisedAt], [first.id, "false_alarm", "ana", "valve maintenance", first.raisedAt]);
    const k1 = ofKind<AlarmKpi>(f, "alarm-kpi")[0].payload;
    assert.ok(validateAlarmKpi(k1), JSON.stringify(validateAlarmKpi.errors));
    assert.deepEqual([k1.week, k1.alarms, k1.judged, k1.falseAlarms, k1.precision], ["2026-W01", 2, 1, 1, 0]);
    assert.ok(Math.abs((k1.ackMedianS as number) - (v.payload.ts - first.raisedAt) / 1000) < 1e-6);

    // Restart: a new runtime flow on the same user directory still knows both alarms and the verdict.
    await helper.unload();
    f = await load(dir);
    f.infer.receive({ payload: { kind: "verdict", alarmId: second.id, verdict: "confirmed", user: "ben" } });
    await waitFor(() => ofKind(f, "alarm-kpi").length === 1, 10_000);
    const k2 = ofKind<AlarmKpi>(f, "alarm-kpi")[0].payload;
    assert.deepEqual([k2.alarms, k2.judged, k2.confirmed, k2.falseAlarms, k2.precision], [2, 2, 1, 1, 0.5]);
    const stored = readVerdictFile(verdictFilePath(dir, "infer")).alarms;
    assert.deepEqual(stored.map((a) => a.verdicts.map((x) => `${x.user}:${x.verdict}`)), [["ana:false_alarm"], ["ben:confirmed"]]);
    assert.deepEqual(fs.readdirSync(path.dirname(verdictFilePath(dir, "infer"))), ["infer.json"], "no temp file left behind");
  });

  it("sends a bad verdict to Catch with the reason and stores nothing", async () => {
    const f = await load(dir);
    [ANOMALOUS, ANOMALOUS].forEach((v, i) => f.infer.receive({ payload: frame(v, i) }));
    await waitFor(() => ofKind(f, "alarm").length === 1, 10_000);
    const id = ofKind<Alarm>(f, "alarm")[0].payload.id;
    f.infer.receive({ payload: { kind: "verdict", alarmId: "nope", verdict: "confirmed", user: "ana" } });
    f.infer.receive({ payload: { kind: "verdict", alarmId: id, verdict: "maybe", user: "ana" } });
    f.infer.receive({ payload: { kind: "verdict", alarmId: id, verdict: "confirmed" } });
    await waitFor(() => f.errors.length === 3, 10_000);
    const texts = f.errors.map((e) => (e.error as { message: string }).message);
    assert.match(texts[0], /no alarm "nope"/);
    assert.match(texts[1], /"maybe" is not one of confirmed, false_alarm, unsure/);
    assert.match(texts[2], /user is required/);
    assert.equal(ofKind(f, "verdict").length, 0);
    assert.deepEqual(readVerdictFile(verdictFilePath(dir, "infer")).alarms[0].verdicts, []);
  });

  it("keeps showing the last score when the drift timer refreshes the status while frames flow", async () => {
    const f = await load(dir, { driftInterval: "0.1" });
    let i = 0;
    const timer = setInterval(() => f.infer.receive({ payload: frame(NORMAL, i++) }), 20);
    try {
      await waitFor(() => ofKind(f, "drift").length >= 3, 20_000);
    } finally {
      clearInterval(timer);
    }
    const firstScore = f.statuses.findIndex((t) => t.startsWith("score"));
    assert.ok(firstScore >= 0, `statuses: ${f.statuses.join(" | ")}`);
    const after = f.statuses.slice(firstScore);
    assert.ok(!after.some((t) => /no data/.test(t)), `"no data" while frames flowed: ${after.join(" | ")}`);
  });
});

describe("Alarm, Verdict and alarm KPI through otb-publish's conduit policy", () => {
  const model = { name: "pump", version: "1.0.0", sha256: "a".repeat(64) };
  const alarm: Alarm = {
    kind: "alarm", id: `pump-aaaaaaaa-${T0}`, state: "raised", ts: T0, raisedAt: T0, model, score: 9, threshold: 4, consecutive: 3,
    contributors: [{ feature: "pump.current:mean", contribution: 6, share: 2 / 3 }], context: ctx,
  };
  const verdict: Verdict = { kind: "verdict", alarmId: alarm.id, verdict: "confirmed", user: "ana", ts: T0 + 60_000, model, raisedAt: T0, context: ctx };
  const kpi: AlarmKpi = {
    kind: "alarm-kpi", ts: T0 + 60_000, model, week: "2026-W01", alarms: 1, judged: 1, confirmed: 1, falseAlarms: 0, unsure: 0,
    precision: 1, ackMedianS: 60, ackMeanS: 60, context: ctx,
  };

  function publisher(kinds: string[], sparkplugTopic: string | null = null): import("../../nodes/otb-publish/publish-logic").Publisher {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Publisher } = require("../../nodes/otb-publish/publish-logic");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { TopicPolicy } = require("../../nodes/otb-conduit/topic-policy");
    return new Publisher({ topicMode: "uns", template: "", rbe: true, deadband: 0, sparkplugTopic }, new TopicPolicy(["acme/#", "spBv1.0/#"], new Set(kinds), 65_536));
  }

  it("publishes each under its own UNS topic and kind code, never suppressed as a repeat", () => {
    const p = publisher(["alarms", "events"]);
    const topics = [alarm, alarm, verdict, kpi].map((m) => {
      const out = p.prepare(m, { line: null });
      assert.equal(out.refused.length, 0, JSON.stringify(out.refused));
      return [out.kind, out.records[0].topic, out.records[0].kind, JSON.parse(out.records[0].payload.toString()).kind];
    });
    assert.deepEqual(topics, [
      ["alarms", "acme/plant1/pumps/line1/_alarms/pump", 4, "alarm"],
      ["alarms", "acme/plant1/pumps/line1/_alarms/pump", 4, "alarm"],
      ["events", "acme/plant1/pumps/line1/_events/verdict", 3, "verdict"],
      ["events", "acme/plant1/pumps/line1/_events/alarm-kpi", 3, "alarm-kpi"],
    ]);
  });

  it("turns them into Sparkplug metrics on a Sparkplug conduit", () => {
    const p = publisher(["alarms", "events"], "spBv1.0/acme/NDATA/edge1");
    const names = [alarm, verdict, kpi].map((m) => p.prepare(m, { line: null }).records.map((r) => `${r.kind}:${r.topic}`));
    assert.deepEqual(names, [
      ["4:_alarms/pump/active", "4:_alarms/pump/id", "4:_alarms/pump/score"],
      ["3:_verdicts/pump/confirmed"],
      ["3:_alarm_kpi/pump/judged", "3:_alarm_kpi/pump/precision", "3:_alarm_kpi/pump/ackMedianS"],
    ]);
  });

  it("lets a conduit allow alarms explicitly; one saved before the kind existed follows its events setting", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { parseConduitConfig } = require("../../nodes/otb-conduit/conduit-config") as typeof import("../../nodes/otb-conduit/conduit-config");
    const kinds = (def: Record<string, unknown>) =>
      [...parseConduitConfig({ id: "c", broker: "mqtt://127.0.0.1:1883", sourceZone: "L3", targetZone: "DMZ", allowTopics: ["acme/#"], ...def } as never, {}, "/unused").kinds].sort();
    assert.deepEqual(kinds({}), ["alarms", "events", "features", "inference", "kpi", "signals"]);
    assert.deepEqual(kinds({ allowEvents: false }), ["features", "inference", "signals"]);
    assert.deepEqual(kinds({ allowEvents: false, allowAlarms: true }), ["alarms", "features", "inference", "signals"]);
    assert.deepEqual(kinds({ allowAlarms: "false" }), ["events", "features", "inference", "kpi", "signals"]);
  });

  it("refuses alarms on a conduit that does not allow the kind, and malformed ones as invalid", () => {
    const p = publisher(["events"]);
    assert.equal(p.prepare(alarm, { line: null }).refused[0].reason, "kind_not_allowed");
    const bad = p.prepare({ ...alarm, score: "high" }, { line: null });
    assert.equal(bad.refused[0].reason, "invalid");
    assert.match(bad.refused[0].detail, /score must be number/);
  });
});

describe("Alarms, Verdicts and alarm KPIs from otb-infer through otb-publish and a real conduit (aedes)", function () {
  this.timeout(60_000);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const conduitNode = require("../../nodes/otb-conduit/otb-conduit");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const publishNode = require("../../nodes/otb-publish/otb-publish");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const switchNode = require(require.resolve("@node-red/nodes/core/function/10-switch.js"));
  let dir: string;
  let broker: import("../helpers/peers").AedesBroker;
  let sub: import("mqtt").MqttClient;
  const received: Array<{ topic: string; body: Record<string, unknown> }> = [];

  beforeEach(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startAedes } = require("../helpers/peers") as typeof import("../helpers/peers");
    dir = tempDir();
    broker = await startAedes();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { connectAsync } = require("mqtt") as typeof import("mqtt");
    sub = await connectAsync(broker.url, { protocolVersion: 4, clientId: "independent-subscriber" });
    await sub.subscribeAsync("#", { qos: 1 });
    received.length = 0;
    sub.on("message", (topic, payload) => received.push({ topic, body: JSON.parse(payload.toString()) }));
  });
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    await sub.endAsync();
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("delivers the raise, the clear, the verdict and the KPI once each, under their UNS topics", async () => {
    helper.settings({ userDir: dir });
    await helper.load([inferNode, conduitNode, publishNode, switchNode, ...catchStatusComplete], tab([
      { id: "infer", type: "otb-infer", modelPath: FIXTURE_ONNX, raiseAfter: "2", clearAfter: "2", driftInterval: 0, wires: [[], ["kinds"]] },
      // Drift and model-load events stay local; the three issue 18 kinds go north.
      { id: "kinds", type: "switch", property: "payload.kind", propertyType: "msg", checkall: "false", outputs: 1,
        rules: [{ t: "regex", v: "^(alarm|verdict|alarm-kpi)$", vt: "str" }], wires: [["pub"]] },
      { id: "c1", type: "otb-conduit", broker: broker.url, sourceZone: "L3", targetZone: "DMZ", allowTopics: ["acme/#"],
        queueDir: path.join(dir, "queue"), commitMs: 5, keepalive: 5, protocolVersion: "4", allowSignals: false, allowFeatures: false, allowInference: false },
      { id: "pub", type: "otb-publish", conduit: "c1", wires: [] },
      { id: "catcher", type: "catch", scope: null, uncaught: false, wires: [["errors"]] },
      { id: "errors", type: "helper" },
    ]));
    const errors: unknown[] = [];
    helper.getNode("errors").on("input", (m: unknown) => errors.push(m));
    const infer = helper.getNode("infer");
    [ANOMALOUS, ANOMALOUS, NORMAL, NORMAL].forEach((v, i) => infer.receive({ payload: frame(v, i) }));
    await waitFor(() => received.length === 2, 15_000);
    const id = received[0].body.id as string;
    infer.receive({ payload: { kind: "verdict", alarmId: id, verdict: "confirmed", note: "bearing noise", user: "ana" } });
    await waitFor(() => received.length === 4, 15_000);
    await new Promise((r) => setTimeout(r, 200)); // nothing more (no duplicates, no drift/model events) arrives
    assert.deepEqual(received.map((r) => [r.topic, r.body.kind, r.body.state ?? r.body.verdict ?? r.body.precision]), [
      ["acme/plant1/pumps/line1/_alarms/fixture-zscore", "alarm", "raised"],
      ["acme/plant1/pumps/line1/_alarms/fixture-zscore", "alarm", "cleared"],
      ["acme/plant1/pumps/line1/_events/verdict", "verdict", "confirmed"],
      ["acme/plant1/pumps/line1/_events/alarm-kpi", "alarm-kpi", 1],
    ]);
    assert.equal(received[1].body.id, id);
    assert.equal(received[2].body.alarmId, id);
    assert.deepEqual(errors, []);
  });
});

describe("otbridge inventory names the alarm kinds", () => {
  it("shows what otb-infer's event output carries and which conduits allow alarms", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { inventory } = require("../../cli/flows/zone-inventory") as typeof import("../../cli/flows/zone-inventory");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { parseFlow } = require("../../cli/flows/flow-file") as typeof import("../../cli/flows/flow-file");
    const conduit = (id: string, extra: Record<string, unknown>) => ({ id, type: "otb-conduit", broker: "mqtts://dmz:8883", sourceZone: "L3", targetZone: "DMZ", allowTopics: ["acme/#"], ...extra });
    const flow = parseFlow(JSON.stringify([
      { id: "t", type: "tab", label: "t" },
      { id: "infer", z: "t", type: "otb-infer", modelPath: "m.onnx", wires: [["pubInf"], ["pubAlarm"]] },
      { id: "pubInf", z: "t", type: "otb-publish", conduit: "new", wires: [] },
      { id: "pubAlarm", z: "t", type: "otb-publish", conduit: "old", wires: [] },
      conduit("new", { allowSignals: true, allowFeatures: false, allowInference: true, allowEvents: false, allowAlarms: true }),
      // Saved before the alarms kind existed: follows allowEvents.
      conduit("old", { allowSignals: false, allowFeatures: false, allowInference: false, allowEvents: true }),
    ]), "inline.json");
    const routes = inventory(flow).routes;
    const by = (p: string) => routes.find((r) => r.publisher.includes(p)) as (typeof routes)[number];
    assert.ok(by("pubInf") && by("pubAlarm"), JSON.stringify(routes.map((r) => r.publisher)));
    assert.deepEqual([by("pubInf").kinds, by("pubInf").allowedKinds], [["inference"], ["signals", "inference", "alarms"]]);
    assert.deepEqual([by("pubAlarm").kinds, by("pubAlarm").allowedKinds], [["alarms, verdicts, alarm KPIs, drift, model events"], ["events", "alarms", "kpi"]]);
  });
});
