/**
 * The pack against the incumbent Node-RED packages, same server, same run, each Node-RED in its
 * own process (bench/peer-client.js) so CPU and memory are its own; the two sides of each pair
 * run at the same time so that both see the same machine load.
 *
 * Modbus: the simulator's register map (flows/catalog/simulator-modbus-map.json) on the
 * simulator's Modbus server. Pack: otb-modbus-device + otb-modbus-in, every poll group at the
 * given period. Peer: node-red-contrib-modbus, one Modbus-Read per tag (a Modbus-Read reads one
 * address range and returns raw registers; a node per tag keeps the map's mixed types and byte
 * orders apart for decoding) at the same period on one Modbus-Client. Each side reaches the server through its own
 * counting TCP proxy, so "requests per cycle" is what went on the wire. Two periods: 100 ms
 * (both keep up: CPU per value) and 10 ms (saturation: polls/s). The peer's values are raw
 * register arrays (no decoding, no tag names): that favours the peer.
 *
 * OPC UA: 2,000 monitored items sampled every 100 ms on test/opcua/server-main.js (as the opcua
 * benchmark). Pack: otb-opcua-endpoint + otb-opcua-in (publishing 500 ms). Peer:
 * node-red-contrib-opcua's OpcUa-Client, action "subscribe" with topic "multiple" (its one-request
 * group subscription; publishing interval = sampling = 100 ms, which it does not let one set
 * apart), one message per value.
 *
 *   npm run bench peers [-- --quick] [--only=modbus|opcua]
 */
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { startSimulator } from "../cli/sim";
import { REPO_ROOT } from "../cli/node-red-runner";
import { planBlocks, planPerTag, PROTOCOL_LIMITS } from "../nodes/otb-modbus-in/coalesce";
import { loadMapFile } from "../nodes/otb-modbus-in/map-source";
import { withClockInEveryGroup } from "../nodes/otb-modbus-in/device-clock";
import { groupTags } from "../nodes/otb-modbus-in/poller";
import type { Benchmark, Figure } from "./harness";
import type { PeerConfig, PeerMeasurement } from "./peer-client";

const MAP_FILE = path.join(REPO_ROOT, "flows", "catalog", "simulator-modbus-map.json");
const OPCUA_ITEMS = 2000;
const SAMPLING_MS = 100;
const CONTRIB_TYPES: Record<string, string> = { coil: "Coil", discrete: "Input", holding: "HoldingRegister", input: "InputRegister" };

/** A TCP proxy to `port` that counts Modbus TCP request frames (MBAP: 6-byte header + length - 1). */
async function countingProxy(port: number): Promise<{ port: number; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    sockets.add(client).add(upstream);
    let buf = Buffer.alloc(0);
    client.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 6) {
        const len = 6 + buf.readUInt16BE(4);
        if (buf.length < len) break;
        requests++;
        buf = buf.subarray(len);
      }
      upstream.write(d);
    });
    upstream.on("data", (d) => client.write(d));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests: () => requests,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function runClient(cfg: PeerConfig, dir: string, onMark: (mark: string) => void = () => undefined): { done: Promise<PeerMeasurement>; child: ChildProcess } {
  const file = path.join(dir, `${cfg.label.replace(/\W+/g, "-")}.json`);
  fs.writeFileSync(file, JSON.stringify(cfg));
  const child = spawn(process.execPath, ["--expose-gc", path.join(__dirname, "peer-client.js"), file], { stdio: ["ignore", "pipe", "pipe"] });
  const done = new Promise<PeerMeasurement>((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => {
      const before = out.length;
      out += String(d);
      for (const m of out.slice(Math.max(0, out.lastIndexOf("\n", before - 1) + 1)).matchAll(/^MARK (\w+)\n/gm)) onMark(m[1]);
    });
    child.stderr!.on("data", (d) => (err += String(d)));
    child.once("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || !line) reject(new Error(`${cfg.label} failed (${code}): ${(err || out).slice(-2000)}`));
      else resolve(JSON.parse(line) as PeerMeasurement);
    });
  });
  return { done, child };
}

function modbusFlows(packPort: number, peerPort: number, periodMs: number, maxInFlight: number): { pack: PeerConfig["flow"]; peer: PeerConfig["flow"]; tags: number } {
  const map = loadMapFile(MAP_FILE);
  const groups = [...groupTags(map.tags).keys()].map((name) => ({ name, periodMs }));
  const pack = [
    { id: "f", type: "tab", label: "bench" },
    { id: "dev", type: "otb-modbus-device", transport: "tcp", host: "127.0.0.1", port: String(packPort), unitId: 1, timeoutMs: 1000, retries: 1, maxRegisters: 125, maxGap: 10, interRequestDelayMs: 0, maxInFlight, timeoutsBeforeReconnect: 3, maxQueue: 1000 },
    { id: "in", z: "f", type: "otb-modbus-in", device: "dev", mapSource: "file", mapFile: MAP_FILE, periodMs, groups, tags: [], wires: [["sink"]] },
    { id: "sink", z: "f", type: "debug", active: false, tosidebar: false, console: false, complete: "payload", wires: [] },
  ];
  const peer: PeerConfig["flow"] = [
    { id: "f", type: "tab", label: "bench" },
    { id: "cl", type: "modbus-client", clienttype: "tcp", bufferCommands: true, stateLogEnabled: false, queueLogEnabled: false, failureLogEnabled: false, tcpHost: "127.0.0.1", tcpPort: String(peerPort), tcpType: "DEFAULT", unit_id: 1, commandDelay: 1, clientTimeout: 1000, reconnectOnTimeout: true, reconnectTimeout: 2000, parallelUnitIdsAllowed: true },
    { id: "sink", z: "f", type: "debug", active: false, tosidebar: false, console: false, complete: "payload", wires: [] },
  ];
  planPerTag(map.tags).forEach((b, i) => {
    peer.push({ id: `r${i}`, z: "f", type: "modbus-read", name: b.tags[0].tag, topic: b.tags[0].tag, unitid: String(b.unitId ?? 1), dataType: CONTRIB_TYPES[b.area], adr: String(b.start), quantity: String(b.count), rate: String(periodMs), rateUnit: "ms", delayOnStart: false, startDelayTime: "", server: "cl", showStatusActivities: false, showErrors: false, useIOFile: false, ioFile: "", useIOForPayload: false, emptyMsgOnFail: false, wires: [["sink"], []] });
  });
  return { pack, peer, tags: map.tags.length };
}

async function modbusPair(periodMs: number, seconds: number, dir: string, maxInFlight = 1): Promise<{ pack: PeerMeasurement & { requests: number }; peer: PeerMeasurement & { requests: number }; tags: number }> {
  const sim = await startSimulator({ seed: 1, speed: 1, protocols: { opcua: false, mqtt: false, modbus: true }, modbusPort: 0 } as never);
  const simPort = (sim as unknown as { modbusPort: number }).modbusPort;
  const packProxy = await countingProxy(simPort);
  const peerProxy = await countingProxy(simPort);
  try {
    const flows = modbusFlows(packProxy.port, peerProxy.port, periodMs, maxInFlight);
    const common = { warmupS: 3, seconds, sink: "sink" };
    // Requests are counted over each client's measured window only (its MARK lines).
    const windowed = (proxy: typeof packProxy): { count: number; onMark(m: string): void } => {
      const w = { from: 0, count: 0, onMark: (m: string) => (m === "start" ? (w.from = proxy.requests()) : (w.count = proxy.requests() - w.from)) };
      return w;
    };
    const pw = windowed(packProxy);
    const qw = windowed(peerProxy);
    const pack = runClient({ ...common, label: `otb-modbus-in ${periodMs} ms`, packageDir: REPO_ROOT, packageName: "node-red-contrib-otbridge", flow: flows.pack, count: "array" }, dir, pw.onMark);
    const peer = runClient({ ...common, label: `node-red-contrib-modbus ${periodMs} ms`, packageDir: path.dirname(require.resolve("node-red-contrib-modbus/package.json")), packageName: "node-red-contrib-modbus", flow: flows.peer, count: "messages" }, dir, qw.onMark);
    const [p, q] = await Promise.all([pack.done, peer.done]);
    return { pack: { ...p, requests: pw.count }, peer: { ...q, requests: qw.count }, tags: flows.tags };
  } finally {
    await packProxy.close();
    await peerProxy.close();
    await sim.stop();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function startOpcuaServer(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(__dirname, "..", "test", "opcua", "server-main.js"), String(port), String(OPCUA_ITEMS), String(SAMPLING_MS)], { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      if (out.includes("READY")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`OPC UA server exited (${code})`)));
  });
}

async function opcuaPair(seconds: number, dir: string): Promise<{ pack: PeerMeasurement; peer: PeerMeasurement }> {
  const port = await freePort();
  const server = await startOpcuaServer(port);
  const url = `opc.tcp://127.0.0.1:${port}`;
  try {
    const tags = Array.from({ length: OPCUA_ITEMS }, (_, i) => ({ nodeId: `ns=1;s=Bulk.${i}`, tag: `bulk.${i}`, samplingInterval: SAMPLING_MS, queueSize: 10, deadbandType: "none", deadband: 0 }));
    const packFlow = [
      { id: "f", type: "tab", label: "bench" },
      { id: "ep", type: "otb-opcua-endpoint", endpointUrl: url, securityMode: "None", securityPolicy: "None", auth: "anonymous" },
      { id: "in", z: "f", type: "otb-opcua-in", endpoint: "ep", tags, publishingInterval: "500", wires: [["sink"]] },
      { id: "sink", z: "f", type: "debug", active: false, tosidebar: false, console: false, complete: "payload", wires: [] },
    ];
    const peerFlow = [
      { id: "f", type: "tab", label: "bench" },
      { id: "ep", type: "OpcUa-Endpoint", endpoint: url, secpol: "None", secmode: "None", none: true, login: false, usercert: false },
      { id: "client", z: "f", type: "OpcUa-Client", endpoint: "ep", action: "subscribe", deadbandtype: "a", deadbandvalue: 0, time: SAMPLING_MS, timeUnit: "ms", certificate: "n", securitymode: "None", securitypolicy: "None", useTransport: false, setstatusandtime: false, keepsessionalive: false, name: "", wires: [["sink"], [], []] },
      { id: "sink", z: "f", type: "debug", active: false, tosidebar: false, console: false, complete: "payload", wires: [] },
    ];
    const common = { warmupS: 5, seconds, sink: "sink" };
    const pack = runClient({ ...common, label: "otb-opcua-in", packageDir: REPO_ROOT, packageName: "node-red-contrib-otbridge", flow: packFlow, count: "array" }, dir);
    const peer = runClient({
      ...common, label: "node-red-contrib-opcua", packageDir: path.dirname(require.resolve("node-red-contrib-opcua/package.json")), packageName: "node-red-contrib-opcua", flow: peerFlow, count: "messages", ignoreTopic: "subscriptionId",
      kick: { node: "client", msg: { action: "subscribe", topic: "multiple", interval: SAMPLING_MS, payload: tags.map((t) => ({ nodeId: t.nodeId })) } },
    }, dir);
    const [p, q] = await Promise.all([pack.done, peer.done]);
    return { pack: p, peer: q };
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
  }
}

const bench: Benchmark = {
  name: "peers",
  description: "otb-modbus-in vs node-red-contrib-modbus (simulator map) and otb-opcua-in vs node-red-contrib-opcua (2,000 items / 100 ms), same server, same run",
  runs: 1,
  async run(opts) {
    const seconds = opts.quick ? 5 : 15;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-bench-peers-"));
    const load = (): string => `load ${os.loadavg()[0].toFixed(1)}`;
    const figures: Figure[] = [];
    try {
      const map = loadMapFile(MAP_FILE);
      let coalesced = 0;
      for (const tags of groupTags(map.tags).values()) coalesced += planBlocks(tags, PROTOCOL_LIMITS).length;
      const only = opts.args.find((a) => a.startsWith("--only="))?.slice("--only=".length);
      // The pack as shipped (one request on the wire) at both periods; at 10 ms also with four
      // requests at once (otb-modbus-device maxInFlight 4), which the simulator's ServerTCP serves.
      const runs: { periodMs: number; maxInFlight: number }[] = [{ periodMs: 100, maxInFlight: 1 }, { periodMs: 10, maxInFlight: 1 }, { periodMs: 10, maxInFlight: 4 }];
      for (const { periodMs, maxInFlight } of only === "opcua" ? [] : runs) {
        const l0 = load();
        const { pack, peer, tags } = await modbusPair(periodMs, seconds, dir, maxInFlight);
        // A full-map poll is `tags` values from the peer, but more Signals from the pack: each
        // unit's clock row is read with every poll group (device-clock.ts), 22 Signals for 20 tags.
        const packSignalsPerPoll = withClockInEveryGroup(map.tags).length;
        const pollsPack = pack.valuesPerSecond / packSignalsPerPoll;
        const pollsPeer = peer.valuesPerSecond / tags;
        // CPU per map value: the pack's CPU spread over the map's values, not over its extra clock Signals.
        const cpuPerValuePack = (pack.cpuUsPerValue * packSignalsPerPoll) / tags;
        // Requests on the wire in the measured window / full-map polls delivered in it.
        const perCycle = (m: PeerMeasurement & { requests: number }, perPoll: number): number => m.requests / (m.values / perPoll);
        const note = `${tags} tags, every group at ${periodMs} ms (${1000 / periodMs} polls/s asked), ${seconds} s, ${l0}..${load()}`;
        const label = maxInFlight === 1 ? `modbus ${periodMs} ms` : `modbus ${periodMs} ms, ${maxInFlight} requests at once`;
        figures.push(
          { name: `${label}: requests per cycle (on the wire)`, unit: "requests", pack: perCycle(pack, packSignalsPerPoll), raw: perCycle(peer, tags), higherIsBetter: false, note: `planned: ${coalesced} coalesced vs ${planPerTag(map.tags).length} per tag; ${note}` },
          { name: `${label}: full-map polls/s`, unit: "polls/s", pack: pollsPack, raw: pollsPeer, higherIsBetter: true, note: `values delivered / values per full-map poll (pack ${packSignalsPerPoll}: the map's ${tags} tags and a clock copy per group; peer ${tags})` },
          { name: `${label}: CPU per value`, unit: "us", pack: cpuPerValuePack, raw: peer.cpuUsPerValue, higherIsBetter: false, note: `per map value; CPU ${pack.cpuPercent.toFixed(1)} % vs ${peer.cpuPercent.toFixed(1)} % of one core; peer values are undecoded registers` },
          { name: `${label}: RSS at the end`, unit: "MB", pack: pack.rssMb, raw: peer.rssMb, higherIsBetter: false },
        );
      }
      if (only === "modbus") return figures;
      const l0 = load();
      const { pack, peer } = await opcuaPair(seconds, dir);
      if (process.env.OTB_BENCH_VERBOSE) console.log(JSON.stringify({ pack, peer }));
      const expected = OPCUA_ITEMS * (1000 / SAMPLING_MS);
      const note = `${OPCUA_ITEMS} items at ${SAMPLING_MS} ms (${expected.toLocaleString("en-US")} values/s), ${seconds} s, concurrent, ${l0}..${load()}`;
      figures.push(
        { name: "opcua 2,000 items: values/s delivered", unit: "values/s", pack: pack.valuesPerSecond, raw: peer.valuesPerSecond, higherIsBetter: true, note },
        { name: "opcua 2,000 items: CPU per value", unit: "us", pack: pack.cpuUsPerValue, raw: peer.cpuUsPerValue, higherIsBetter: false, note: `CPU ${pack.cpuPercent.toFixed(1)} % vs ${peer.cpuPercent.toFixed(1)} % of one core` },
        { name: "opcua 2,000 items: RSS at the end", unit: "MB", pack: pack.rssMb, raw: peer.rssMb, higherIsBetter: false },
        { name: "opcua 2,000 items: heap after full GC", unit: "MB", pack: pack.heapAfterGcMb, raw: peer.heapAfterGcMb, higherIsBetter: false },
        { name: "opcua 2,000 items: messages/s at the output", unit: "msg/s", pack: pack.messages / pack.seconds, raw: peer.messages / peer.seconds, higherIsBetter: false, note: "pack: Signal batches; peer: one message per value" },
      );
      return figures;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

export = bench;
