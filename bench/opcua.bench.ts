/**
 * OPC UA ingestion at scale: 2,000 monitored items sampled every 100 ms on one endpoint
 * (20,000 values/s expected), otb-opcua-endpoint + otb-opcua-in in Node-RED against a raw
 * node-opcua client subscription to the same server in the same run. The server runs in its own
 * process and so does each client, so CPU and RSS are each client's own. The two clients run at
 * the same time by default, so both see the same server and the same machine load (on a shared
 * 2-core box, load changes between two sequential runs skew the ratio more than the clients'
 * competition does); `--sequential` runs them one after the other.
 *
 * Duration per client: 20 s (5 s with --quick); `--long` or OTB_BENCH_OPCUA_SECONDS=600 for the
 * 10-minute run whose RSS slope shows unbounded growth. Items: OTB_BENCH_OPCUA_ITEMS (2000).
 */
import { spawn, type ChildProcess } from "child_process";
import * as path from "path";
import * as net from "net";
import type { Benchmark, Figure } from "./harness";

interface Measurement {
  values: number;
  seconds: number;
  valuesPerSecond: number;
  cpuPercent: number;
  rssMb: number;
  rssSlopeMbPerMin: number;
  heapAfterGcSlopeMbPerMin: number;
  heapAfterGcMb: number;
  batches: number;
}

const SAMPLING_MS = 100;
const PUBLISHING_MS = 500;

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

function startServer(port: number, items: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(__dirname, "..", "test", "opcua", "server-main.js"), String(port), String(items), String(SAMPLING_MS)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      if (out.includes("READY")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`OPC UA server exited (${code})`)));
  });
}

function measure(mode: "raw" | "pack", url: string, items: number, seconds: number): Promise<Measurement> {
  const args = [path.join(__dirname, "opcua-client.js"), mode, url, String(items), String(SAMPLING_MS), String(PUBLISHING_MS), "5", String(seconds)];
  // --expose-gc: the client samples its heap after a full GC to tell a leak from GC timing.
  const child = spawn(process.execPath, ["--expose-gc", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => (out += String(d)));
    child.once("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || !line) reject(new Error(`${mode} client failed (${code}): ${out}`));
      else resolve(JSON.parse(line) as Measurement);
    });
  });
}

const bench: Benchmark = {
  name: "opcua",
  description: `2,000 monitored items at ${SAMPLING_MS} ms (20,000 values/s) on one endpoint: otb-opcua-in vs a raw node-opcua subscription`,
  runs: 3,
  async run(opts) {
    const long = opts.args.includes("--long");
    const seconds = Number(process.env.OTB_BENCH_OPCUA_SECONDS) || (long ? 600 : opts.quick ? 5 : 20);
    const items = Number(process.env.OTB_BENCH_OPCUA_ITEMS) || 2000;
    const expected = items * (1000 / SAMPLING_MS);
    const port = await freePort();
    const server = await startServer(port, items);
    try {
      const url = `opc.tcp://127.0.0.1:${port}`;
      const sequential = opts.args.includes("--sequential");
      const [raw, pack] = sequential
        ? [await measure("raw", url, items, seconds), await measure("pack", url, items, seconds)]
        : await Promise.all([measure("raw", url, items, seconds), measure("pack", url, items, seconds)]);
      const note = `${items} items, ${seconds} s, ${sequential ? "sequential" : "concurrent"} clients, expected ${expected.toLocaleString("en-US")} values/s`;
      const figures: Figure[] = [
        { name: "values/s at the output", unit: "values/s", pack: pack.valuesPerSecond, raw: raw.valuesPerSecond, higherIsBetter: true, note },
        { name: "share of expected values delivered", unit: "%", pack: (100 * pack.valuesPerSecond) / expected, raw: (100 * raw.valuesPerSecond) / expected, higherIsBetter: true },
        { name: "client CPU (one core = 100)", unit: "%", pack: pack.cpuPercent, raw: raw.cpuPercent, higherIsBetter: false },
        { name: "client RSS at the end", unit: "MB", pack: pack.rssMb, raw: raw.rssMb, higherIsBetter: false },
        { name: "RSS slope after warm-up", unit: "MB/min", pack: pack.rssSlopeMbPerMin, raw: raw.rssSlopeMbPerMin, higherIsBetter: false, note: long ? "10-minute run" : "short run: indicative only; use --long" },
        { name: "heap after full GC, at the end", unit: "MB", pack: pack.heapAfterGcMb, raw: raw.heapAfterGcMb, higherIsBetter: false },
        { name: "heap-after-GC slope", unit: "MB/min", pack: pack.heapAfterGcSlopeMbPerMin, raw: raw.heapAfterGcSlopeMbPerMin, higherIsBetter: false, note: "growth that survives a full GC" },
        { name: "messages per second at the output", unit: "msg/s", pack: pack.batches / pack.seconds, raw: raw.batches / raw.seconds, higherIsBetter: false, note: "raw: publish responses carrying data" },
      ];
      return figures;
    } finally {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("exit", r));
    }
  },
};

export = bench;
