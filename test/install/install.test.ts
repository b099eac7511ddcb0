/**
 * SLOW (2-4 minutes: two real installs of the packed tarball, node-opcua and all, from the warm
 * npm cache, and Node-RED started three times: the load-and-score and the pilot-example checks
 * share one). Issue 13: the pack installs from the npm registry alone, with no flags, no
 * environment and no .npmrc, into a fresh Node-RED user folder, both by `npm install <tarball>`
 * and by Manage palette's upload (Node-RED's own bundled npm), and otb-infer then scores with the
 * shipped pilot model. Then the first folder without any usable ONNX engine: every node still
 * loads, and otb-infer says why it cannot score.
 *
 * OTB_INSTALL_TARBALL=<file.tgz> installs that tarball instead of packing this repo (to show the
 * test fails on an older package.json, e.g. one packed from main).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../../cli/node-red-runner";
import {
  PACK_NAME, folderBytes, freshUserDir, packRepo, registryHost, run, sandboxEnv, startInstalledRed, waitFor, type InstalledRed,
} from "./fresh-install";

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
const NODE_TYPES = Object.keys(pkg["node-red"].nodes).sort();
const MODEL = `node_modules/${PACK_NAME}/flows/models/pilot-pump.onnx`;
/** Sources and conduit of the pilot example point at a closed port: this test must not reach a peer another test runs. */
const CLOSED = { OTB_OPCUA_URL: "opc.tcp://127.0.0.1:1", OTB_MODBUS_PORT: "1", OTB_MQTT_URL: "mqtt://127.0.0.1:1", OTB_CONDUIT_URL: "mqtt://127.0.0.1:1" };

interface NodeSet {
  id: string;
  module: string;
  types: string[];
  err?: string;
  enabled: boolean;
}

interface ProbeState {
  caught: string[];
  statuses: string[];
  events: Array<{ kind?: string; state?: string; engine?: string; model?: { name?: string } }>;
}

/** otb-infer on the shipped model behind POST /otb-install/score; GET /otb-install/state says what Catch, Status and output 2 saw. */
function probeFlow(): object[] {
  const store = (key: string, expr: string): string =>
    `const a = global.get(${JSON.stringify(key)}) || []; a.push(${expr}); global.set(${JSON.stringify(key)}, a); return null;`;
  return [
    { id: "it.tab", type: "tab", label: "install probe" },
    { id: "it.in", z: "it.tab", type: "http in", url: "/otb-install/score", method: "post", wires: [["it.infer"]] },
    { id: "it.infer", z: "it.tab", type: "otb-infer", name: "probe", modelPath: MODEL, driftInterval: 0, hotReload: false, wires: [["it.res"], ["it.ev"]] },
    { id: "it.res", z: "it.tab", type: "http response", wires: [] },
    { id: "it.ev", z: "it.tab", type: "function", func: store("events", "msg.payload"), outputs: 0, wires: [] },
    { id: "it.catch", z: "it.tab", type: "catch", scope: ["it.infer"], uncaught: false, wires: [["it.caughtFn"]] },
    { id: "it.caughtFn", z: "it.tab", type: "function", func: store("caught", "msg.error && msg.error.message"), outputs: 0, wires: [] },
    { id: "it.status", z: "it.tab", type: "status", scope: ["it.infer"], wires: [["it.statusFn"]] },
    { id: "it.statusFn", z: "it.tab", type: "function", func: store("statuses", "msg.status && msg.status.text"), outputs: 0, wires: [] },
    { id: "it.stateIn", z: "it.tab", type: "http in", url: "/otb-install/state", method: "get", wires: [["it.stateFn"]] },
    {
      id: "it.stateFn", z: "it.tab", type: "function", outputs: 1, wires: [["it.stateRes"]],
      func: 'msg.payload = { caught: global.get("caught") || [], statuses: global.get("statuses") || [], events: global.get("events") || [] }; return msg;',
    },
    { id: "it.stateRes", z: "it.tab", type: "http response", wires: [] },
  ];
}

/** The probe's state; undefined until the deployed flow serves its route. */
async function state(red: InstalledRed): Promise<ProbeState | undefined> {
  const res = await fetch(`${red.url}/otb-install/state`);
  if (res.status !== 200) return undefined;
  return (await res.json()) as ProbeState;
}

async function deploy(red: InstalledRed, flow: object[]): Promise<void> {
  const res = await red.post("/flows", flow, { "Node-RED-Deployment-Type": "full" });
  assert.ok(res.status === 200 || res.status === 204, `deploy: ${res.status} ${JSON.stringify(res.body)}`);
}

async function assertEveryNodeLoads(red: InstalledRed): Promise<void> {
  const { status, body } = await red.get<NodeSet[]>("/nodes");
  assert.equal(status, 200);
  const ours = body.filter((s) => s.module === PACK_NAME);
  assert.deepEqual(ours.flatMap((s) => s.types).sort(), NODE_TYPES, `node types registered from the installed pack:\n${red.log.slice(-40).join("\n")}`);
  for (const set of ours) {
    assert.equal(set.err, undefined, `${set.id}: ${set.err}`);
    assert.equal(set.enabled, true, `${set.id} enabled`);
  }
}

describe("install: the packed tarball into a fresh Node-RED user folder, registry only (SLOW)", function () {
  this.timeout(900_000);
  let work: string;
  let userDir: string;
  let tarball: string;
  let red: InstalledRed | null = null;
  let env: NodeJS.ProcessEnv;

  before(async function () {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "otb-pack-"));
    tarball = process.env.OTB_INSTALL_TARBALL ? path.resolve(process.env.OTB_INSTALL_TARBALL) : await packRepo(work);
    userDir = freshUserDir();
    env = sandboxEnv(await registryHost());
  });

  /** Tests that keep Node-RED running for the next one (same user folder, same files) say so here. */
  let keepRed = false;
  afterEach(async function () {
    if (keepRed && this.currentTest?.state === "passed") {
      keepRed = false;
      return;
    }
    keepRed = false;
    await red?.stop();
    red = null;
  });

  after(() => {
    for (const dir of [work, userDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("ships no .map file without its source, and no build state", async () => {
    const r = await run("tar", ["-tzf", tarball], { cwd: work, env: process.env, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const files = r.stdout.split("\n").filter(Boolean);
    const maps = files.filter((f) => f.endsWith(".map"));
    const orphans = maps.filter((m) => {
      const source = m.replace(/\.js\.map$/, ".ts").replace(/^package\/dist\//, "package/");
      return !files.includes(source);
    });
    assert.deepEqual(orphans, [], "source maps whose .ts sources are not in the tarball");
    assert.ok(!files.some((f) => f.endsWith(".tsbuildinfo")), "tsc's incremental state is not shipped");
    assert.ok(files.includes("package/examples/13 - Single-line pilot.json"), "the pilot example is in the tarball");
  });

  it("`npm install <tarball>` succeeds with no flags and no .npmrc, and pulls no native engine", async () => {
    assert.ok(!fs.existsSync(path.join(userDir, ".npmrc")));
    const r = await run("npm", ["install", tarball], { cwd: userDir, env, timeoutMs: 600_000 });
    console.log(`      (npm install: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}; tarball ${(fs.statSync(tarball).size / 1e6).toFixed(2)} MB; ` +
      `node_modules ${fs.existsSync(path.join(userDir, "node_modules")) ? (folderBytes(path.join(userDir, "node_modules")) / 1e6).toFixed(0) : "-"} MB)`);
    assert.equal(r.code, 0, `npm install exited ${r.code}:\n${r.stderr.slice(-3000)}`);
    assert.doesNotMatch(r.stderr, /Unknown (project|user|env) config/, "npm warns about an unknown config key");
    assert.ok(fs.existsSync(path.join(userDir, "node_modules", PACK_NAME, "package.json")), "the pack is installed");
    assert.ok(!fs.existsSync(path.join(userDir, "node_modules", "onnxruntime-node")), "onnxruntime-node (and its GPU libraries) is not pulled in");
  });

  it("Node-RED loads every otb node type from the installed pack, and otb-infer scores with the shipped pilot model", async () => {
    red = await startInstalledRed(userDir, { ...env, ...CLOSED });
    await assertEveryNodeLoads(red);
    await assertScores(red, userDir);
    keepRed = true;
  });

  it("the single-line pilot is in Import > Examples, and its files resolve in the user folder", async () => {
    // The Node-RED the previous test started on this folder (nothing changed on disk since): one start less.
    red ??= await startInstalledRed(userDir, { ...env, ...CLOSED });
    const list = await red.get<Array<{ fn?: string }>>(`/library/examples/flows/${PACK_NAME}`);
    assert.equal(list.status, 200);
    assert.ok(list.body.some((e) => e.fn === "13 - Single-line pilot"), `examples listed: ${JSON.stringify(list.body)}`);
    const ex = await red.get<Array<{ id: string; type: string; wires?: string[][]; modules?: Record<string, string> }>>(
      `/library/examples/flows/${PACK_NAME}/${encodeURIComponent("13 - Single-line pilot")}`,
    );
    assert.equal(ex.status, 200);
    const flow = ex.body;
    const declared = flow.find((n) => n.type === "global-config")?.modules ?? {};
    assert.ok("@flowfuse/node-red-dashboard" in declared, "the dashboard need is declared in the flow's global-config modules");
    // The dashboard is not installed here; without its nodes, the pipeline deploys and loads its files.
    const ui = new Set(flow.filter((n) => n.type.startsWith("ui-")).map((n) => n.id));
    const pipeline = flow.filter((n) => !ui.has(n.id)).map((n) => (n.wires ? { ...n, wires: n.wires.map((port) => port.filter((id) => !ui.has(id))) } : n));
    const mark = red.log.length;
    await deploy(red, pipeline);
    const r = red;
    await waitFor("the pilot's otb-infer to load its model", async () => (r.log.slice(mark).some((l) => /model loaded: pilot-pump/.test(l)) ? true : undefined), 120_000);
    const problems = red.log.slice(mark).filter((l) => /\[error\]/.test(l) && /config|ENOENT|cannot read|rules|register map|refused/i.test(l) && !/ECONNREFUSED/.test(l));
    assert.deepEqual(problems, [], "the pilot's rule catalog, register map and model resolve from the installed pack");
  });

  it("Manage palette > Install > Upload of the tarball (Node-RED's own npm) into a running Node-RED adds every node, and otb-infer scores", async () => {
    const paletteDir = freshUserDir();
    try {
      red = await startInstalledRed(paletteDir, { ...env, ...CLOSED });
      const form = new FormData();
      form.append("tarball", new Blob([fs.readFileSync(tarball)], { type: "application/gzip" }), path.basename(tarball));
      const t0 = Date.now();
      const res = await fetch(`${red.url}/nodes`, { method: "POST", headers: { Accept: "application/json" }, body: form, signal: AbortSignal.timeout(600_000) });
      const text = await res.text();
      console.log(`      (palette upload install: ${((Date.now() - t0) / 1000).toFixed(1)} s, HTTP ${res.status})`);
      assert.equal(res.status, 200, `palette install: ${res.status} ${text}\n${red.log.slice(-30).join("\n")}`);
      assert.ok(!fs.existsSync(path.join(paletteDir, "node_modules", "onnxruntime-node")), "onnxruntime-node is not pulled in");
      await assertEveryNodeLoads(red);
      await assertScores(red, paletteDir);
    } finally {
      await red?.stop();
      red = null;
      fs.rmSync(paletteDir, { recursive: true, force: true });
    }
  });

  /** Deploys the probe flow and checks the model event (engine named) and one scored Inference. */
  async function assertScores(red: InstalledRed, userDir: string): Promise<void> {
    await deploy(red, probeFlow());
    const r = red;
    const loaded = await waitFor("the model event on otb-infer's output 2", async () => {
      const s = await state(r);
      if (s?.caught.length) throw new Error(`otb-infer reported: ${s.caught.join("; ")}`);
      return s?.events.find((e) => e.kind === "model" && e.state === "loaded");
    }, 120_000);
    assert.equal(loaded.model?.name, "pilot-pump");
    assert.match(String(loaded.engine), /^onnxruntime-web \S+ \(wasm\)$/, "the engine is named in the model event");

    const card = JSON.parse(fs.readFileSync(path.join(userDir, MODEL.replace(/\.onnx$/, ".card.json")), "utf8")) as { features: string[]; baseline: { mean: number[] } };
    const frame = { kind: "features", ts: Date.now(), windowMs: 10_000, names: card.features, values: card.baseline.mean, missing: [], quality: "good" };
    const res = await fetch(`${red.url}/otb-install/score`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(frame), signal: AbortSignal.timeout(60_000) });
    assert.equal(res.status, 200);
    const inference = (await res.json()) as { kind: string; score: number; model: { name: string }; contributions?: Record<string, number> };
    assert.equal(inference.kind, "inference");
    assert.equal(inference.model.name, "pilot-pump");
    assert.ok(Number.isFinite(inference.score), `score ${inference.score}`);
    assert.deepEqual(Object.keys(inference.contributions ?? {}).sort(), [...card.features].sort());
    assert.ok(red.log.some((l) => /model loaded: pilot-pump .*onnxruntime-web/.test(l)), "the log names the engine");
  }

  it("without any usable ONNX engine, every node still loads and otb-infer says why in its status and to Catch", async () => {
    // As on a platform onnxruntime-web cannot run on (and onnxruntime-node not installed).
    const web = path.join(userDir, "node_modules", "onnxruntime-web");
    fs.renameSync(web, `${web}.away`);
    try {
      fs.writeFileSync(path.join(userDir, "flows.json"), "[]\n");
      red = await startInstalledRed(userDir, { ...env, ...CLOSED });
      await assertEveryNodeLoads(red);
      await deploy(red, probeFlow());
      const r = red;
      const caught = await waitFor("otb-infer's report in Catch", async () => {
        const s = await state(r);
        return s?.caught.length ? s : undefined;
      }, 120_000);
      assert.equal(caught.caught.length, 1, `one report, not one per retry: ${caught.caught.join(" | ")}`);
      assert.match(caught.caught[0], /inference unavailable: no ONNX engine loads on .*onnxruntime-node: not installed; onnxruntime-web: not installed/);
      // A frame that arrives anyway is refused with the same reason, and the status keeps it.
      const card = JSON.parse(fs.readFileSync(path.join(userDir, MODEL.replace(/\.onnx$/, ".card.json")), "utf8")) as { features: string[]; baseline: { mean: number[] } };
      const frame = { kind: "features", ts: Date.now(), windowMs: 10_000, names: card.features, values: card.baseline.mean, missing: [], quality: "good" };
      void fetch(`${red.url}/otb-install/score`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(frame), signal: AbortSignal.timeout(30_000) }).catch(() => undefined);
      const s = await waitFor("the refused frame in Catch", async () => {
        const now = await state(r);
        return now && now.caught.length >= 2 ? now : undefined;
      });
      assert.match(s.caught[1], /^(Error: )?not scored: inference unavailable: no ONNX engine loads/);
      assert.ok(s.statuses.some((t) => /inference unavailable/.test(String(t))), `status texts: ${JSON.stringify(s.statuses)}`);
      assert.match(String(s.statuses[s.statuses.length - 1]), /inference unavailable/, "the last status still says why");
      assert.ok(!s.events.some((e) => e.kind === "model" && e.state === "loaded"));
      const flows = await red.get<{ state?: string }>("/flows/state");
      assert.equal(flows.status, 200, "Node-RED is still up");
    } finally {
      fs.renameSync(`${web}.away`, web);
    }
  });
});
