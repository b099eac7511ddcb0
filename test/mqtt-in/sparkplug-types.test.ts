/**
 * Issue 14 item 8: a Sparkplug B metric whose value contradicts its datatype must come out bad
 * with a reason, be counted, and go to output 2; valid metrics stay good. Payloads are built by
 * Eclipse Tahu's protobuf code (sparkplug-fuzz.ts) over every mismatch class, published by an
 * independent mqtt.js edge through aedes to otb-mqtt-in in Node-RED, and, for a 20,000-payload
 * run like the issue's, fed to the decoder directly.
 */
import * as assert from "assert";
import * as mqtt from "mqtt";
import mqttInNode = require("../../nodes/otb-mqtt-in/otb-mqtt-in");
import { SparkplugDecoder } from "../../nodes/otb-mqtt-in/sparkplug-decoder";
import { validateSignal, type Signal } from "../../nodes/shared";
import { startAedes, waitFor, type AedesBroker } from "../helpers/peers";
import { helper, tab, withCoreNodes } from "../helpers/red";
import { birthExpect, birthPayload, CLASSES, EDGE, GROUP, REASON, SparkplugFuzzer, tally, type Expect } from "./sparkplug-fuzz";

const nodes = withCoreNodes(mqttInNode);
const NDATA = `spBv1.0/${GROUP}/NDATA/${EDGE}`;
const NBIRTH = `spBv1.0/${GROUP}/NBIRTH/${EDGE}`;

/** [tag, value, quality, reasons] as a user sees them, per expectation that has a tag. */
function expectedSignals(expect: Expect[]): unknown[] {
  return expect.filter((e) => e.kind !== "untagged").map((e) =>
    e.kind === "good" ? [e.tag, e.value, "good", e.reasons] : [e.tag, null, "bad", [(e as { reason: string }).reason]]);
}

function seen(signals: Signal[]): unknown[] {
  return signals.map((s) => [s.tag, s.value, s.quality, s.reasons]);
}

describe("otb-mqtt-in: Sparkplug metric values against their datatype", () => {
  it("decoder, 20,000 fuzzed payloads: every mismatch bad with its reason and listed, every valid metric good, counters add up", function () {
    this.timeout(120_000);
    const dec = new SparkplugDecoder();
    const fuzz = new SparkplugFuzzer(14);
    const birth = dec.decode(NBIRTH, birthPayload(), Date.now());
    assert.ok(birth && "signals" in birth);
    assert.deepStrictEqual(seen(birth.signals), expectedSignals(birthExpect()));
    const all: Expect[] = [];
    let emitted = 0;
    const listed: Record<string, number> = {};
    for (let i = 0; i < 20_000; i++) {
      const p = fuzz.next();
      const r = dec.decode(NDATA, p.bytes, Date.now());
      assert.ok(r && "signals" in r, `payload ${i} refused whole`);
      // Exact outcome per metric, in order: a mismatch is never good, a valid value never touched.
      assert.deepStrictEqual(seen(r.signals), expectedSignals(p.expect), `payload ${i}`);
      assert.deepStrictEqual(r.rejected.map((x) => x.reason), p.expect.filter((e) => e.kind !== "good").map((e) => (e as { reason: string }).reason), `payload ${i} rejected`);
      for (const x of r.rejected) listed[x.reason] = (listed[x.reason] ?? 0) + 1;
      for (const s of r.signals) assert.ok(validateSignal(s), s.tag);
      emitted += r.signals.length;
      all.push(...p.expect);
    }
    const t = tally(all);
    for (const cls of CLASSES) assert.ok((t.byReason[REASON[cls]] ?? 0) > 100, `class ${cls} exercised`);
    const c = dec.counters;
    assert.deepStrictEqual(c.invalidByReason, t.byReason);
    assert.deepStrictEqual(listed, t.byReason);
    assert.strictEqual(c.invalid, t.bad + t.untagged);
    assert.strictEqual(c.valid, t.good + birthExpect().length);
    assert.strictEqual(c.metrics, c.valid + c.invalid + c.unknownAliases + c.skipped);
    assert.strictEqual(emitted, t.good + t.bad);
    assert.strictEqual(c.seqGaps, 0, "seq wraps 255 -> 0 without a gap (20,000 payloads wrap 78 times)");
  });

  describe("in Node-RED, through aedes", () => {
    let broker: AedesBroker;
    let edge: mqtt.MqttClient;
    beforeEach(async () => {
      broker = await startAedes();
      edge = await mqtt.connectAsync(broker.url, { clientId: "fuzz-edge" });
    });
    afterEach(async () => {
      await helper.unload();
      await edge.endAsync(true);
      await broker.close();
    });

    it("routes each mismatched metric to output 2 with its reason and a bad Signal, reports each reason to Catch once, and counts it", async function () {
      this.timeout(60_000);
      let subs = 0;
      broker.broker.on("subscribe", (s) => (subs += s.length));
      await helper.load(nodes, tab([
        { id: "in", type: "otb-mqtt-in", broker: broker.url, topics: [{ topic: "spBv1.0/#", qos: 0 }], format: "auto", mapping: [], batchMs: "0", wires: [["out"], ["refused"]] },
        { id: "out", type: "helper" },
        { id: "refused", type: "helper" },
        { id: "catcher", type: "catch", scope: ["in"], uncaught: false, wires: [["caught"]] },
        { id: "caught", type: "helper" },
      ]));
      const signals: Signal[] = [];
      const refused: Array<Record<string, unknown>> = [];
      const caught: Array<Record<string, unknown>> = [];
      helper.getNode("out").on("input", ((m: { payload: Signal[] }) => signals.push(...m.payload)) as never);
      helper.getNode("refused").on("input", ((m: Record<string, unknown>) => refused.push(m)) as never);
      helper.getNode("caught").on("input", ((m: Record<string, unknown>) => caught.push(m)) as never);
      await waitFor(() => subs >= 1, 5000, "node subscribed");

      const fuzz = new SparkplugFuzzer(8);
      const expect: Expect[] = [...birthExpect()];
      await edge.publishAsync(NBIRTH, birthPayload(), { qos: 1 });
      for (let i = 0; i < 300; i++) {
        const p = fuzz.next();
        expect.push(...p.expect);
        await edge.publishAsync(NDATA, p.bytes, { qos: 1 });
      }
      const t = tally(expect);
      await waitFor(() => signals.length >= t.good + t.bad && refused.length >= t.bad + t.untagged, 30_000, "every metric out");
      assert.deepStrictEqual(seen(signals), expectedSignals(expect));
      const invalid = expect.filter((e) => e.kind !== "good") as Array<{ reason: string; tag?: string }>;
      assert.deepStrictEqual(refused.map((m) => m.reason), invalid.map((e) => e.reason));
      for (const m of refused) {
        assert.strictEqual(m.topic, NDATA);
        assert.ok(Buffer.isBuffer(m.payload), "the raw payload travels with it");
      }
      const named = refused.filter((m) => m.metric !== undefined).map((m) => `${EDGE}.${String(m.metric)}`);
      assert.deepStrictEqual(named, invalid.filter((e) => e.tag).map((e) => e.tag));
      // Catch: one report per reason for this edge node, not one per metric.
      await waitFor(() => caught.length >= Object.keys(t.byReason).length, 5000, "catch reports");
      const caughtReasons = caught.map((m) => String(m.reason));
      for (const m of caught) assert.match(String((m.error as { message: string }).message), /further .* go to output 2 only, until its next BIRTH/);
      assert.deepStrictEqual([...caughtReasons].sort(), Object.keys(t.byReason).sort());
      const stats = (helper.getNode("in") as unknown as { stats(): { refused: number; values: number; suppressedReports: number; sparkplug: Record<string, number> & { invalidByReason: Record<string, number> } } }).stats();
      assert.strictEqual(stats.refused, refused.length);
      assert.strictEqual(stats.values, signals.length);
      assert.strictEqual(stats.suppressedReports, refused.length - caught.length);
      assert.deepStrictEqual(stats.sparkplug.invalidByReason, t.byReason);
      const sp = stats.sparkplug;
      assert.strictEqual(sp.metrics, sp.valid + sp.invalid + sp.unknownAliases + sp.skipped);
      assert.strictEqual(sp.valid, t.good);
      assert.strictEqual(sp.invalid, t.bad + t.untagged);
    });
  });
});
