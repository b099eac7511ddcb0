/**
 * Cost per Signal of otb-oee and otb-spc in a Node-RED runtime, against a bare core change node
 * in the same runtime. otb-oee emits only when a period closes, and otb-spc emits one KPI per
 * point, so both paths are timed to a core Complete node (the input handler's done), the same
 * for the pack node and the change node.
 */
import otbLine = require("../nodes/otb-line/otb-line");
import otbOee = require("../nodes/otb-oee/otb-oee");
import otbSpc = require("../nodes/otb-spc/otb-spc");
import type { Signal } from "../nodes/shared";
import { coreNode, initRuntime, pump } from "./flow-driver";
import type { Benchmark, Figure } from "./harness";

const T0 = Date.UTC(2026, 5, 10, 6, 0);
const SIZE = 100;

function sig(tag: string, value: Signal["value"], ts: number): Signal {
  return { tag, value, ts, quality: "good", source: { protocol: "sim", address: tag } };
}

/** A line's batch: state, fault, counters, energy and 95 process tags, 100 ms apart per batch. */
function oeeBatch(i: number): Signal[] {
  const ts = T0 + i * 100;
  const out = [sig("line1.state", i % 600 < 570 ? "running" : "idle", ts), sig("line1.fault", 0, ts), sig("line1.total", i * 10, ts), sig("line1.reject", Math.floor(i / 10), ts), sig("meter.kwh", 1000 + i * 0.01, ts)];
  for (let k = out.length; k < SIZE; k++) out.push(sig(`pump1.tag${k}`, Math.sin(i + k), ts));
  return out;
}

function spcBatch(i: number): Signal[] {
  return Array.from({ length: SIZE }, (_, k) => sig("filler.volume", 500 + 0.5 * Math.sin(i * 7.1 + k * 1.3), T0 + (i * SIZE + k) * 10));
}

async function measure(kind: "oee" | "spc", batches: number): Promise<Figure[]> {
  const helper = initRuntime();
  const node = kind === "oee"
    ? { id: "otb", z: "f", type: "otb-oee", line: "line", stateFrom: "tag", stateTag: "line1.state", faultTag: "line1.fault", totalTag: "line1.total", rejectTag: "line1.reject",
        energyTag: "meter.kwh", counting: "total-reject", idealCycleSec: 0.01, windowEverySec: 0, followClock: false, persist: false, wires: [[], []] }
    : { id: "otb", z: "f", type: "otb-spc", line: "line", source: "form", tag: "filler.volume", chart: "xbar-r", n: 5, baselinePoints: 25, rules: "nelson1,nelson2,nelson3,nelson5,nelson6",
        lsl: 497, usl: 503, capabilityEvery: 0, persist: false, wires: [[], [], []] };
  const flow = [
    { id: "f", type: "tab" },
    { id: "line", type: "otb-line", enterprise: "acme", site: "plant1", area: "packaging", line: "line1", timeZone: "Europe/Berlin",
      shifts: [{ name: "early", start: "06:00", end: "14:00" }, { name: "late", start: "14:00", end: "22:00" }, { name: "night", start: "22:00", end: "06:00" }] },
    node,
    { id: "chg", z: "f", type: "change", rules: [{ t: "set", p: "topic", pt: "msg", to: "x", tot: "str" }], wires: [[]] },
    // One Complete node for both (the test helper loads a core module once per node using it);
    // only one path is pumped at a time.
    { id: "done", z: "f", type: "complete", scope: ["otb", "chg"], wires: [["out"]] },
    { id: "out", z: "f", type: "helper" },
  ];
  await helper.load([otbLine, otbOee, otbSpc, coreNode("function/15-change")] as Array<(RED: unknown) => void>, flow);
  const make = kind === "oee" ? (i: number) => ({ payload: oeeBatch(i) }) : (i: number) => ({ payload: spcBatch(i) });
  let offset = 0;
  const next = (i: number): Record<string, unknown> => make(offset + i);
  await pump("chg", "out", 200, next);
  await pump("otb", "out", 200, next);
  offset = 200;
  const rawMs = await pump("chg", "out", batches, next);
  const packMs = await pump("otb", "out", batches, next);
  await helper.unload();
  const signals = batches * SIZE;
  return [
    { name: `${kind}: signals/s (batches of 100)`, unit: "signals/s", pack: (signals / packMs) * 1000, raw: (signals / rawMs) * 1000, higherIsBetter: true },
    { name: `${kind}: us per Signal`, unit: "us", pack: (packMs * 1000) / signals, raw: (rawMs * 1000) / signals, higherIsBetter: false },
  ];
}

const bench: Benchmark = {
  name: "outcomes",
  description: "otb-oee and otb-spc cost per Signal (batches of 100) vs a bare change node, timed to a Complete node",
  async run(opts) {
    const batches = opts.quick ? 300 : 3000;
    return [...(await measure("oee", batches)), ...(await measure("spc", batches))];
  },
};

export = bench;
