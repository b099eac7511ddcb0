/**
 * otb-infer end to end (FeatureFrame into the node -> Inference out of it, through the Node-RED
 * runtime) against a raw onnxruntime `InferenceSession.run` on the same model in the same run,
 * tensor creation included, for each engine (nodes/otb-infer/engine.ts): onnxruntime-web
 * (WebAssembly, the pack's own dependency) and onnxruntime-node (native CPU, installed for the
 * benchmark into .otb-cache/, see native-engine.ts). Batch 1: one frame at a time. Batch 32: a
 * burst of 32 frames sent by an upstream node (as a flow delivers it), timed until the 32nd
 * Inference, against one raw run of a [32, n] tensor. Percentiles over 10,000 calls (10,000
 * bursts) after 200 warm-up calls, raw and pack taken in turns, beside a busy loop timed the
 * same way (20 us beside single frames; as long as a burst's median beside the bursts): the part
 * of the tail that is the machine's (preemption by other processes on a shared CPU), not any
 * library's.
 * Then wasm against native (raw runs and through the node), the RSS of a real Node-RED process
 * with the model loaded against the same Node-RED with an empty flow, and the engines' install
 * sizes.
 *
 *   npm run bench infer-latency [-- --model=path/to/model.onnx] [--no-native] [--profile=DIR]   (default: the fixture model)
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startNodeRed } from "../cli/node-red-runner";
import type { FeatureFrame } from "../nodes/shared";
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from "../nodes/shared/red";
import { loadModelCard, cardPathFor } from "../nodes/shared/model-card";
import { loadEngineFrom, resetEngine, type Engine } from "../nodes/otb-infer/engine";
import { initRuntime } from "./flow-driver";
import { CpuProfileSet, nowMs, percentile, profiled, type Benchmark, type Figure } from "./harness";
import { folderMb, nativeEngineDir } from "./native-engine";

/**
 * A node that sends the frames of `msg.payload` (an array), one send() each, as otb-window does
 * with the frames of several series (otb-window.ts emit()): Node-RED delivers each in its own
 * setImmediate callback, which is how a real burst reaches otb-infer. (One send() of the 32
 * messages would not be a real upstream's burst: Node-RED deep-copies every message after the
 * first of one send() call, Node.js send(), which took a third of a burst's time here.)
 */
function burstNode(RED: NodeAPI): void {
  function Burst(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    this.on("input", (msg: NodeMessageInFlow, send: (m: NodeMessageInFlow[]) => void, done: () => void) => {
      for (const payload of msg.payload as FeatureFrame[]) send([{ payload } as NodeMessageInFlow]);
      done();
    });
  }
  RED.nodes.registerType("otb-bench-burst", Burst as unknown as (this: Node, def: NodeDef) => void);
}

/** Burns `us` microseconds of CPU: timed like a model run, its tail is the machine's, not any library's. */
function spin(us: number): void {
  const until = nowMs() + us / 1000;
  while (nowMs() < until) {
    // busy on purpose
  }
}

/** A node that forwards its input: Node-RED's own per-message cost, with no work in it. */
function passThroughNode(RED: NodeAPI): void {
  function PassThrough(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    this.on("input", (msg: NodeMessageInFlow, send: (m: NodeMessageInFlow) => void, done: () => void) => {
      send(msg);
      done();
    });
  }
  RED.nodes.registerType("otb-bench-pass", PassThrough as unknown as (this: Node, def: NodeDef) => void);
}

const FIXTURE = path.resolve(__dirname, "..", "..", "test", "fixtures", "models", "fixture-zscore.onnx");

/** `--profile DIR`: a CPU profile of the burst phase (bursts, raw runs and busy loop in turns), for profile-top.js. */
function profileDir(args: string[]): string | undefined {
  const a = args.find((x) => x.startsWith("--profile="));
  return a ? a.slice("--profile=".length) : undefined;
}

function modelArg(args: string[]): string {
  const i = args.findIndex((a) => a === "--model" || a.startsWith("--model="));
  if (i < 0) return FIXTURE;
  return path.resolve(args[i].includes("=") ? args[i].split("=")[1] : args[i + 1]);
}

/**
 * Per-call latencies (ms) of each of `fns`, after a warm-up, taken in turns (one call of each per
 * round) so that every contender sees the same machine state: on a shared machine the load moves
 * within seconds, and back-to-back phases would compare one moment's library with another's.
 */
async function interleaved<K extends string>(rounds: number, fns: Record<K, () => Promise<void>>): Promise<Record<K, number[]>> {
  const keys = Object.keys(fns) as K[];
  for (let i = 0; i < Math.min(200, rounds); i++) for (const k of keys) await fns[k]();
  const out = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < rounds; i++) {
    for (const k of keys) {
      const t0 = nowMs();
      await fns[k]();
      out[k].push(nowMs() - t0);
    }
  }
  return out;
}

function vmRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

async function nodeRedRss(modelPath: string | null, enginePath: string): Promise<number> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-bench-rss-"));
  const flow = path.join(userDir, "template.json");
  const nodes: object[] = [{ id: "t", type: "tab", label: "bench" }];
  if (modelPath) nodes.push({ id: "i", z: "t", type: "otb-infer", modelPath, driftInterval: 0, hotReload: false, wires: [[], []] });
  fs.writeFileSync(flow, JSON.stringify(nodes));
  let loaded = !modelPath;
  const nr = await startNodeRed({ userDir, port: 0, flowTemplate: flow, resetFlows: true, env: { OTB_INFER_ENGINE: enginePath }, log: (l) => { if (/model loaded/.test(l)) loaded = true; } });
  try {
    const until = Date.now() + 30_000;
    while (!loaded && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (!loaded) throw new Error("the model did not load in Node-RED within 30 s");
    await new Promise((r) => setTimeout(r, 1000)); // let start-up garbage settle
    return vmRssMb(nr.child.pid as number);
  } finally {
    await nr.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

interface Measured {
  /** A 20 us busy loop timed like the runs: the scheduling noise of this machine in this run. */
  floor: number[];
  /** The same for a busy loop as long as a burst's median, taken in turns with the bursts. */
  floor32: number[];
  /** That busy loop's length (us): the median of 100 bursts timed (after 200 more) before the measured ones. */
  floor32Us: number;
  /** The 1-minute load average when the measurement ended: p99s are only comparable at similar load. */
  load: number;
  /** InferenceSession.run calls per burst of 32 frames through the node (1 = one batch). */
  runsPerBurst: number;
  raw1: number[];
  raw32: number[];
  node1: number[];
  node32: number[];
  worker1: number[];
  hop: number[];
  /** The same burst through a pass-through node instead of otb-infer: Node-RED's own cost of it. */
  hop32: number[];
}

/** Raw runs of `engine`, then the otb-infer node with `engine` as the process's engine. */
async function measure(engine: Engine, modelPath: string, quick: boolean, profile?: string): Promise<Measured> {
  const card = await loadModelCard(cardPathFor(modelPath));
  const n = card.features.length;
  const values = card.baseline?.mean ?? new Array<number>(n).fill(0);
  // p99 over 10,000 samples: the 100 slowest calls decide it, not one unlucky preemption.
  const iterations = quick ? 500 : 10_000;
  const bursts = quick ? 200 : 10_000;

  // Raw: the library alone, as a hand-written flow function would call it.
  const { ort } = engine;
  const session = await ort.InferenceSession.create(fs.readFileSync(modelPath), engine.sessionOptions(1));
  const one = Float32Array.from(values);
  const many = new Float32Array(32 * n);
  for (let i = 0; i < 32; i++) many.set(one, i * n);

  // Pack: the otb-infer node in a Node-RED runtime, timed from receive() to the Inference at a helper node.
  process.env.OTB_INFER_ENGINE = engine.modulePath;
  resetEngine();
  const helper = initRuntime();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  await helper.load([require("../nodes/otb-infer/otb-infer"), passThroughNode as (RED: unknown) => void, burstNode as (RED: unknown) => void], [
    { id: "f", type: "tab" },
    { id: "infer", z: "f", type: "otb-infer", modelPath, driftInterval: 0, hotReload: false, maxQueue: 1000, maxBatch: 32, wires: [["out"], ["events"]] },
    { id: "out", z: "f", type: "helper" },
    { id: "events", z: "f", type: "helper" },
    { id: "inferW", z: "f", type: "otb-infer", modelPath, execution: "worker", driftInterval: 0, hotReload: false, maxQueue: 1000, maxBatch: 32, wires: [["outW"], ["eventsW"]] },
    { id: "outW", z: "f", type: "helper" },
    { id: "eventsW", z: "f", type: "helper" },
    { id: "burst", z: "f", type: "otb-bench-burst", wires: [["infer"]] },
    { id: "burstP", z: "f", type: "otb-bench-burst", wires: [["pass"]] },
    { id: "pass", z: "f", type: "otb-bench-pass", wires: [["passOut"]] },
    { id: "passOut", z: "f", type: "helper" },
  ]);
  // The test helper wraps every node's send/status/log in sinon spies that record each call; a
  // deployed Node-RED has none of that, and raw has no runtime at all, so take them off. restore()
  // puts the prototype's methods back, but a node with wires copied the spied send() onto itself
  // when it was built (Node.js: `this.send = Node.prototype.send`): that copy kept every message
  // alive and cost more than the model (until Dec 2026 it was most of this benchmark's tail).
  const h = helper as unknown as { _sandbox: { restore(): void }; _NodePrototype: { send: unknown } };
  h._sandbox.restore();
  for (const id of ["infer", "out", "events", "inferW", "outW", "eventsW", "burst", "burstP", "pass", "passOut"]) {
    const n = helper.getNode(id) as unknown as { send: unknown };
    if (Object.prototype.hasOwnProperty.call(n, "send")) n.send = h._NodePrototype.send;
  }
  const events = await Promise.all(["events", "eventsW"].map((id) => new Promise<{ payload: { engine?: string } }>((resolve) => helper.getNode(id).once("input", resolve))));
  for (const e of events) {
    if (!e.payload.engine?.startsWith(engine.name)) throw new Error(`otb-infer loaded the model with ${e.payload.engine}, not ${engine.name}`);
  }
  const frame = (): FeatureFrame => ({ kind: "features", ts: Date.now(), windowMs: 1000, names: card.features, values: [...values], missing: [], quality: "good" });
  /** Resolves when `count` messages reached helper node `id`. */
  const arrivals = (id: string, count: number): Promise<void> =>
    new Promise((resolve) => {
      const node = helper.getNode(id);
      let left = count;
      const on = (): void => {
        if (--left === 0) {
          node.removeListener("input", on);
          resolve();
        }
      };
      node.on("input", on);
    });
  const through = (inId: string, outId: string, payload: unknown, count: number) => async (): Promise<void> => {
    const got = arrivals(outId, count);
    helper.getNode(inId).receive({ payload: typeof payload === "function" ? payload() : payload });
    await got;
  };

  const single = await interleaved(iterations, {
    raw1: async () => void (await session.run({ [card.input.name]: new ort.Tensor("float32", one.slice(), [1, n]) })),
    node1: through("infer", "out", frame, 1),
    worker1: through("inferW", "outW", frame, 1), // the same with execution "worker"
    hop: through("pass", "passOut", frame, 1), // Node-RED's own cost of one message through one node
    floor: async () => spin(20),
  });
  // Each burst enters through an upstream node, as in a flow; the session's runs are counted to
  // show whether the 32 frames were scored as one batch (raw32's own run is one per round).
  const proto = Object.getPrototypeOf(session) as { run: (...a: unknown[]) => Promise<unknown> };
  const run = proto.run;
  let runs = 0;
  proto.run = function (this: unknown, ...a: unknown[]) {
    runs++;
    return run.apply(this, a);
  };
  // The busy loop that stands for "the machine" beside the bursts burns as much CPU as a burst
  // takes on this machine now (their median wall time, which on a loaded machine is CPU time and
  // some preemption): a p99 of the bursts near the loop's p99 is the machine's tail, not the pack's.
  const burst = through("burst", "out", () => Array.from({ length: 32 }, frame), 32);
  const pre: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = nowMs();
    await burst();
    if (i >= 200) pre.push(nowMs() - t0); // after 200 to warm the code paths up
  }
  const floor32Us = us(percentile(pre, 50));
  let many32: { raw32: number[]; node32: number[]; floor32: number[]; hop32: number[] };
  const profiles = profile ? new CpuProfileSet() : undefined;
  try {
    many32 = await profiled(profiles, () =>
      interleaved(bursts, {
        raw32: async () => void (await session.run({ [card.input.name]: new ort.Tensor("float32", many.slice(), [32, n]) })),
        node32: burst,
        floor32: async () => spin(floor32Us),
        hop32: through("burstP", "passOut", () => Array.from({ length: 32 }, frame), 32), // Node-RED's own cost of such a burst
      }),
    );
  } finally {
    proto.run = run;
  }
  if (profile && profiles) {
    fs.mkdirSync(profile, { recursive: true });
    profiles.write(path.join(profile, `infer-latency-bursts-${engine.kind}.cpuprofile`));
  }
  const rawRuns = bursts + Math.min(200, bursts);
  const nodeBursts = rawRuns + 300;
  const runsPerBurst = (runs - rawRuns) / nodeBursts;
  await helper.unload();
  await session.release();
  const { raw1, node1, worker1, hop, floor } = single;
  const { raw32, node32, floor32, hop32 } = many32;
  return { floor, floor32, floor32Us, load: os.loadavg()[0], runsPerBurst, raw1, raw32, node1, node32, worker1, hop, hop32 };
}

const us = (ms: number): number => ms * 1000;

function engineFigures(kind: string, m: Measured): Figure[] {
  const p = (v: number[], q: number): number => us(percentile(v, q));
  return [
    { name: `${kind}: batch 1 p50`, unit: "us", pack: p(m.node1, 50), raw: p(m.raw1, 50), higherIsBetter: false, note: `Node-RED alone (a pass-through node) costs ${p(m.hop, 50).toFixed(1)} us of that` },
    { name: `${kind}: batch 1 p99`, unit: "us", pack: p(m.node1, 99), raw: p(m.raw1, 99), higherIsBetter: false, note: `the pass-through node's p99: ${p(m.hop, 99).toFixed(1)} us; a 20 us busy loop's p99 (this machine's noise): ${p(m.floor, 99).toFixed(1)} us; load average ${m.load.toFixed(1)} on ${os.cpus().length} cores` },
    { name: `${kind}: batch 1 p50, worker thread`, unit: "us", pack: p(m.worker1, 50), raw: p(m.raw1, 50), higherIsBetter: false, note: "execution: worker" },
    { name: `${kind}: batch 1 p99, worker thread`, unit: "us", pack: p(m.worker1, 99), raw: p(m.raw1, 99), higherIsBetter: false },
    { name: `${kind}: batch 32 p50`, unit: "us", pack: p(m.node32, 50), raw: p(m.raw32, 50), higherIsBetter: false, note: `pack: 32 frames sent by an upstream node to the 32nd Inference, ${m.runsPerBurst.toFixed(2)} session run(s) per burst; Node-RED alone (the burst through a pass-through node): ${p(m.hop32, 50).toFixed(1)} us` },
    { name: `${kind}: batch 32 p99`, unit: "us", pack: p(m.node32, 99), raw: p(m.raw32, 99), higherIsBetter: false, note: `a ${m.floor32Us.toFixed(0)} us busy loop (the bursts' median) in the same turns: p50 ${p(m.floor32, 50).toFixed(0)}, p99 ${p(m.floor32, 99).toFixed(0)} us; the pass-through burst's p99: ${p(m.hop32, 99).toFixed(0)} us` },
  ];
}

/** wasm (pack) against native (raw): what choosing the bundled engine costs. */
function crossFigures(wasm: Measured, native: Measured): Figure[] {
  const p = (v: number[], q: number): number => us(percentile(v, q));
  const note = "pack: onnxruntime-web (wasm), raw: onnxruntime-node (native)";
  return [
    { name: "wasm vs native: raw run, batch 1 p50", unit: "us", pack: p(wasm.raw1, 50), raw: p(native.raw1, 50), higherIsBetter: false, note },
    { name: "wasm vs native: raw run, batch 1 p99", unit: "us", pack: p(wasm.raw1, 99), raw: p(native.raw1, 99), higherIsBetter: false },
    { name: "wasm vs native: raw run, batch 32 p50", unit: "us", pack: p(wasm.raw32, 50), raw: p(native.raw32, 50), higherIsBetter: false },
    { name: "wasm vs native: raw run, batch 32 p99", unit: "us", pack: p(wasm.raw32, 99), raw: p(native.raw32, 99), higherIsBetter: false },
    { name: "wasm vs native: otb-infer, batch 1 p50", unit: "us", pack: p(wasm.node1, 50), raw: p(native.node1, 50), higherIsBetter: false, note: "frame in -> Inference out" },
    { name: "wasm vs native: otb-infer, batch 1 p99", unit: "us", pack: p(wasm.node1, 99), raw: p(native.node1, 99), higherIsBetter: false },
    { name: "wasm vs native: otb-infer, batch 32 p50", unit: "us", pack: p(wasm.node32, 50), raw: p(native.node32, 50), higherIsBetter: false },
    { name: "wasm vs native: otb-infer, batch 32 p99", unit: "us", pack: p(wasm.node32, 99), raw: p(native.node32, 99), higherIsBetter: false },
  ];
}

/** The installed folder of an engine and its onnxruntime-common, in MB. */
function installMb(engine: Engine): number {
  let dir = path.dirname(engine.modulePath);
  while (path.basename(dir) !== engine.name) dir = path.dirname(dir);
  const common = path.join(path.dirname(dir), "onnxruntime-common");
  return folderMb(dir) + (fs.existsSync(common) ? folderMb(common) : 0);
}

const bench: Benchmark = {
  name: "infer-latency",
  description: "otb-infer frame->Inference through Node-RED vs raw InferenceSession.run (tensor creation included), same model, same run; onnxruntime-web (wasm) and onnxruntime-node (native)",
  runs: 3,
  async run(opts) {
    const modelPath = modelArg(opts.args);
    const before = process.env.OTB_INFER_ENGINE;
    const wasm = loadEngineFrom("onnxruntime-web");
    let native: Engine | null = null;
    if (!opts.args.includes("--no-native")) {
      const found = nativeEngineDir();
      if (found.dir) native = loadEngineFrom(found.dir);
      else if (opts.iteration === 0) console.log(`  (no native figures: ${found.why})`);
    }
    try {
      const w = await measure(wasm, modelPath, opts.quick, profileDir(opts.args));
      const figures = engineFigures("wasm", w);
      const nat = native ? await measure(native, modelPath, opts.quick) : null;
      if (nat) figures.push(...engineFigures("native", nat), ...crossFigures(w, nat));
      if (opts.iteration === 0) {
        for (const e of native ? [wasm, native] : [wasm]) {
          figures.push({
            name: `${e.kind}: Node-RED RSS with the model loaded`, unit: "MB", pack: await nodeRedRss(modelPath, e.modulePath), raw: await nodeRedRss(null, e.modulePath),
            higherIsBetter: false, note: `raw: the same Node-RED with an empty flow; ${e.label}`,
          });
        }
        if (native) {
          figures.push({ name: "wasm vs native: installed size", unit: "MB", pack: installMb(wasm), raw: installMb(native), higherIsBetter: false, note: `${wasm.label} vs ${native.label}, each with onnxruntime-common` });
        }
      }
      return figures;
    } finally {
      if (before === undefined) delete process.env.OTB_INFER_ENGINE;
      else process.env.OTB_INFER_ENGINE = before;
      resetEngine();
    }
  },
};

export = bench;
