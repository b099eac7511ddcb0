/**
 * MQTT ingestion: decoded values per second through otb-mqtt-in (in a Node-RED runtime, to a
 * helper node) against a raw mqtt.js subscriber that parses the same payloads and counts the
 * values, fed by the same publisher through the same in-process aedes broker. JSON sensors
 * (10 fields a message) and Sparkplug B NDATA (10 metrics by alias, decoded with the pack's codec
 * on the raw side too).
 */
import * as mqtt from "mqtt";
import brokerNode = require("../nodes/otb-mqtt-broker/otb-mqtt-broker");
import mqttInNode = require("../nodes/otb-mqtt-in/otb-mqtt-in");
import { DataType, decodePayload, encodePayload } from "../nodes/shared/sparkplug";
import { startAedes } from "../test/helpers/peers";
import { initRuntime } from "./flow-driver";
import { nowMs, type Benchmark, type Figure } from "./harness";

const FIELDS = 10;

function jsonPayload(i: number): Buffer {
  const o: Record<string, number> = { ts: 1_700_000_000_000 + i };
  for (let f = 0; f < FIELDS; f++) o[`f${f}`] = i + f / 10;
  return Buffer.from(JSON.stringify(o));
}

function birth(): Buffer {
  return Buffer.from(encodePayload({ seq: 0, timestamp: 1_700_000_000_000, metrics: Array.from({ length: FIELDS }, (_, f) => ({ name: `m${f}`, alias: f + 1, datatype: DataType.Double, value: 0 })) }));
}

function ndata(i: number): Buffer {
  return Buffer.from(encodePayload({ seq: (i + 1) % 256, timestamp: 1_700_000_000_000 + i, metrics: Array.from({ length: FIELDS }, (_, f) => ({ alias: f + 1, datatype: DataType.Double, value: i + f })) }));
}

/** Publishes `count` payloads to `topic` in bursts, after `prelude`. */
async function publishAll(pub: mqtt.MqttClient, topic: string, payloads: Buffer[], prelude?: [string, Buffer]): Promise<void> {
  if (prelude) await pub.publishAsync(prelude[0], prelude[1], { qos: 1 });
  for (let i = 0; i < payloads.length; i++) {
    pub.publish(topic, payloads[i], { qos: 0 });
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
}

async function rawRate(url: string, topic: string, payloads: Buffer[], sparkplug: boolean): Promise<number> {
  const sub = await mqtt.connectAsync(url, { clientId: `raw-${Math.random().toString(16).slice(2)}` });
  await sub.subscribeAsync(sparkplug ? "spBv1.0/#" : "sensors/#", { qos: 0 });
  const pub = await mqtt.connectAsync(url, { clientId: `pub-${Math.random().toString(16).slice(2)}` });
  const expected = payloads.length * FIELDS;
  let values = 0;
  let start = 0;
  const done = new Promise<void>((resolve) => {
    sub.on("message", (t, payload) => {
      if (sparkplug) {
        const p = decodePayload(payload);
        if (t.includes("NDATA")) values += p.metrics.length;
      } else {
        const o = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
        for (const k of Object.keys(o)) if (k !== "ts" && typeof o[k] === "number") values++;
      }
      if (values >= expected) resolve();
    });
  });
  start = nowMs();
  await publishAll(pub, topic, payloads, sparkplug ? ["spBv1.0/b/NBIRTH/e1", birth()] : undefined);
  await Promise.race([done, new Promise((r) => setTimeout(r, 30_000))]);
  const elapsed = nowMs() - start;
  await sub.endAsync(true);
  await pub.endAsync(true);
  return (values / elapsed) * 1000;
}

async function packRate(url: string, topic: string, payloads: Buffer[], sparkplug: boolean, batchMs: number): Promise<number> {
  const helper = initRuntime();
  const protoBefore = (helper as unknown as { _NodePrototype: Record<string, unknown> })._NodePrototype;
  const originals: Record<string, unknown> = {};
  for (const name of ["send", "receive", "log", "status", "error", "warn", "debug", "trace", "on", "emit"]) originals[name] = protoBefore[name];
  let subscribed = false;
  // The node reads through an otb-mqtt-broker config node, as flows built in the editor do.
  await helper.load([brokerNode, mqttInNode] as Array<(RED: unknown) => void>, [
    { id: "f", type: "tab" },
    { id: "brk", type: "otb-mqtt-broker", broker: url, protocolVersion: "4" },
    { id: "in", z: "f", type: "otb-mqtt-in", broker: "brk", topics: [{ topic: sparkplug ? "spBv1.0/#" : "sensors/#", qos: 0 }], format: "auto", mapping: [], batchMs: String(batchMs), wires: [["out"], []] },
    { id: "out", z: "f", type: "helper" },
  ]);
  // node-red-node-test-helper wraps Node.send/receive/log/status/... in sinon spies that record
  // every call (and so every message) for assertions; a benchmark needs the runtime without them.
  const proto = (helper as unknown as { _NodePrototype: Record<string, unknown> })._NodePrototype;
  for (const [name, fn] of Object.entries(originals)) proto[name] = fn;
  const probe = await mqtt.connectAsync(url, { clientId: `probe-${Math.random().toString(16).slice(2)}` });
  const expected = payloads.length * FIELDS;
  let values = 0;
  const out = helper.getNode("out");
  const done = new Promise<void>((resolve) => {
    out.on("input", ((msg: { payload: unknown[] }) => {
      if (!subscribed) return void (subscribed = true);
      values += msg.payload.length;
      if (values >= expected) resolve();
    }) as never);
  });
  // Wait until the node has subscribed: its first value marks that.
  const t0 = Date.now();
  while (!subscribed && Date.now() - t0 < 5000) {
    await probe.publishAsync(sparkplug ? "spBv1.0/w/NBIRTH/probe" : "sensors/probe", sparkplug ? birth() : jsonPayload(0));
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 50));
  values = 0;
  const start = nowMs();
  await publishAll(probe, topic, payloads, sparkplug ? ["spBv1.0/b/NBIRTH/e1", birth()] : undefined);
  await Promise.race([done, new Promise((r) => setTimeout(r, 30_000))]);
  const elapsed = nowMs() - start;
  // The BIRTH's own values count on the pack side; take them off so both count DATA values only.
  if (sparkplug) values -= FIELDS;
  await probe.endAsync(true);
  await helper.unload();
  return (Math.max(0, values) / elapsed) * 1000;
}

const bench: Benchmark = {
  name: "mqtt-in",
  description: "decoded values/s through otb-mqtt-in vs a raw mqtt.js subscriber that parses the same payloads (aedes in-process)",
  runs: 3,
  async run(opts) {
    const count = opts.quick ? 2000 : 10_000;
    const broker = await startAedes();
    const figures: Figure[] = [];
    try {
      const json = Array.from({ length: count }, (_, i) => jsonPayload(i));
      const sp = Array.from({ length: count }, (_, i) => ndata(i));
      // Warm both paths up first (JIT), then measure.
      await rawRate(broker.url, "sensors/s1", json.slice(0, 2000), false);
      await packRate(broker.url, "sensors/s1", json.slice(0, 2000), false, 0);
      const rawJson = await rawRate(broker.url, "sensors/s1", json, false);
      const packJson = await packRate(broker.url, "sensors/s1", json, false, 0);
      const packJsonBatched = await packRate(broker.url, "sensors/s1", json, false, 50);
      figures.push({ name: `JSON values/s (${FIELDS} fields/message), window 0 (per message; a burst read at once is one batch)`, unit: "values/s", pack: packJson, raw: rawJson, higherIsBetter: true });
      figures.push({ name: `JSON values/s, 50 ms batch window`, unit: "values/s", pack: packJsonBatched, raw: rawJson, higherIsBetter: true });
      await rawRate(broker.url, "spBv1.0/b/NDATA/e1", sp.slice(0, 2000), true);
      const rawSp = await rawRate(broker.url, "spBv1.0/b/NDATA/e1", sp, true);
      const packSp = await packRate(broker.url, "spBv1.0/b/NDATA/e1", sp, true, 0);
      const packSpBatched = await packRate(broker.url, "spBv1.0/b/NDATA/e1", sp, true, 50);
      figures.push({ name: `Sparkplug NDATA values/s (${FIELDS} metrics by alias), window 0`, unit: "values/s", pack: packSp, raw: rawSp, higherIsBetter: true, note: "raw decodes with the pack's codec, no alias resolution" });
      figures.push({ name: `Sparkplug NDATA values/s, 50 ms batch window`, unit: "values/s", pack: packSpBatched, raw: rawSp, higherIsBetter: true });
    } finally {
      await broker.close();
    }
    return figures;
  },
};

export = bench;
