/**
 * The pilot catalog against the simulator's own line (physics, batch schedule and fault engine,
 * stepped in-process at 1 Hz, no protocol): each fault the simulator labels is caught by the rule
 * meant for it, on the labelled tag, within the rule's delay; the normal scenario's false alarms
 * per hour are measured and bounded.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { LabelWriter, type Label } from "../../cli/sim/labels";
import { Line } from "../../cli/sim/line";
import { findScenario } from "../../cli/sim/scenarios";
import { parseCatalog, type TagRule } from "../../nodes/otb-validate/catalog";
import { QualityEngine } from "../../nodes/otb-validate/engine";
import type { Signal } from "../../nodes/shared";

const CATALOG = path.resolve(__dirname, "..", "..", "..", "flows", "catalog", "pilot-rules.json");
const RULES = parseCatalog(JSON.parse(fs.readFileSync(CATALOG, "utf8")));
const BY_TAG = new Map<string, TagRule>(RULES.map((r) => [r.tag, r]));
const START = Date.UTC(2026, 5, 10, 6);

interface Run {
  labels: Label[];
  /** Per tag, the Signals in time order, as otb-validate stamped them. */
  byTag: Map<string, Signal[]>;
  hours: number;
}

function run(scenario: string, minutes: number, seed: number): Run {
  const labels = new LabelWriter();
  const line = new Line({ seed, scenario: findScenario(scenario)!, startTs: START, labels });
  let now = START;
  const engine = new QualityEngine({ rules: RULES, now: () => now });
  const byTag = new Map<string, Signal[]>(RULES.map((r) => [r.tag, []]));
  for (let ts = START; ts < START + minutes * 60_000; ts += 1000) {
    now = ts;
    const sample = line.step(ts, 1000);
    const batch: Signal[] = RULES.map((r) => {
      const s: Signal = { tag: r.tag, value: sample.values[r.tag] as number, ts, quality: "good", source: { protocol: "sim", address: r.tag } };
      const status = sample.bad.get(r.tag);
      if (status) Object.assign(s, { quality: "bad", reasons: [`opcua:${status}`] });
      return s;
    });
    engine.processBatch(batch);
    for (const s of batch) byTag.get(s.tag)!.push(s);
  }
  return { labels: labels.all(), byTag, hours: minutes / 60 };
}

/** Seconds from the label's start to the first Signal of its tag with `reason`, or null if none in the fault. */
function delayOf(r: Run, label: Label, reason: string): number | null {
  const hit = r.byTag.get(label.tag)!.find((s) => s.ts >= label.start && s.ts < label.end + 1000 && s.reasons?.includes(reason));
  return hit ? (hit.ts - label.start) / 1000 : null;
}

const cases: Array<{ scenario: string; reason: string; applies: (rule: TagRule) => boolean; maxDelayS: (rule: TagRule) => number; seed?: number }> = [
  { scenario: "out-of-range", reason: "out_of_range", applies: (r) => !!r.range, maxDelayS: () => 1 },
  { scenario: "nan-values", reason: "not_finite", applies: () => true, maxDelayS: () => 1 },
  { scenario: "spikes", reason: "spike", applies: (r) => !!r.spike, maxDelayS: () => 1 },
  { scenario: "stuck-sensor", reason: "flatline", applies: (r) => !!r.flatline, maxDelayS: (r) => r.flatline!.forMs / 1000 + 1 },
  { scenario: "sensor-failure", reason: "opcua:BadSensorFailure", applies: () => true, maxDelayS: () => 1 },
  // Seed 1 drifts the motor voltage (the pilot's drift-watched tag) by -49 V over 9.5 min.
  { scenario: "sensor-drift", reason: "drift", applies: (r) => !!r.drift, maxDelayS: () => 120, seed: 1 },
];

describe("pilot catalog on the simulator's fault scenarios", function () {
  this.timeout(60_000);

  for (const c of cases) {
    it(`${c.scenario}: ${c.reason} fires on the labelled tag within its delay`, () => {
      const r = run(c.scenario, 60, c.seed ?? 11);
      const labels = r.labels.filter((l) => BY_TAG.has(l.tag));
      assert.ok(labels.length > 0, "the scenario produced faults on catalog tags");
      const covered = labels.filter((l) => c.applies(BY_TAG.get(l.tag)!));
      const delays = covered.map((l) => [l.tag, delayOf(r, l, c.reason)] as const);
      console.log(`      ${c.scenario}: ${labels.length} fault(s), ${covered.length} on tags with the rule; delays (s) ${JSON.stringify(delays)}`);
      for (const [tag, delay] of delays) {
        assert.notEqual(delay, null, `${c.reason} never fired for the fault on ${tag}`);
        assert.ok(delay! <= c.maxDelayS(BY_TAG.get(tag)!), `${c.reason} on ${tag} took ${delay} s`);
      }
      assert.ok(covered.length > 0, "at least one fault hit a tag with the rule");
      if (c.reason === "drift") {
        for (const l of covered) assert.ok(delayOf(r, l, "drift")! < delayOf(r, l, "out_of_range")!, "drift is flagged before the value leaves its band");
      }
    });
  }

  it("normal scenario: false alarms per hour, through batches, changeovers, idle and maintenance", () => {
    const r = run("normal", 8 * 60, 5);
    const episodes: Record<string, number> = {};
    for (const signals of r.byTag.values()) {
      signals.forEach((s, i) => {
        for (const reason of s.reasons ?? []) if (!signals[i - 1]?.reasons?.includes(reason)) episodes[`${s.tag}:${reason}`] = (episodes[`${s.tag}:${reason}`] ?? 0) + 1;
      });
    }
    const total = Object.values(episodes).reduce((a, b) => a + b, 0);
    console.log(`      normal: ${r.hours} h simulated, ${(total / r.hours).toFixed(2)} false alarms per hour for the line; by tag and rule ${JSON.stringify(episodes)}`);
    assert.ok(total / r.hours <= 1, `${total} false alarms in ${r.hours} h`);
  });
});
