/**
 * One side of the OPC UA benchmark, in its own process so that CPU and RSS are its own:
 *   node dist/bench/opcua-client.js <raw|pack> <endpointUrl> <items> <samplingMs> <publishingMs> <warmupS> <seconds>
 * "raw" is a plain node-opcua client subscription (one ClientMonitoredItemGroup, values counted
 * in its "changed" handler); "pack" is otb-opcua-endpoint + otb-opcua-in in a Node-RED runtime,
 * values counted at the node's output. Prints one JSON line with the measurements.
 */
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  setErrorLogger,
  setWarningLogger,
} from "node-opcua";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

interface Measurement {
  mode: string;
  values: number;
  seconds: number;
  valuesPerSecond: number;
  cpuPercent: number;
  rssMb: number;
  rssSlopeMbPerMin: number;
  /** Heap in use right after a full GC, sampled every 5 s: growth here is a leak, not GC timing. */
  heapAfterGcSlopeMbPerMin: number;
  heapAfterGcMb: number;
  batches: number;
}

const [mode, url, itemsArg, samplingArg, publishingArg, warmupArg, secondsArg] = process.argv.slice(2);
const items = Number(itemsArg);
const samplingMs = Number(samplingArg);
const publishingMs = Number(publishingArg);
const warmupS = Number(warmupArg);
const seconds = Number(secondsArg);
setWarningLogger(() => undefined);
setErrorLogger(() => undefined);

let values = 0;
let batches = 0;

async function startRaw(): Promise<() => Promise<void>> {
  const client = OPCUAClient.create({
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    connectionStrategy: { maxRetry: 1, initialDelay: 500, maxDelay: 2000 },
  });
  await client.connect(url);
  const session = await client.createSession();
  const subscription = await session.createSubscription2({
    requestedPublishingInterval: publishingMs,
    requestedMaxKeepAliveCount: 10,
    requestedLifetimeCount: 1000,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 10,
  });
  const toMonitor = Array.from({ length: items }, (_, i) => ({ nodeId: `ns=1;s=Bulk.${i}`, attributeId: AttributeIds.Value }));
  const group = ClientMonitoredItemGroup.create(subscription, toMonitor, { samplingInterval: samplingMs, queueSize: 10, discardOldest: true }, TimestampsToReturn.Both);
  group.on("changed", () => values++);
  subscription.on("raw_notification", (m) => {
    if (m.notificationData && m.notificationData.length > 0) batches++;
  });
  return async () => {
    await session.close(true);
    await client.disconnect();
  };
}

/**
 * A real Node-RED runtime embedded in this process (not node-red-node-test-helper, whose sinon
 * spies keep every sent message), with only the two OPC UA nodes loaded through the registry.
 * Values are counted on an inactive debug node wired to otb-opcua-in.
 */
async function startPack(): Promise<() => Promise<void>> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require("node-red");
  const http = await import("http");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-bench-nr-"));
  const tags = Array.from({ length: items }, (_, i) => ({ nodeId: `ns=1;s=Bulk.${i}`, tag: `bulk.${i}`, samplingInterval: samplingMs, queueSize: 10, deadbandType: "none", deadband: 0 }));
  const flow = [
    { id: "f", type: "tab", label: "bench" },
    { id: "ep", type: "otb-opcua-endpoint", endpointUrl: url, securityMode: "None", securityPolicy: "None", auth: "anonymous" },
    { id: "in", z: "f", type: "otb-opcua-in", endpoint: "ep", tags, publishingInterval: String(publishingMs), wires: [["sink"]] },
    { id: "sink", z: "f", type: "debug", active: false, tosidebar: false, console: false, complete: "payload", wires: [] },
  ];
  fs.writeFileSync(path.join(dir, "flows.json"), JSON.stringify(flow));
  const nodesRoot = path.join(__dirname, "..", "nodes");
  RED.init(http.createServer(), {
    userDir: dir,
    flowFile: "flows.json",
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    logging: { console: { level: "error" } },
    nodesDir: [path.join(nodesRoot, "otb-opcua-endpoint"), path.join(nodesRoot, "otb-opcua-in")],
    otbOpcuaEndpointPkiDir: path.join(dir, "pki"),
    externalModules: { autoInstall: false },
  });
  await RED.start();
  const deadline = Date.now() + 30_000;
  let sink = RED.nodes.getNode("sink");
  while (!sink && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    sink = RED.nodes.getNode("sink");
  }
  if (!sink) throw new Error("the bench flow did not start (are the OPC UA nodes built?)");
  sink.on("input", (msg: { payload: unknown[] }) => {
    values += msg.payload.length;
    batches++;
  });
  return async () => {
    await RED.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
}

/** Least-squares slope of RSS samples, in MB per minute. */
function slope(samples: Array<[number, number]>): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = samples.reduce((a, [x]) => a + x, 0) / n;
  const my = samples.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of samples) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  return den === 0 ? 0 : (num / den) * 60_000;
}

async function main(): Promise<void> {
  const stop = mode === "raw" ? await startRaw() : await startPack();
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  const startValues = values;
  const startBatches = batches;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const rss: Array<[number, number]> = [];
  const heap: Array<[number, number]> = [];
  const gc = (global as { gc?: () => void }).gc;
  const sampler = setInterval(() => rss.push([Date.now() - t0, process.memoryUsage().rss / 1048576]), 1000);
  const heapSampler = setInterval(() => {
    gc?.();
    heap.push([Date.now() - t0, process.memoryUsage().heapUsed / 1048576]);
  }, 5000);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(sampler);
  clearInterval(heapSampler);
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const result: Measurement = {
    mode,
    values: values - startValues,
    seconds: elapsed,
    valuesPerSecond: (values - startValues) / elapsed,
    cpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsed) * 100,
    rssMb: process.memoryUsage().rss / 1048576,
    // The first third is excluded: heaps grow to a steady size after start-up.
    rssSlopeMbPerMin: slope(rss.slice(Math.floor(rss.length / 3))),
    heapAfterGcSlopeMbPerMin: slope(heap),
    heapAfterGcMb: heap.length ? heap[heap.length - 1][1] : NaN,
    batches: batches - startBatches,
  };
  console.log(JSON.stringify(result));
  await stop();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
