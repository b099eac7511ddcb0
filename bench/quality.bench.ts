/**
 * Data quality and context on the hot path: Signal batches of 100 (100 tags, 1 Hz each, every
 * rule on: type, unit, range, rate, stale, flatline, spike, drift) through otb-validate and then
 * otb-context (line identity, shift calendar, threshold mode), against a bare core change node
 * passing the same kind of batches in the same runtime. Also the two engines without Node-RED,
 * against ajv's envelope check alone. Goal: both nodes together under 3 us per Signal.
 */
import otbContext = require("../nodes/otb-context/otb-context");
import otbLine = require("../nodes/otb-line/otb-line");
import otbValidate = require("../nodes/otb-validate/otb-validate");
import { parseRules, type TagRule } from "../nodes/otb-validate/catalog";
import { QualityEngine } from "../nodes/otb-validate/engine";
import { createModeDeriver } from "../nodes/otb-context/mode";
import { ContextStamper } from "../nodes/otb-context/stamper";
import { ShiftCalendar, validateSignal, type ContextEvent, type Signal } from "../nodes/shared";
import { coreNode, initRuntime, pump } from "./flow-driver";
import { nowMs, type Benchmark, type Figure } from "./harness";

const SIZE = 100;
const TAGS = Array.from({ length: SIZE }, (_, k) => `pump${k >> 3}.sensor${k & 7}`);
const T0 = Date.UTC(2026, 5, 10, 4, 0);

function rule(tag: string): TagRule {
  return {
    tag, type: "number", unit: "bar",
    range: { badBelow: 0, uncertainBelow: 40, uncertainAbove: 60, badAbove: 100 },
    maxRatePerSec: 10, staleMs: 60_000,
    flatline: { epsilon: 0, forMs: 60_000 },
    spike: { window: 31, threshold: 8, minDeviation: 3 },
    drift: { mean: 50, sigma: 1, baselineSamples: 300, lambda: 0.02, limit: 5 },
  };
}

/** Batch i: every tag once, one second after batch i-1, normal noise (cheap and deterministic). */
function batch(i: number): Signal[] {
  const out = new Array<Signal>(SIZE);
  for (let k = 0; k < SIZE; k++) {
    const noise = Math.sin(i * 12.9898 + k * 78.233) * 1.2 + Math.sin(i * 0.37 + k) * 0.5;
    out[k] = { tag: TAGS[k], value: 50 + noise, ts: T0 + i * 1000, quality: "good", unit: "bar", source: { protocol: "sim", address: TAGS[k] } };
  }
  return out;
}

const LINE = {
  id: "line", type: "otb-line", enterprise: "acme", site: "plant1", area: "pumps", line: "line1", timeZone: "Europe/Berlin",
  shifts: [{ name: "early", start: "06:00", end: "14:00" }, { name: "late", start: "14:00", end: "22:00" }, { name: "night", start: "22:00", end: "06:00" }],
};

async function throughNodeRed(batches: number): Promise<{ packMs: number; raw2Ms: number; rawMs: number; validateMs: number; contextMs: number }> {
  const helper = initRuntime();
  const rules = TAGS.map(rule);
  const flow = [
    { id: "f", type: "tab" },
    LINE,
    { id: "v", z: "f", type: "otb-validate", rulesFrom: "table", rules, summaryInterval: "0", wires: [["c"], [], []] },
    { id: "c", z: "f", type: "otb-context", line: "line", modeSource: "threshold", modeTag: TAGS[0], threshold: "1", persist: false, wires: [["out1"], []] },
    { id: "out1", z: "f", type: "helper" },
    { id: "v2", z: "f", type: "otb-validate", rulesFrom: "table", rules, summaryInterval: "0", wires: [["outV"], [], []] },
    { id: "outV", z: "f", type: "helper" },
    { id: "c2", z: "f", type: "otb-context", line: "line", modeSource: "threshold", modeTag: TAGS[0], threshold: "1", persist: false, wires: [["outC"], []] },
    { id: "outC", z: "f", type: "helper" },
    { id: "chg", z: "f", type: "change", rules: [{ t: "set", p: "topic", pt: "msg", to: "x", tot: "str" }], wires: [["out2"]] },
    { id: "out2", z: "f", type: "helper" },
    // The floor for two pack nodes is two change-node hops.
    { id: "chgA", z: "f", type: "change", rules: [{ t: "set", p: "topic", pt: "msg", to: "x", tot: "str" }], wires: [["chgB"]] },
    { id: "chgB", z: "f", type: "change", rules: [{ t: "set", p: "topic", pt: "msg", to: "y", tot: "str" }], wires: [["out3"]] },
    { id: "out3", z: "f", type: "helper" },
  ];
  await helper.load([otbLine, otbValidate, otbContext, coreNode("function/15-change")] as Array<(RED: unknown) => void>, flow);
  let seq = 0;
  const make = (): Record<string, unknown> => ({ payload: batch(seq++) });
  await pump("v", "out1", 300, make); // warm-up: JIT, and the spike windows fill
  await pump("chg", "out2", 300, make);
  await pump("chgA", "out3", 300, make);
  await pump("v2", "outV", 300, make);
  await pump("c2", "outC", 300, make);
  const rawMs = await pump("chg", "out2", batches, make);
  const raw2Ms = await pump("chgA", "out3", batches, make);
  const packMs = await pump("v", "out1", batches, make);
  const validateMs = await pump("v2", "outV", batches, make);
  const contextMs = await pump("c2", "outC", batches, make);
  await helper.unload();
  return { packMs, raw2Ms, rawMs, validateMs, contextMs };
}

/** Both engines without Node-RED (validate, then stamp what passed), against ajv's envelope check alone. */
function enginesOnly(batches: number): { engineMs: number; ajvMs: number } {
  const engine = new QualityEngine({ rules: parseRules(TAGS.map(rule)) });
  const calendar = new ShiftCalendar(LINE.timeZone, LINE.shifts);
  const stamper = new ContextStamper({
    identity: { enterprise: LINE.enterprise, site: LINE.site, area: LINE.area, line: LINE.line },
    shiftAt: (ts) => calendar.at(ts),
    mode: createModeDeriver({ kind: "threshold", tag: TAGS[0], threshold: 1, hysteresis: 0 }),
  });
  const events: ContextEvent[] = [];
  const pre = Array.from({ length: 200 }, (_, i) => batch(i));
  for (const b of pre) stamper.stamp(engine.processBatch(b).passed, events);
  const ajvBatches = Array.from({ length: batches }, (_, i) => batch(200 + i));
  const engineBatches = Array.from({ length: batches }, (_, i) => batch(200 + i));
  let t = nowMs();
  let ok = 0;
  for (const b of ajvBatches) for (let k = 0; k < b.length; k++) if (validateSignal(b[k])) ok++;
  const ajvMs = nowMs() - t;
  t = nowMs();
  for (const b of engineBatches) stamper.stamp(engine.processBatch(b).passed, events);
  const engineMs = nowMs() - t;
  if (ok !== batches * SIZE) throw new Error("benchmark batches are not valid Signals");
  return { engineMs, ajvMs };
}

const bench: Benchmark = {
  name: "quality",
  description: "batches of 100 Signals, all rules on: otb-validate -> otb-context vs a bare change node",
  async run(opts) {
    const batches = opts.quick ? 500 : 3000;
    const { packMs, raw2Ms, rawMs, validateMs, contextMs } = await throughNodeRed(batches);
    const { engineMs, ajvMs } = enginesOnly(batches);
    const n = batches * SIZE;
    const us = (ms: number): number => (ms * 1000) / n;
    const figures: Figure[] = [
      { name: "validate+context signals/s", unit: "signals/s", pack: (n / packMs) * 1000, raw: (n / raw2Ms) * 1000, higherIsBetter: true, note: "raw: two change-node hops" },
      { name: "validate+context us per Signal", unit: "us", pack: us(packMs), raw: us(raw2Ms), higherIsBetter: false, note: "goal: pack - raw < 3 us" },
      { name: "otb-validate alone us per Signal", unit: "us", pack: us(validateMs), raw: us(rawMs), higherIsBetter: false },
      { name: "otb-context alone us per Signal", unit: "us", pack: us(contextMs), raw: us(rawMs), higherIsBetter: false },
      { name: "both engines, no Node-RED, us per Signal", unit: "us", pack: us(engineMs), raw: us(ajvMs), higherIsBetter: false, note: "raw: ajv envelope check alone; batches made beforehand" },
    ];
    return figures;
  },
};

export = bench;
