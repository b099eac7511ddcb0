/**
 * The line without protocols: physics coupling, schedule, seeded reproducibility, and every
 * sensor fault showing exactly inside its label window (compared with a fault-free twin run
 * on the same seed, whose noise stream is independent of the fault schedule).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LabelWriter, readLabels } from "../../cli/sim/labels";
import { Line, type Sample } from "../../cli/sim/line";
import { LineModel } from "../../cli/sim/model";
import { Rng } from "../../cli/sim/rng";
import { DEFAULT_PLAN, findScenario, type FaultKind, type ScenarioDef } from "../../cli/sim/scenarios";
import { sampleToSignals } from "../../cli/sim/signals";
import { findTag } from "../../cli/sim/tags";
import { validateSignal } from "../../nodes/shared/schemas";

const START = Date.UTC(2026, 0, 5, 6, 0, 0);

function run(scenario: ScenarioDef, seed: number, steps: number, labels = new LabelWriter()): { samples: Sample[]; labels: LabelWriter } {
  const line = new Line({ seed, scenario, startTs: START, labels, plan: DEFAULT_PLAN });
  const samples: Sample[] = [line.step(START, 0)];
  for (let i = 1; i <= steps; i++) samples.push(line.step(START + i * 1000, 1000));
  return { samples, labels };
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function stepModel(model: LineModel, seconds: number, tag: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < seconds; i++) out.push(model.step(1000)[tag] as number);
  return out;
}

describe("sim: line model", () => {
  it("reproduces values and faults exactly for a seed, and differs for another seed", () => {
    const mixed = findScenario("mixed")!;
    const a = run(mixed, 42, 1800);
    const b = run(mixed, 42, 1800);
    const c = run(mixed, 43, 1800);
    assert.deepStrictEqual(a.samples.map((s) => s.values), b.samples.map((s) => s.values));
    assert.deepStrictEqual(a.labels.all(), b.labels.all());
    assert.ok(a.labels.all().length >= 3, "30 minutes of the mixed scenario holds several faults");
    assert.notDeepStrictEqual(a.samples[100].values, c.samples[100].values);
    assert.notDeepStrictEqual(a.labels.all().map((l) => l.fault), c.labels.all().map((l) => l.fault));
  });

  it("closing the discharge valve cuts flow, raises pressure and lowers motor current", () => {
    const model = new LineModel(Rng.derive(1, "noise"));
    const before = { flow: mean(stepModel(model, 60, "pump1.flow")), p: 0, i: 0 };
    before.p = mean(stepModel(model, 60, "pump1.discharge.pressure"));
    before.i = mean(stepModel(model, 60, "pump1.motor.current"));
    model.disturb.valveCommand = 0.2;
    stepModel(model, 60, "pump1.flow"); // the actuator needs a few seconds
    const after = { flow: mean(stepModel(model, 60, "pump1.flow")), p: mean(stepModel(model, 60, "pump1.discharge.pressure")), i: mean(stepModel(model, 60, "pump1.motor.current")) };
    assert.ok(after.flow < 0.5 * before.flow, `flow ${before.flow} -> ${after.flow}`);
    assert.ok(after.p > before.p + 0.3, `pressure ${before.p} -> ${after.p}`);
    assert.ok(after.i < before.i - 0.3, `current ${before.i} -> ${after.i}`);
    // Plausible magnitudes (SKAB testbed scale).
    assert.ok(before.flow > 28 && before.flow < 36 && before.i > 2 && before.i < 3, JSON.stringify(before));
  });

  it("bearing wear raises vibration, motor current and motor temperature", () => {
    const model = new LineModel(Rng.derive(2, "noise"));
    const vib0 = mean(stepModel(model, 120, "pump1.vibration.de_rms"));
    const cur0 = mean(stepModel(model, 120, "pump1.motor.current"));
    const temp0 = model.step(1000)["pump1.motor.temperature"] as number;
    model.disturb.bearingWear = 0.8;
    stepModel(model, 1800, "pump1.motor.temperature");
    const vib1 = mean(stepModel(model, 120, "pump1.vibration.de_rms"));
    const cur1 = mean(stepModel(model, 120, "pump1.motor.current"));
    const temp1 = model.step(1000)["pump1.motor.temperature"] as number;
    assert.ok(vib1 > 2 * vib0, `vibration ${vib0} -> ${vib1}`);
    assert.ok(cur1 > cur0 + 0.1, `current ${cur0} -> ${cur1}`);
    assert.ok(temp1 > temp0 + 3, `motor temperature ${temp0} -> ${temp1}`);
  });

  it("runs the batch schedule: changeover, idle, running, new product and batch, maintenance", () => {
    const model = new LineModel(Rng.derive(3, "noise"), { batchMs: 60_000, changeoverMs: 20_000, idleMs: 10_000, maintenanceMs: 30_000, maintenanceEvery: 2 });
    const seen: string[] = [];
    const products = new Set<string>();
    const batches = new Set<string>();
    let lastParts = 0;
    let since = 0;
    for (let i = 0; i < 400; i++) {
      const v = model.step(1000);
      since = seen[seen.length - 1] === v["line.state"] ? since + 1 : 0;
      // Half a minute into maintenance or idle the pump has coasted down.
      if ((v["line.state"] === "maintenance" || v["line.state"] === "idle") && since > 30) assert.ok((v["pump1.flow"] as number) < 1, `flow ${v["pump1.flow"]} while ${v["line.state"]}`);
      if (seen[seen.length - 1] !== v["line.state"]) seen.push(v["line.state"] as string);
      products.add(v["line.product"] as string);
      batches.add(v["line.batch"] as string);
      assert.ok((v["line.part_count"] as number) >= lastParts, "the part counter never goes back");
      lastParts = v["line.part_count"] as number;
    }
    assert.deepStrictEqual(seen.slice(0, 7), ["running", "changeover", "idle", "running", "maintenance", "idle", "running"]);
    assert.ok(products.size >= 2 && batches.size >= 3, `${[...products]} ${[...batches]}`);
    assert.ok(lastParts > 10);
  });

  const sensorFaults: FaultKind[] = ["sensor_drift", "stuck_sensor", "spike", "nan", "out_of_range", "sensor_failure"];
  for (const kind of sensorFaults) {
    it(`${kind}: changes only the labelled tag, only inside the label window`, () => {
      const scenario: ScenarioDef = { name: `only-${kind}`, description: "", kinds: [kind] };
      const seed = 11;
      const faulty = run(scenario, seed, 3 * 3600);
      const twin = run(findScenario("normal")!, seed, 3 * 3600);
      const labels = faulty.labels.all();
      assert.ok(labels.length >= 3, `3 hours hold several ${kind} faults, got ${labels.length}`);
      const inWindow = (tag: string, ts: number): boolean => labels.some((l) => l.tag === tag && ts >= l.start && ts < l.end);
      let changedInside = 0;
      faulty.samples.forEach((s, i) => {
        const t = twin.samples[i];
        for (const [tag, v] of Object.entries(s.values)) {
          const same = Object.is(v, t.values[tag]);
          if (!inWindow(tag, s.ts)) assert.ok(same, `${tag} at ${s.ts} changed outside any ${kind} label`);
          else if (!same) changedInside++;
        }
        for (const tag of s.bad.keys()) assert.ok(inWindow(tag, s.ts) && kind === "sensor_failure", `${tag} bad outside its label`);
      });
      const lastTs = faulty.samples[faulty.samples.length - 1].ts;
      for (const l of labels.filter((x) => x.end <= lastTs)) {
        const inside = faulty.samples.filter((s) => s.ts >= l.start && s.ts < l.end);
        const twinInside = twin.samples.filter((s) => s.ts >= l.start && s.ts < l.end);
        const vals = inside.map((s) => s.values[l.tag] as number);
        const def = findTag(l.tag)!;
        switch (kind) {
          case "nan":
            assert.ok(vals.every((v) => Number.isNaN(v)));
            break;
          case "stuck_sensor":
          case "sensor_failure":
            assert.ok(vals.every((v) => v === vals[0]), "flatline");
            if (kind === "sensor_failure") assert.ok(inside.every((s) => s.bad.get(l.tag) === "BadSensorFailure"));
            break;
          case "out_of_range":
            assert.ok(vals.every((v) => v > def.range!.high || v < def.range!.low), `${l.tag} ${vals[0]} outside ${JSON.stringify(def.range)}`);
            break;
          case "spike": {
            const jumps = vals.filter((v, i) => Math.abs(v - (twinInside[i].values[l.tag] as number)) > 0.15 * (def.range!.high - def.range!.low));
            assert.ok(jumps.length >= Math.floor(vals.length / 5), `${jumps.length} spikes in ${vals.length} samples`);
            break;
          }
          case "sensor_drift": {
            const last = vals.length - 1;
            const offset = vals[last] - (twinInside[last].values[l.tag] as number);
            const expected = Number(l.params!.driftAtEnd);
            assert.ok(Math.abs(offset - expected) < Math.abs(expected) * 0.05, `drift ${offset} vs ${expected}`);
            const early = vals[1] - (twinInside[1].values[l.tag] as number);
            assert.ok(Math.abs(early) < Math.abs(expected) * 0.05, "a drift starts small");
            break;
          }
        }
      }
      assert.ok(changedInside > 0);
    });
  }

  for (const [kind, effect] of [
    ["valve_closing", "flow falls below 70 % of the fault-free twin"],
    ["bearing_wear", "drive-end vibration rises above 130 % of the twin"],
  ] as const) {
    it(`${kind}: ${effect} inside the label window, and nothing differs before it`, () => {
      const scenario: ScenarioDef = { name: kind, description: "", kinds: [kind] };
      const faulty = run(scenario, 21, 2 * 3600);
      const twin = run(findScenario("normal")!, 21, 2 * 3600);
      const lastTs = faulty.samples[faulty.samples.length - 1].ts;
      const labels = faulty.labels.all().filter((l) => l.end <= lastTs);
      assert.ok(labels.length >= 1);
      const first = labels[0];
      faulty.samples.filter((s) => s.ts < first.start).forEach((s, i) => assert.deepStrictEqual(s.values, twin.samples[i].values));
      let judged = 0;
      for (const l of labels) {
        // Judge the last fifth of the window: the valve has closed, the wear has grown.
        // Only while the line runs: a stopped pump has no flow to cut.
        const late = faulty.samples.filter((s) => s.ts >= l.end - (l.end - l.start) / 5 && s.ts < l.end && s.values["line.state"] === "running");
        if (late.length < 10) continue;
        judged++;
        const ratio = (tag: string): number => mean(late.map((s) => s.values[tag] as number)) / mean(late.map((s) => twin.samples[(s.ts - START) / 1000].values[tag] as number));
        if (kind === "valve_closing") {
          assert.ok(ratio("pump1.flow") < 0.7, `flow ratio ${ratio("pump1.flow")}`);
          assert.ok(ratio("pump1.discharge.pressure") > 1.1, `pressure ratio ${ratio("pump1.discharge.pressure")}`);
        } else assert.ok(ratio("pump1.vibration.de_rms") > 1.3, `vibration ratio ${ratio("pump1.vibration.de_rms")}`);
      }
      assert.ok(judged >= 1, "at least one fault window fell into running time");
    });
  }

  it("turns samples into schema-valid Signals, Bad status as quality bad with an opcua: reason", () => {
    const { samples } = run({ name: "f", description: "", kinds: ["sensor_failure"] }, 11, 600);
    const failed = samples.find((s) => s.bad.size > 0)!;
    assert.ok(failed, "a sensor failure within 10 minutes");
    const signals = sampleToSignals(failed);
    assert.strictEqual(signals.length, 15);
    for (const sig of signals) assert.ok(validateSignal(sig), `${sig.tag}: ${JSON.stringify(validateSignal.errors)}`);
    const [tag, status] = [...failed.bad.entries()][0];
    const bad = signals.find((s) => s.tag === tag)!;
    assert.strictEqual(bad.quality, "bad");
    assert.deepStrictEqual(bad.reasons, [`opcua:${status}`]);
    assert.strictEqual(signals.find((s) => s.tag === "pump1.motor.current")!.unit, "A");
  });

  it("writes each label to the file when the fault starts, before it ends", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "otb-sim-labels-")), "labels.jsonl");
    const writer = new LabelWriter(file);
    const line = new Line({ seed: 5, scenario: findScenario("valve-closing")!, startTs: START, labels: writer });
    let ts = START;
    line.step(ts, 0);
    while (line.faults.activeFaults.length === 0) line.step((ts += 1000), 1000);
    const onFile = readLabels(file);
    assert.strictEqual(onFile.length, 1);
    assert.strictEqual(onFile[0].fault, "valve_closing");
    assert.strictEqual(onFile[0].start, ts);
    assert.ok(onFile[0].end > ts);
    assert.strictEqual(onFile[0].startIso, new Date(ts).toISOString());
    writer.close();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
