/**
 * Northbound publishing against Debian's mosquitto on loopback, pack vs raw mqtt.js in one run:
 * - live rate: Signal batches through otb-publish's logic into the conduit (durable queue on,
 *   group commit, QoS 1 with up to 500 in flight) until the broker acknowledged all of them,
 *   against raw mqtt.js publishing the same payloads QoS 1 with the same window. Goal: >= 0.5 of
 *   raw and >= 10,000 msg/s.
 * - replay rate: a backlog built while the broker was down (300,000 records; 30,000 with
 *   --quick) drained after it comes up. Goal: >= 2x the rate it buffered (the outage
 *   buffers 5,000 msg/s, so >= 10,000 msg/s); "raw" is the raw mqtt.js QoS 1 live rate, for scale.
 * - queue disk bytes per record, against the record's own topic + payload bytes.
 * With `--outage`, also the scenario: broker stopped 60 s under 5,000 msg/s, reported
 *   as records lost (goal 0) against records produced.
 * Needs mosquitto; without it the benchmark reports nothing and says why.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as mqtt from "mqtt";
import { Conduit } from "../nodes/otb-conduit/conduit";
import { parseConduitConfig } from "../nodes/otb-conduit/conduit-config";
import { Publisher } from "../nodes/otb-publish/publish-logic";
import { freePort, mosquittoPath, startMosquitto, type Mosquitto } from "../test/helpers/peers";
import { nowMs, type Benchmark, type Figure } from "./harness";

const BATCH = 100;
const WINDOW = 500;
const ctx = { enterprise: "acme", site: "s1", area: "a1", line: "l1" };

function signals(from: number): unknown[] {
  return Array.from({ length: BATCH }, (_, k) => ({ tag: `tag${k % 20}`, value: from + k, ts: 1_700_000_000_000 + from + k,
    quality: "good", unit: "A", source: { protocol: "sim", address: `ns=2;s=tag${k % 20}` }, context: ctx }));
}

function conduitFor(url: string, dir: string): Conduit {
  return new Conduit(parseConduitConfig({ id: "bench", broker: url, protocolVersion: "5", sourceZone: "L3", targetZone: "DMZ",
    allowTopics: ["acme/#"], queueDir: dir, commitMs: 20, inflight: WINDOW, keepalive: 30, connectTimeout: 5, reconnectMax: 1,
    queueMaxMB: 2048 }, {}, dir));
}

function startUser(conduit: Conduit): void {
  conduit.connection.register({ id: "bench-user", status: () => undefined, warn: () => undefined } as never, { onState: () => undefined });
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("benchmark timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Raw mqtt.js: the same payloads, QoS 1, WINDOW in flight. */
async function rawRate(url: string, payloads: Array<[string, Buffer]>): Promise<number> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `raw-${process.pid}` });
  let acked = 0;
  let sent = 0;
  const start = nowMs();
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (sent - acked < WINDOW && sent < payloads.length) {
        const [topic, body] = payloads[sent++];
        client.publish(topic, body, { qos: 1 }, () => {
          acked++;
          if (acked === payloads.length) resolve();
          else if (sent - acked <= WINDOW / 2) pump();
        });
      }
    };
    pump();
  });
  const rate = payloads.length / ((nowMs() - start) / 1000);
  await client.endAsync();
  return rate;
}

/** The pack: Signal batches through otb-publish's logic into the conduit, until all are acknowledged. */
async function packRate(url: string, dir: string, total: number): Promise<{ rate: number; payloads: Array<[string, Buffer]> }> {
  const conduit = conduitFor(url, dir);
  startUser(conduit);
  await until(() => conduit.stats().state === "connected", 10_000);
  const publisher = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic: null }, conduit.policy);
  const payloads: Array<[string, Buffer]> = [];
  const start = nowMs();
  const outstanding: Array<Promise<unknown>> = [];
  for (let i = 0; i < total; i += BATCH) {
    const prepared = publisher.prepare(signals(i), { line: null });
    if (payloads.length < total) for (const r of prepared.records) payloads.push([r.topic, r.payload]);
    outstanding.push(conduit.submit(prepared.records));
    // Like a flow with a bounded queue in front of it: at most 20 batches awaiting their commit.
    if (outstanding.length >= 20) await outstanding.shift();
  }
  await Promise.all(outstanding);
  await until(() => conduit.stats().delivered >= total, 120_000);
  const rate = total / ((nowMs() - start) / 1000);
  await conduit.close();
  return { rate, payloads };
}

/** Fills the queue while nothing listens, then measures the drain once the broker is up. */
async function replay(dir: string, total: number): Promise<{ rate: number; bytesPerRecord: number; payloadBytes: number; broker: Mosquitto }> {
  const port = await freePort();
  const conduit = conduitFor(`mqtt://127.0.0.1:${port}`, dir);
  startUser(conduit);
  const publisher = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic: null }, conduit.policy);
  let payloadBytes = 0;
  const outstanding: Array<Promise<unknown>> = [];
  for (let i = 0; i < total; i += BATCH) {
    const prepared = publisher.prepare(signals(i), { line: null });
    for (const r of prepared.records) payloadBytes += r.payload.length + Buffer.byteLength(r.topic);
    outstanding.push(conduit.submit(prepared.records));
    if (outstanding.length >= 50) await outstanding.shift();
  }
  await Promise.all(outstanding);
  const bytesPerRecord = conduit.stats().bytes / total;
  const broker = await startMosquitto(["max_queued_messages 1000"], { port });
  const start = nowMs();
  await until(() => conduit.stats().delivered >= total, 300_000);
  const rate = total / ((nowMs() - start) / 1000);
  await conduit.close();
  return { rate, bytesPerRecord, payloadBytes: payloadBytes / total, broker };
}

/** The scenario: 5,000 msg/s, broker stopped for 60 s, then restarted; records lost. */
async function outage(dir: string): Promise<{ produced: number; lost: number }> {
  const broker = await startMosquitto(["persistence true", `persistence_location ${dir}/`, "max_queued_messages 10000000", "max_inflight_messages 0"]);
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: "bench-counter", clean: false, reconnectPeriod: 200,
    properties: { sessionExpiryInterval: 3600 } });
  await sub.subscribeAsync("acme/#", { qos: 1 });
  const seen = new Set<number>();
  sub.on("message", (_t, p) => seen.add((JSON.parse(p.toString()) as { value: number }).value));
  const conduit = conduitFor(broker.url, path.join(dir, "q"));
  startUser(conduit);
  await until(() => conduit.stats().state === "connected", 10_000);
  const publisher = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic: null }, conduit.policy);
  const rate = 5000;
  const seconds = 75;
  const began = Date.now();
  let produced = 0;
  setTimeout(() => void broker.stop(), 5000);
  setTimeout(() => void broker.restart(), 65_000);
  while (produced < rate * seconds) {
    void conduit.submit(publisher.prepare(signals(produced), { line: null }).records);
    produced += BATCH;
    const wait = began + (produced / rate) * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await until(() => seen.size >= produced || conduit.stats().queued === 0, 300_000).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 2000));
  await conduit.close();
  await sub.endAsync(true);
  await broker.close();
  return { produced, lost: produced - seen.size };
}

const bench: Benchmark = {
  name: "publish",
  description: "otb-publish + otb-conduit (durable queue, QoS 1) vs raw mqtt.js QoS 1 to mosquitto: live rate, replay rate, disk bytes per record",
  runs: 3,
  async run(opts) {
    if (!mosquittoPath()) {
      console.log("publish bench: mosquitto is not installed; nothing measured");
      return [];
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-bench-publish-"));
    fs.chmodSync(dir, 0o755);
    const broker = await startMosquitto([]);
    const figures: Figure[] = [];
    try {
      const live = opts.quick ? 20_000 : 100_000;
      const pack = await packRate(broker.url, path.join(dir, "live"), live);
      const raw = await rawRate(broker.url, pack.payloads);
      figures.push({ name: `live publish rate, QoS 1, ${WINDOW} in flight, batches of ${BATCH}`, unit: "msg/s", pack: pack.rate, raw,
        higherIsBetter: true, note: "goal: >= 0.5 of raw and >= 10,000 msg/s" });
      const backlog = opts.quick ? 30_000 : 300_000;
      const r = await replay(path.join(dir, "replay"), backlog);
      await r.broker.close();
      figures.push({ name: `replay rate of a ${backlog.toLocaleString("en-US")}-record backlog`, unit: "msg/s", pack: r.rate, raw,
        higherIsBetter: true, note: "goal: >= 2x the rate it buffered (10,000 msg/s for the issue's 5,000 msg/s outage); raw = raw mqtt.js QoS 1 live" });
      figures.push({ name: "queue disk bytes per record (Signal JSON envelope)", unit: "bytes", pack: r.bytesPerRecord, raw: r.payloadBytes,
        higherIsBetter: false, note: "raw = the record's topic + payload bytes; the rest is the 31-byte frame (seq, CRC, ts, kind)" });
      if (opts.args.includes("--outage") && opts.iteration === 0) {
        const o = await outage(path.join(dir, "outage"));
        figures.push({ name: "broker stopped 60 s under 5,000 msg/s: records lost", unit: "records", pack: o.lost, raw: o.produced,
          higherIsBetter: false, note: "raw = records produced; goal: 0 lost" });
      }
    } finally {
      await broker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return figures;
  },
};

export = bench;
