/**
 * The single-line pilot end to end, the way `npm start` runs it: the simulator (OPC UA, Modbus,
 * MQTT on ephemeral ports), Node-RED with flows/single-line-pilot.json, and an independent MQTT
 * subscriber on the conduit's broker that sees what a DMZ consumer sees. The simulator runs at
 * 30x so that 10 simulated minutes take 20 s; its clock starts in the past so that it never
 * overtakes the wall clock. The bearing-wear scenario's alarm is checked in browser.test.ts, on
 * the same bearing-wear pilot the browser tests use (one pilot start less in the suite).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../cli/node-red-runner";
import { validateContextEvent, validateFeatureFrame, validateInference, validateKpi, validateSignal } from "../../nodes/shared/schemas";
import type { Alarm, ContextEvent, FeatureFrame, Inference, Kpi, Signal } from "../../nodes/shared/types";
import { waitFor } from "../helpers/peers";
import { startTestPilot, Subscriber, type Received, type TestPilot } from "./harness";

const SPEED = 30;
const MINUTE = 60_000;
const card = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "flows", "models", "pilot-pump.card.json"), "utf8")) as { sha256: string; threshold: number; features: string[] };

function simNow(pilot: TestPilot): number {
  return pilot.sim!.line.ts;
}

/**
 * The anomaly model's alarms, which the pilot publishes as their own kind (<line>/_alarms/<model>,
 * issue 18). otb-spc's rule events share the kind under <line>/_alarms/spc-<characteristic>.
 */
function alarms(sub: Subscriber): Alarm[] {
  return sub.under("/_alarms/pilot-pump").map((m) => m.json as unknown as Alarm);
}

function errorLines(log: string[]): string[] {
  return log.filter((l) => /\[error\]|\[debug:errors\]/.test(l));
}

describe("single-line pilot (flows/single-line-pilot.json) against the simulator", function () {
  this.timeout(120_000);

  describe("normal run", function () {
    this.timeout(300_000); // the before() below: up to 60 + 120 + 60 s of waiting on a loaded machine
    let pilot: TestPilot;
    let sub: Subscriber;
    let simStart: number;
    before(async () => {
      pilot = await startTestPilot({ scenario: "normal", seed: 2, speed: SPEED, minutesBack: 120 });
      sub = await Subscriber.connect(pilot.sim!.mqttUrl!, `${pilot.prefix}/#`);
      simStart = simNow(pilot);
      // Ten simulated minutes of scoring, plus the first window.
      await waitFor(() => simNow(pilot) - simStart >= 10.5 * MINUTE, 60_000, "10 simulated minutes");
      // What the tests read, waited for (not assumed from the simulated time): on a loaded machine
      // the OPC UA session and the first windows can lag the simulator's clock by many seconds.
      await waitFor(() => sub.on("/_inference/pilot-pump").length >= 50, 120_000, "50 inferences");
      await waitFor(() => sub.under("/_features/quality").length > 0, 60_000, "a quality summary");
    });
    after(async () => {
      await sub?.close();
      await pilot?.stop();
    });

    it("publishes scored inferences of the pinned model under <line>/_inference/pilot-pump", () => {
      const inferences = sub.on("/_inference/pilot-pump").map((m) => m.json as unknown as Inference);
      // 10 s frames over ten simulated minutes: about 60 (late OPC UA data may hold a few back).
      assert.ok(inferences.length >= 50, `${inferences.length} inferences`);
      for (const inf of inferences) {
        assert.ok(validateInference(inf), JSON.stringify(validateInference.errors));
        assert.equal(inf.model.sha256, card.sha256);
        assert.equal(inf.threshold, card.threshold);
        assert.equal(inf.context?.line, "line1");
        assert.deepEqual(Object.keys(inf.contributions ?? {}).sort(), [...card.features].sort());
      }
    });

    it("raises no alarm in ten simulated minutes of normal running", () => {
      const inferences = sub.on("/_inference/pilot-pump").map((m) => m.json as unknown as Inference);
      const worst = Math.max(...inferences.map((i) => i.score ?? 0));
      assert.deepEqual(alarms(sub), [], "no alarm");
      assert.deepEqual(sub.under("/_features/alarm"), [], "no alarm as a feature frame (the old workaround)");
      assert.ok(worst < card.threshold, `highest score ${worst} stays under the threshold ${card.threshold}`);
    });

    it("publishes contextualised Signals from all three protocols on their UNS topics", () => {
      const signals = sub.messages.filter((m) => !m.topic.slice(pilot.prefix.length + 1).startsWith("_")).map((m) => ({ topic: m.topic, s: m.json as unknown as Signal }));
      const protocols = new Set(signals.map((x) => x.s.source?.protocol));
      assert.deepEqual([...protocols].sort(), ["modbus", "mqtt", "opcua"]);
      for (const { topic, s } of signals.slice(0, 500)) {
        assert.ok(validateSignal(s), JSON.stringify(validateSignal.errors));
        assert.equal(topic, `${pilot.prefix}/${s.tag}`);
      }
      // The first values arrive before the PLC's product/batch tags have been read; later ones carry them.
      const current = signals.filter((x) => x.s.tag === "pump1.motor.current").pop()!.s;
      assert.ok(current.context?.product && current.context.batch && current.context.shift && current.context.mode, JSON.stringify(current.context));
    });

    it("publishes context events with product, batch, shift and mode from the simulator's schedule", () => {
      const events = sub.on("/_events/context").map((m) => m.json as unknown as ContextEvent);
      assert.ok(events.length >= 1);
      for (const ev of events) assert.ok(validateContextEvent(ev), JSON.stringify(validateContextEvent.errors));
      const ctx = events[events.length - 1].context;
      assert.match(ctx.product ?? "", /\S/);
      assert.match(ctx.batch ?? "", /\S/);
      assert.ok(["early", "late", "night"].includes(ctx.shift ?? ""), `shift ${ctx.shift}`);
      assert.ok(["running", "idle", "changeover", "maintenance"].includes(ctx.mode ?? ""), `mode ${ctx.mode}`);
    });

    it("publishes data-quality KPIs (good % per tag) as a frame under <line>/_features/quality", () => {
      const kpi = sub.on("/_features/quality").map((m: Received) => m.json as unknown as FeatureFrame);
      const last = kpi[kpi.length - 1];
      assert.ok(validateFeatureFrame(last), JSON.stringify(validateFeatureFrame.errors));
      const at = (name: string): number => last.values[last.names.indexOf(name)];
      assert.ok(at("pump1.motor.current:good_pct") > 90, `current ${at("pump1.motor.current:good_pct")} % good`);
      assert.ok(at("pump1.vibration.de_rms:good_pct") > 90);
      assert.ok(at("meter1.voltage:good_pct") > 90, "Modbus tags are counted too");
      assert.ok(at("all:good_pct") > 90);
    });

    it("publishes the filling station's OEE (otb-oee) as KPIs under <line>/_kpi/oee/<scope>", () => {
      const msgs = sub.under("/_kpi/oee/");
      assert.ok(msgs.length >= 1, `${msgs.length} OEE KPIs`);
      for (const m of msgs) {
        const k = m.json as unknown as Kpi;
        assert.ok(validateKpi(k), JSON.stringify(validateKpi.errors));
        assert.equal(k.name, "oee");
        assert.equal(m.topic, `${pilot.prefix}/_kpi/oee/${k.scope}`);
      }
      // Common-cause variation only: the filler runs, parts are counted, the meter's energy is used.
      const last = msgs[msgs.length - 1].json as unknown as Kpi;
      assert.ok(last.values.availability !== null && last.values.availability > 0.5, JSON.stringify(last.values));
      // One clock: the filler's readings are not late against another source's time (performance
      // would exceed 100 %). Parts made during a data gap (a CPU-starved run: 45 s of 567 s once
      // beside two hogs) count in the totals but not in performance (Tally.gapParts), so the gap
      // does not lift it either.
      assert.ok(last.values.oee !== null && last.values.oee > 0 && last.values.oee <= 1, JSON.stringify(last.values));
      assert.ok(last.values.performance !== null && last.values.performance <= 1.05, JSON.stringify(last.values));
      assert.ok((last.values.missingMs ?? 0) < (last.values.plannedProductionMs ?? 0) / 2, JSON.stringify(last.values));
      assert.ok(last.values.energyPerGoodPartKWh !== null && last.values.energyPerGoodPartKWh > 0, `energy per good part ${last.values.energyPerGoodPartKWh}`);
    });

    it("publishes the fill volume's control-chart points (otb-spc) as KPIs under <line>/_kpi/spc/point, with limits once the baseline is in", () => {
      const points = sub.on("/_kpi/spc/point").map((m) => m.json as unknown as Kpi);
      assert.ok(points.length >= 10, `${points.length} SPC points`);
      for (const k of points) {
        assert.ok(validateKpi(k), JSON.stringify(validateKpi.errors));
        assert.equal(k.period.label, "fill volume");
      }
      const monitored = points.filter((k) => (k.detail as { phase?: string } | undefined)?.phase === "monitor");
      assert.ok(monitored.length >= 1, "points past the 25-subgroup baseline");
      const v = monitored[monitored.length - 1].values;
      assert.ok(v.lcl !== null && v.ucl !== null && v.lcl < 500 && 500 < v.ucl, JSON.stringify(v));
      for (const m of sub.under("/_alarms/spc-")) assert.ok((m.json as { source?: string }).source === "spc", JSON.stringify(m.json));
    });

    it("logs no errors and no caught exceptions on a normal run", () => {
      assert.deepEqual(errorLines(pilot.log), []);
    });
  });
});
