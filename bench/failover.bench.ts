/**
 * What a broker failover costs (issue 19): an otb-conduit naming two Debian mosquitto brokers
 * publishes a steady stream (about 2,000 records/s) to the first; the first is killed with
 * SIGKILL; the figure is the time from the kill to the first record arriving at a subscriber of
 * the second. Five failovers per run; median and max. The reference in the same run: a raw
 * mqtt.js client doing the least possible (on "close", connect to the second broker at once and
 * publish), measured the same way, so the ratio is the conduit's own cost (the queue's rewind
 * and replay, the durable commit of what it sends). The link has been up 1.5 s or more when the
 * broker dies: no backoff then (a link younger than 1 s backs off first, conduit.ts). Needs mosquitto.
 * Since the conduit re-sends its last acknowledged records to the new broker first (issue 19,
 * resend-window.ts), the first record there is a re-sent one; a second figure is the time to
 * the first record the first broker never acknowledged (new data flowing again), and the run
 * prints how many were re-sent. The raw client re-sends nothing: its two times are the same.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as mqtt from "mqtt";
import { Conduit } from "../nodes/otb-conduit/conduit";
import { parseConduitConfig } from "../nodes/otb-conduit/conduit-config";
import { mosquittoPath, startMosquitto, type Mosquitto } from "../test/helpers/peers";
import { median, nowMs, type Benchmark, type Figure } from "./harness";

const FAILOVERS = 5;

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`failover bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

interface Watch {
  /** From now on; records numbered `fresh` or more were never acknowledged by the first broker. */
  arm(fresh: number): void;
  /** nowMs of the first message after arm(), or -1. */
  first(): number;
  /** nowMs of the first message numbered `fresh` or more, or -1. */
  firstFresh(): number;
  end(): Promise<void>;
}

async function watcher(url: string): Promise<Watch> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `watch-${process.pid}-${Math.random().toString(16).slice(2)}` });
  await client.subscribeAsync("acme/#", { qos: 1 });
  let fresh = -1;
  let at = -1;
  let atFresh = -1;
  client.on("message", (_topic, payload) => {
    if (fresh < 0) return;
    if (at < 0) at = nowMs();
    if (atFresh < 0 && (JSON.parse(payload.toString()) as { n: number }).n >= fresh) atFresh = nowMs();
  });
  return { arm: (n) => (fresh = n), first: () => at, firstFresh: () => atFresh, end: () => client.endAsync(true) };
}

function record(n: number): { ts: number; kind: number; topic: string; payload: Buffer } {
  return { ts: Date.now(), kind: 0, topic: `acme/s1/a1/l1/tag${n % 20}`, payload: Buffer.from(JSON.stringify({ n, value: n, pad: "x".repeat(80) })) };
}

interface Failover {
  first: number;
  fresh: number;
  resent: number;
}

async function conduitFailover(a: Mosquitto, b: Mosquitto, dir: string): Promise<Failover> {
  const conduit = new Conduit(parseConduitConfig({ id: "bench", broker: `${a.url}\n${b.url}`, protocolVersion: "5", sourceZone: "L3", targetZone: "DMZ",
    allowTopics: ["acme/#"], queueDir: dir, commitMs: 20, keepalive: 5, connectTimeout: 2, reconnectMax: 1 }, {}, dir));
  conduit.connection.register({ id: "bench-user", status: () => undefined, warn: () => undefined } as never, { onState: () => undefined });
  const watch = await watcher(b.url);
  let n = 0;
  const producer = setInterval(() => void conduit.submit(Array.from({ length: 10 }, () => record(n++))), 5);
  try {
    await until(() => conduit.stats().delivered >= 1000, 30_000, "1,000 records on the first broker");
    // A broker dies after running a while: a link younger than 1 s backs off first (conduit.ts).
    await new Promise((r) => setTimeout(r, 1500));
    // Records are numbered in queue order and acknowledged in order.
    watch.arm(conduit.stats().delivered);
    const t0 = nowMs();
    await a.kill();
    await until(() => watch.firstFresh() > 0, 30_000, "the first new record on the second broker");
    return { first: watch.first() - t0, fresh: watch.firstFresh() - t0, resent: conduit.stats().resent };
  } finally {
    clearInterval(producer);
    await conduit.close(0);
    await watch.end();
  }
}

async function rawFailover(a: Mosquitto, b: Mosquitto): Promise<number> {
  const watch = await watcher(b.url);
  let client = await mqtt.connectAsync(a.url, { protocolVersion: 5, clientId: `raw-${process.pid}`, reconnectPeriod: 0 });
  let n = 0;
  let switched = false;
  const publish = (): void => void client.publish(record(n).topic, record(n++).payload, { qos: 1 }, () => undefined);
  client.on("error", () => undefined);
  client.on("close", () => {
    if (switched) return;
    switched = true;
    void mqtt.connectAsync(b.url, { protocolVersion: 5, clientId: `raw-${process.pid}`, reconnectPeriod: 0 }).then((c) => (client = c));
  });
  const producer = setInterval(() => {
    for (let k = 0; k < 10; k++) publish();
  }, 5);
  try {
    await new Promise((r) => setTimeout(r, 500));
    watch.arm(0);
    const t0 = nowMs();
    await a.kill();
    await until(() => watch.first() > 0, 30_000, "the raw client's first record on the second broker");
    return watch.first() - t0;
  } finally {
    clearInterval(producer);
    await client.endAsync(true).catch(() => undefined);
    await watch.end();
  }
}

const bench: Benchmark = {
  name: "failover",
  description: "otb-conduit with two brokers: time from kill -9 of the active mosquitto to the first record on the second (5 failovers; median, max) vs raw mqtt.js",
  runs: 1,
  async run() {
    if (!mosquittoPath()) {
      console.log("failover bench: mosquitto is not installed; nothing measured");
      return [];
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-bench-failover-"));
    const runs: Failover[] = [];
    const raw: number[] = [];
    const a = await startMosquitto([]);
    const b = await startMosquitto([]);
    try {
      for (let i = 0; i < FAILOVERS; i++) {
        runs.push(await conduitFailover(a, b, path.join(dir, `q${i}`)));
        await a.restart();
        raw.push(await rawFailover(a, b));
        await a.restart();
      }
    } finally {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const pack = runs.map((r) => r.first);
    const fresh = runs.map((r) => r.fresh);
    console.log(`  failover ms, conduit: ${pack.map((v) => v.toFixed(0)).join(", ")}; to the first new record: ${fresh.map((v) => v.toFixed(0)).join(", ")}; ` +
      `re-sent: ${runs.map((r) => r.resent).join(", ")}; raw mqtt.js: ${raw.map((v) => v.toFixed(0)).join(", ")}`);
    const figures: Figure[] = [
      { name: `failover, kill -9 to first record on broker 2 (median of ${FAILOVERS})`, unit: "ms", pack: median(pack), raw: median(raw), higherIsBetter: false,
        note: "raw = mqtt.js connecting to the second broker on close, no backoff, no queue" },
      { name: `failover, kill -9 to first record on broker 2 (max of ${FAILOVERS})`, unit: "ms", pack: Math.max(...pack), raw: Math.max(...raw), higherIsBetter: false },
      { name: `failover, kill -9 to first new record on broker 2, after the re-sent window (median of ${FAILOVERS})`, unit: "ms", pack: median(fresh), raw: median(raw),
        higherIsBetter: false, note: "the conduit first re-sends its last acknowledged records (up to 2,000); raw re-sends nothing" },
    ];
    return figures;
  },
};

export = bench;
