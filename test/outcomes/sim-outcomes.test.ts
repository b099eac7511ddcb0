import { strict as assert } from "assert";
import { LabelWriter } from "../../cli/sim/labels";
import { OUTCOME_FAULTS, OUTCOME_SCENARIOS, PartsProducer } from "../../cli/sim/outcomes";
import { ShiftCalendar } from "../../nodes/shared/shift-calendar";
import { OeeEngine } from "../../nodes/shared/outcomes/oee";
import { ControlChart } from "../../nodes/shared/outcomes/spc-chart";
import { OeeInput } from "../../nodes/otb-oee/oee-input";
import type { Signal } from "../../nodes/shared";

const T0 = Date.UTC(2026, 5, 10, 6, 0);

function run(name: string, hours: number, seed = 11): { labels: ReturnType<LabelWriter["all"]>; steps: Signal[][] } {
  const labels = new LabelWriter();
  const p = new PartsProducer(OUTCOME_SCENARIOS.find((s) => s.name === name)!, seed, T0, labels);
  const steps: Signal[][] = [];
  for (let t = 1; t <= hours * 3600; t++) steps.push(p.step(T0 + t * 1000, 1000).signals);
  return { labels: labels.all(), steps };
}

describe("simulator outcomes (filling station)", () => {
  it("labels every outcome fault kind in the mixed scenario, reproducibly", () => {
    const a = run("outcomes-mixed", 3);
    const b = run("outcomes-mixed", 3);
    assert.deepEqual(a.labels, b.labels, "same seed, same schedule");
    assert.deepEqual([...new Set(a.labels.map((l) => l.fault))].sort(), [...OUTCOME_FAULTS].sort());
  });

  it("common-cause fill volume is in control; a labelled mean shift moves the mean by 1.5 sigma and SPC sees it", () => {
    const { labels, steps } = run("mean-shift", 1);
    const shift = labels[0];
    const vols = steps.flat().filter((s) => s.tag === "filler.volume");
    const inside = vols.filter((s) => s.ts >= shift.start && s.ts < shift.end).map((s) => s.value as number);
    const before = vols.filter((s) => s.ts < shift.start).map((s) => s.value as number);
    const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;
    assert.ok(Math.abs(mean(before) - 500) < 0.1, `baseline mean ${mean(before)}`);
    assert.ok(Math.abs(Math.abs(mean(inside) - 500) - 0.75) < 0.1, `shifted mean ${mean(inside)}`);
    const chart = new ControlChart({ type: "xbar-r", n: 5, rules: ["nelson1", "nelson2"], baselinePoints: 10 });
    let firstAlarm = Infinity;
    for (const s of vols) {
      const r = chart.addValue(s.value as number, s.ts);
      if (r.point && r.point.violations.length && s.ts >= shift.start) firstAlarm = Math.min(firstAlarm, s.ts);
    }
    assert.ok(firstAlarm < shift.start + 60_000, `detected within a minute of the shift (at +${(firstAlarm - shift.start) / 1000} s)`);
  });

  it("breakdowns carry a fault code that becomes the OEE downtime reason, and counters only go up", () => {
    const { labels, steps } = run("breakdowns", 2);
    const engine = new OeeEngine({ calendar: new ShiftCalendar("UTC", [{ name: "day", start: "06:00", end: "14:00" }]), idealCycleSec: 1, maxGapSec: 10, microStopSec: 120 });
    const input = new OeeInput(engine, { stateFrom: "tag", tags: { state: "line.oee_state", fault: "line.fault_code", total: "line.parts_total", good: "", reject: "line.parts_reject", energy: "" } });
    let last = -1;
    for (const batch of steps) {
      assert.deepEqual(input.handle(batch), []);
      const total = batch.find((s) => s.tag === "line.parts_total")!.value as number;
      assert.ok(total >= last);
      last = total;
    }
    const t = engine.current().shift!.tally;
    const coded = labels.map((l) => String(l.params!.code));
    for (const code of coded) assert.ok(t.downtime[code], `downtime by reason has ${code}`);
    const endOfRun = T0 + 2 * 3600_000;
    const labelled = labels.reduce((a, l) => a + (Math.min(l.end, endOfRun) - l.start), 0);
    const down = Object.entries(t.downtime).filter(([k]) => coded.includes(k)).reduce((a, [, v]) => a + v.ms, 0);
    assert.ok(Math.abs(down - labelled) <= 2000 * labels.length, `downtime ${down} ms vs labelled ${labelled} ms`);
  });

  it("micro-stops show as minor stops, planned breaks as idle time with no parts", () => {
    const micro = run("micro-stops", 1);
    const states = micro.steps.flat().filter((s) => s.tag === "line.oee_state").map((s) => s.value);
    assert.ok(states.includes("idle") && states.includes("running"));
    const brk = run("planned-breaks", 1);
    const l = brk.labels[0];
    const partsInBreak = brk.steps.flat().filter((s) => s.tag === "filler.volume" && s.ts > l.start + 1000 && s.ts < l.end);
    assert.equal(partsInBreak.length, 0);
  });
});

describe("simulator outcomes over MQTT", function () {
  this.timeout(120_000);
  it("publishes one JSON message per part and a status per step, mappable by otb-mqtt-in", async () => {
    const { startSimulator, fillerPartTopic, fillerStatusTopic } = await import("../../cli/sim");
    const mqtt = await import("mqtt");
    const sim = await startSimulator({ seed: 3, speed: 20, outcomes: "outcomes-normal", mqttPort: 0, protocols: { opcua: false, modbus: false, mqtt: true } });
    const client = await mqtt.connectAsync(sim.mqttUrl!);
    try {
      const seen: Record<string, Array<Record<string, unknown>>> = { part: [], status: [] };
      client.on("message", (topic, payload) => {
        const body = JSON.parse(payload.toString()) as Record<string, unknown>;
        if (topic === fillerPartTopic()) seen.part.push(body);
        if (topic === fillerStatusTopic()) seen.status.push(body);
      });
      await client.subscribeAsync("otbridge/line1/filler/#");
      const { waitFor } = await import("../helpers/peers");
      await waitFor(() => seen.part.length >= 5 && seen.status.length >= 3, 30_000);
      assert.equal(typeof seen.part[0].volume, "number");
      assert.ok(Math.abs((seen.part[0].volume as number) - 500) < 5);
      const st = seen.status[seen.status.length - 1];
      assert.deepEqual(Object.keys(st).sort(), ["fault_code", "parts_reject", "parts_total", "seq", "state", "ts"]);
      assert.equal(st.state, "running");
    } finally {
      await client.endAsync();
      await sim.stop();
    }
  });
});
