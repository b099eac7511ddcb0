/**
 * One side of the peer benchmark (bench/peers.bench.ts), in its own process so that CPU and RSS
 * are its own:
 *   node --expose-gc dist/bench/peer-client.js <config.json>
 * The config names a flow, the npm package whose nodes it uses (linked into a fresh user folder,
 * so Node-RED loads the whole package as a user's install does), the sink node whose input is
 * counted and how (Signals in an array payload, or one value per message), and optionally a
 * message to send to a node once its OPC UA session is up. Node-RED runs embedded (not
 * node-red-node-test-helper, whose sinon spies keep every message). Prints one JSON line.
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";

export interface PeerConfig {
  label: string;
  /** Package folder linked as <userDir>/node_modules/<name>. */
  packageDir: string;
  packageName: string;
  flow: Array<Record<string, unknown>>;
  sink: string;
  /** "array": values = payload.length; "messages": one value per message. */
  count: "array" | "messages";
  /** Messages whose topic is this are not values (node-red-contrib-opcua's subscriptionId). */
  ignoreTopic?: string;
  /** Sent to `node` once `node.session` exists (node-red-contrib-opcua's subscribe request). */
  kick?: { node: string; msg: Record<string, unknown> };
  warmupS: number;
  seconds: number;
}

export interface PeerMeasurement {
  label: string;
  values: number;
  messages: number;
  seconds: number;
  valuesPerSecond: number;
  cpuPercent: number;
  cpuUsPerValue: number;
  rssMb: number;
  heapAfterGcMb: number;
  /** ms from RED.start() to the first value at the sink. */
  firstValueMs: number;
}

/** Node-RED packages in this repo's node_modules (dev dependencies) that no side should load. */
const DEV_PACKAGES = ["node-red-contrib-modbus", "node-red-contrib-opcua", "node-red-dashboard"]; // the last: @flowfuse/node-red-dashboard (scoped: matched by its base name)

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as PeerConfig;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require("node-red");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-bench-peer-"));
  fs.mkdirSync(path.join(dir, "node_modules"), { recursive: true });
  fs.symlinkSync(cfg.packageDir, path.join(dir, "node_modules", cfg.packageName), "dir");
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "bench", dependencies: { [cfg.packageName]: "*" } }));
  fs.writeFileSync(path.join(dir, "flows.json"), JSON.stringify(cfg.flow));
  RED.init(http.createServer(), {
    userDir: dir,
    flowFile: "flows.json",
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    logging: { console: { level: "off" } },
    otbOpcuaEndpointPkiDir: path.join(dir, "pki"),
    externalModules: { autoInstall: false },
    editorTheme: { tours: false },
    // Node-RED also scans the node_modules folders above its own install, i.e. this repo's, which
    // hold the other side's package and the dashboard: load only the package under test.
    nodesExcludes: DEV_PACKAGES.filter((n) => n !== cfg.packageName),
  });
  let values = 0;
  let messages = 0;
  let firstValueMs = NaN;
  const t0 = Date.now();
  await RED.start();
  const deadline = Date.now() + 60_000;
  let sink = RED.nodes.getNode(cfg.sink);
  while (!sink && Date.now() < deadline) {
    await sleep(100);
    sink = RED.nodes.getNode(cfg.sink);
  }
  if (!sink) throw new Error(`${cfg.label}: the flow did not start (node ${cfg.sink} missing)`);
  sink.on("input", (msg: { payload: unknown; topic?: unknown }) => {
    if (cfg.ignoreTopic !== undefined && msg.topic === cfg.ignoreTopic) return;
    messages++;
    values += cfg.count === "array" && Array.isArray(msg.payload) ? msg.payload.length : 1;
    if (Number.isNaN(firstValueMs)) firstValueMs = Date.now() - t0;
  });
  if (cfg.kick) {
    const node = RED.nodes.getNode(cfg.kick.node) as { session?: unknown; receive(m: unknown): void } | null;
    while (node && !node.session && Date.now() < deadline) await sleep(100);
    if (!node?.session) throw new Error(`${cfg.label}: node ${cfg.kick.node} has no session after 60 s`);
    node.receive(cfg.kick.msg);
  }
  // Warm-up counts from the first value: start-up time (sessions, 2,000 monitored items) differs
  // between packages and is reported apart (firstValueMs).
  while (values === 0 && Date.now() < deadline + 30_000) await sleep(50);
  await sleep(cfg.warmupS * 1000);
  const v0 = values;
  const m0 = messages;
  const cpu0 = process.cpuUsage();
  const start = Date.now();
  // Marks for the parent, which counts what happens outside this process over the same window.
  console.log("MARK start");
  await sleep(cfg.seconds * 1000);
  console.log("MARK end");
  const elapsed = (Date.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const got = values - v0;
  const rssMb = process.memoryUsage().rss / 1048576;
  (global as { gc?: () => void }).gc?.();
  const result: PeerMeasurement = {
    label: cfg.label,
    values: got,
    messages: messages - m0,
    seconds: elapsed,
    valuesPerSecond: got / elapsed,
    cpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsed) * 100,
    cpuUsPerValue: got > 0 ? (cpu.user + cpu.system) / got : NaN,
    rssMb,
    heapAfterGcMb: process.memoryUsage().heapUsed / 1048576,
    firstValueMs,
  };
  console.log(JSON.stringify(result));
  // Exit without RED.stop(): a peer that hangs on close must not hold up the benchmark.
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
