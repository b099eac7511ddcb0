/**
 * The typed core's cost: Signal batches of 100 through a node built on the node kit that
 * validates the envelope (ajv) and forwards it, against a bare core change node in the same runtime.
 */
import { onInput, splitBatch, type Signal } from "../nodes/shared";
import type { Node, NodeAPI, NodeDef } from "../nodes/shared/red";
import { coreNode, initRuntime, pump } from "./flow-driver";
import type { Benchmark, Figure } from "./harness";

function envelopeNode(RED: NodeAPI): void {
  function EnvelopeCheck(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    onInput(this, (msg, send) => {
      const { signals, rejected } = splitBatch(msg.payload);
      if (rejected.length) throw new Error(`${rejected.length} invalid`);
      msg.payload = signals;
      send(msg);
    });
  }
  RED.nodes.registerType("otb-bench-envelope", EnvelopeCheck as unknown as (this: Node, def: NodeDef) => void);
}

function batch(i: number, size: number): Signal[] {
  const out: Signal[] = [];
  for (let k = 0; k < size; k++) {
    out.push({ tag: `pump1.tag${k}`, value: Math.sin(i + k), ts: 1_700_000_000_000 + i * 100, quality: "good", unit: "A", source: { protocol: "sim", address: `t${k}` } });
  }
  return out;
}

const bench: Benchmark = {
  name: "core",
  description: "Signal batches (100) through envelope validation + node kit vs a bare change node",
  async run(opts) {
    const helper = initRuntime();
    const batches = opts.quick ? 500 : 5000;
    const size = 100;
    const flow = [
      { id: "f", type: "tab" },
      { id: "otb", z: "f", type: "otb-bench-envelope", wires: [["out1"]] },
      { id: "out1", z: "f", type: "helper" },
      { id: "chg", z: "f", type: "change", rules: [{ t: "set", p: "topic", pt: "msg", to: "x", tot: "str" }], wires: [["out2"]] },
      { id: "out2", z: "f", type: "helper" },
    ];
    await helper.load([envelopeNode as (RED: unknown) => void, coreNode("function/15-change")], flow);
    const payloads = Array.from({ length: 64 }, (_, i) => batch(i, size));
    const make = (i: number): Record<string, unknown> => ({ payload: payloads[i % payloads.length] });
    // Warm-up both paths so the JIT has compiled them before timing.
    await pump("otb", "out1", 200, make);
    await pump("chg", "out2", 200, make);
    const rawMs = await pump("chg", "out2", batches, make);
    const packMs = await pump("otb", "out1", batches, make);
    await helper.unload();
    const signals = batches * size;
    const figures: Figure[] = [
      { name: "signals/s (batches of 100)", unit: "signals/s", pack: (signals / packMs) * 1000, raw: (signals / rawMs) * 1000, higherIsBetter: true },
      { name: "us per Signal", unit: "us", pack: (packMs * 1000) / signals, raw: (rawMs * 1000) / signals, higherIsBetter: false },
    ];
    return figures;
  },
};

export = bench;
