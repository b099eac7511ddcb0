/**
 * The pilot's processing chain in one Node-RED runtime: Signal batches of 100 (the pilot's 10
 * physical tags, 10 steps of 100 ms per batch, nominal values with noise) through otb-validate
 * (the pilot's rule catalog), otb-context (line, shifts, mode from a state tag), otb-window (10 s
 * tumbling, the model's six features) and otb-infer (the pinned pilot model), against the same
 * batches through four bare change nodes. Goal: over 100,000 Signals/s (under 10 us per Signal).
 *
 * Timing starts with the first batch and ends when the last batch has left otb-context and the
 * last frame's inference has arrived. A helper tapped off otb-context paces the input: at most 64
 * batches in flight, as a live source would be.
 */
import * as fs from "fs";
import * as path from "path";
import otbContext = require("../nodes/otb-context/otb-context");
import otbInfer = require("../nodes/otb-infer/otb-infer");
import otbLine = require("../nodes/otb-line/otb-line");
import otbValidate = require("../nodes/otb-validate/otb-validate");
import otbWindow = require("../nodes/otb-window/otb-window");
import { REPO_ROOT } from "../cli/node-red-runner";
import type { Signal } from "../nodes/shared/types";
import { coreNode, initRuntime, pump } from "./flow-driver";
import { nowMs, type Benchmark, type Figure } from "./harness";

const MODEL = path.join(REPO_ROOT, "flows", "models", "pilot-pump.onnx");
const CARD = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "flows", "models", "pilot-pump.card.json"), "utf8")) as { sha256: string; features: string[] };
const RULES = path.join(REPO_ROOT, "flows", "catalog", "pilot-rules.json");
const STEPS_PER_BATCH = 10;
const STEP_MS = 100;
/** Nominal value and noise of the pilot's tags (the simulator's running pump). */
const TAGS: Array<[string, number, number, string]> = [
  ["pump1.motor.current", 2.4, 0.03, "A"],
  ["pump1.motor.voltage", 229, 1.5, "V"],
  ["pump1.motor.temperature", 85, 0.2, "°C"],
  ["pump1.discharge.pressure", 2.4, 0.02, "bar"],
  ["pump1.flow", 32, 0.3, "l/min"],
  ["pump1.fluid.temperature", 28, 0.1, "°C"],
  ["pump1.vibration.de_rms", 0.2, 0.01, "g"],
  ["pump1.vibration.nde_rms", 0.25, 0.01, "g"],
  ["line.state_code", 1, 0, ""],
  ["line.part_count", 0, 0, "parts"],
];
// Source time a day back, so that nothing is "in the future" for otb-window.
const T0 = Math.floor((Date.now() - 86_400_000) / 10_000) * 10_000;

function pilotBatch(i: number): Signal[] {
  const out: Signal[] = [];
  for (let step = 0; step < STEPS_PER_BATCH; step++) {
    const n = i * STEPS_PER_BATCH + step;
    const ts = T0 + n * STEP_MS;
    for (let k = 0; k < TAGS.length; k++) {
      const [tag, nominal, noise, unit] = TAGS[k];
      const value = tag === "line.part_count" ? n : nominal + noise * Math.sin(n * 12.9898 + k * 78.233);
      const s: Signal = { tag, value, ts, quality: "good", source: { protocol: "sim", address: tag } };
      if (unit) s.unit = unit;
      out.push(s);
    }
  }
  return out;
}

const LINE = {
  id: "line", type: "otb-line", enterprise: "acme", site: "plant1", area: "pumps", line: "line1", timeZone: "Europe/Berlin",
  shifts: [{ name: "early", start: "06:00", end: "14:00" }, { name: "late", start: "14:00", end: "22:00" }, { name: "night", start: "22:00", end: "06:00" }],
};

function flow(): Array<Record<string, unknown>> {
  const change = (id: string, next: string): Record<string, unknown> => ({ id, z: "f", type: "change", rules: [{ t: "set", p: "topic", pt: "msg", to: id, tot: "str" }], wires: [[next]] });
  return [
    { id: "f", type: "tab" },
    LINE,
    { id: "v", z: "f", type: "otb-validate", rulesFrom: "file", catalogFile: RULES, unknownTags: "pass", summaryInterval: "0", wires: [["c"], ["quarantine"], []] },
    { id: "quarantine", z: "f", type: "helper" },
    { id: "c", z: "f", type: "otb-context", line: "line", asset: "pump1", modeSource: "state", modeTag: "line.state_code", stateMap: [{ value: "1", mode: "running" }], persist: false, wires: [["w", "tap"], []] },
    { id: "tap", z: "f", type: "helper" },
    { id: "w", z: "f", type: "otb-window", windowName: "pump1", mode: "tumbling", length: "10", hop: "10", features: CARD.features, missing: "hold", lateTolerance: "1", closeOnWallClock: false, wires: [["i"], []] },
    { id: "i", z: "f", type: "otb-infer", modelPath: MODEL, sha256: CARD.sha256, threads: "1", maxQueue: "1000", maxBatch: "32", raiseAfter: "3", clearAfter: "5", hotReload: false, wires: [["scored"], ["events"]] },
    { id: "scored", z: "f", type: "helper" },
    { id: "events", z: "f", type: "helper" },
    change("ch1", "ch2"), change("ch2", "ch3"), change("ch3", "ch4"), change("ch4", "raw"),
    { id: "raw", z: "f", type: "helper" },
  ];
}

/** Sends `batches` pilot batches into otb-validate; resolves with the ms until every batch left otb-context and `frames` inferences arrived. */
function drive(helper: ReturnType<typeof initRuntime>, first: number, batches: number, frames: number): Promise<number> {
  const input = helper.getNode("v");
  const tap = helper.getNode("tap");
  const scored = helper.getNode("scored");
  return new Promise((resolve) => {
    let sent = 0;
    let through = 0;
    let inferred = 0;
    const start = nowMs();
    const finish = (): void => {
      if (through < batches || inferred < frames) return;
      tap.removeAllListeners("input");
      scored.removeAllListeners("input");
      resolve(nowMs() - start);
    };
    const more = (): void => {
      while (sent < batches && sent - through < 64) input.receive({ payload: pilotBatch(first + sent++) });
    };
    tap.on("input", () => {
      through++;
      more();
      finish();
    });
    scored.on("input", () => {
      inferred++;
      finish();
    });
    more();
  });
}

function modelInService(helper: ReturnType<typeof initRuntime>): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("otb-infer did not load the pilot model within 30 s")), 30_000);
    helper.getNode("events").on("input", (msg: unknown) => {
      if ((msg as { payload?: { kind?: string } }).payload?.kind !== "model") return;
      clearTimeout(timer);
      resolve();
    });
  });
}

const bench: Benchmark = {
  name: "pipeline",
  description: "Signal batches of 100: otb-validate -> otb-context -> otb-window -> otb-infer vs four bare change nodes",
  runs: 3,
  async run(opts) {
    const batches = opts.quick ? 1000 : 5000;
    const helper = initRuntime();
    await helper.load([otbLine, otbValidate, otbContext, otbWindow, otbInfer, coreNode("function/15-change")] as Array<(RED: unknown) => void>, flow());
    try {
      // The model loads (hash check, child-process parse) before the first frame can be scored.
      await modelInService(helper);
      const framesPer = (n: number): number => Math.floor((n * STEPS_PER_BATCH * STEP_MS) / 10_000) - 1;
      // Warm-up (JIT, rule windows, model session), then the measured run.
      let quarantined = 0;
      helper.getNode("quarantine").on("input", (msg: unknown) => {
        quarantined += ((msg as { payload?: unknown[] }).payload ?? []).length;
      });
      await drive(helper, 0, 300, framesPer(300));
      const packMs = await drive(helper, 300, batches, framesPer(batches));
      let seq = 0;
      await pump("ch1", "raw", 300, () => ({ payload: pilotBatch(seq++) }));
      const rawMs = await pump("ch1", "raw", batches, () => ({ payload: pilotBatch(seq++) }));
      const signals = batches * STEPS_PER_BATCH * TAGS.length;
      const figures: Figure[] = [
        { name: "signals/s end to end, batches of 100", unit: "signals/s", pack: (signals / packMs) * 1000, raw: (signals / rawMs) * 1000, higherIsBetter: true, note: `raw: 4 change nodes; ${quarantined} of ${signals + 300 * STEPS_PER_BATCH * TAGS.length} quarantined` },
        { name: "time per Signal end to end", unit: "us", pack: (packMs * 1000) / signals, raw: (rawMs * 1000) / signals, higherIsBetter: false, note: "goal < 10 us" },
      ];
      return figures;
    } finally {
      await helper.unload();
    }
  },
};

export = bench;
