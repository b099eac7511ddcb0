/**
 * otb-mqtt-in in Node-RED against aedes (and mosquitto when installed), fed by an independent
 * mqtt.js publisher; Sparkplug B payloads come from Eclipse Tahu's encoder (sparkplug-payload).
 */
import * as assert from "assert";
import * as mqtt from "mqtt";
import brokerNode = require("../../nodes/otb-mqtt-broker/otb-mqtt-broker");
import mqttInNode = require("../../nodes/otb-mqtt-in/otb-mqtt-in");
import { validateSignal, type Signal } from "../../nodes/shared";
import { itWithMosquitto } from "../helpers/interop";
import { startAedes, startMosquitto, waitFor, type AedesBroker } from "../helpers/peers";
import { helper, nextMessage, tab, withCoreNodes } from "../helpers/red";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tahu = require("sparkplug-payload").get("spBv1.0") as { encodePayload(p: unknown): Uint8Array };

const nodes = withCoreNodes([brokerNode, mqttInNode]);

/**
 * otb-mqtt-in on an otb-mqtt-broker node; `legacy: true` builds the node as flows saved before
 * that node did (the URL in its own `broker` field), which must keep working.
 */
function flow(url: string, over: Record<string, unknown> = {}, legacy = false): Array<Record<string, unknown>> {
  const broker = legacy ? [] : [{ id: "brk", type: "otb-mqtt-broker", broker: url, protocolVersion: "4" }];
  return tab([
    ...broker,
    { id: "in", type: "otb-mqtt-in", broker: legacy ? url : "brk", topics: [{ topic: "sensors/#", qos: 1 }, { topic: "spBv1.0/#", qos: 0 }], format: "auto", mapping: [], batchMs: "0", wires: [["out"], ["refused"]], ...over },
    { id: "out", type: "helper" },
    { id: "refused", type: "helper" },
    { id: "catcher", type: "catch", scope: ["in"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper" },
  ]);
}

/** Collects what the node sends on both outputs and to Catch. */
function collect(): { signals: Signal[]; refused: Array<Record<string, unknown>>; caught: Array<Record<string, unknown>> } {
  const c = { signals: [] as Signal[], refused: [] as Array<Record<string, unknown>>, caught: [] as Array<Record<string, unknown>> };
  const on = (id: string, f: (m: Record<string, unknown>) => void): void => void helper.getNode(id).on("input", f as never);
  on("out", (m) => c.signals.push(...(m.payload as Signal[])));
  on("refused", (m) => c.refused.push(m));
  on("caught", (m) => c.caught.push(m));
  return c;
}

async function publisher(url: string): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId: `pub-${Math.random().toString(16).slice(2)}` });
  return client;
}

async function subscribed(broker: AedesBroker, count = 2): Promise<void> {
  // Wait until the node's subscriptions reached the broker: publishing earlier would be lost.
  let n = 0;
  broker.broker.on("subscribe", (subs) => (n += subs.length));
  await waitFor(() => n >= count, 5000, "node subscribed");
}

describe("otb-mqtt-in (Node-RED, aedes)", () => {
  let broker: Awaited<ReturnType<typeof startAedes>>;
  let pub: mqtt.MqttClient;
  beforeEach(async () => {
    broker = await startAedes();
    pub = await publisher(broker.url);
  });
  afterEach(async () => {
    await helper.unload();
    await pub.endAsync(true);
    await broker.close();
  });

  async function load(over: Record<string, unknown> = {}, subs = 2, legacy = false): Promise<ReturnType<typeof collect>> {
    const ready = subscribed(broker, subs);
    await helper.load(nodes, flow(broker.url, over, legacy));
    const c = collect();
    await ready;
    return c;
  }

  it("maps JSON fields to tags, units and timestamps per topic filter", async () => {
    const c = await load({
      mapping: [
        { topic: "sensors/+/telemetry", field: "temp", tag: "{1}.temperature", unit: "°C", tsField: "t" },
        { topic: "sensors/+/telemetry", field: "data.rh", tag: "{1}.humidity", unit: "%", scale: 100 },
      ],
    });
    await pub.publishAsync("sensors/boiler2/telemetry", JSON.stringify({ temp: 71.5, data: { rh: 0.42 }, t: 1700000000 }));
    await pub.publishAsync("sensors/boiler3/telemetry", JSON.stringify({ temp: "hot", t: "2026-01-02T03:04:05Z" }));
    await waitFor(() => c.signals.length >= 3, 3000, "3 signals");
    const byTag = new Map(c.signals.map((s) => [s.tag, s]));
    assert.deepStrictEqual(byTag.get("boiler2.temperature"), { tag: "boiler2.temperature", value: 71.5, ts: 1700000000000, quality: "good", unit: "°C", source: { protocol: "mqtt", address: "sensors/boiler2/telemetry#temp" } });
    assert.strictEqual(byTag.get("boiler2.humidity")!.value, 42);
    assert.strictEqual(byTag.get("boiler3.temperature")!.ts, Date.parse("2026-01-02T03:04:05Z"));
    for (const s of c.signals) assert.ok(validateSignal(s), s.tag);
    assert.strictEqual(c.refused.length, 0);
  });

  it("without a mapping, every scalar field becomes <topic>.<field>", async () => {
    const c = await load();
    const before = Date.now();
    await pub.publishAsync("sensors/pump/vib", JSON.stringify({ rms: 0.8, ok: true, mode: "run", nested: { x: 1 } }));
    await waitFor(() => c.signals.length >= 3, 3000, "signals");
    assert.deepStrictEqual(c.signals.map((s) => [s.tag, s.value]), [["sensors.pump.vib.rms", 0.8], ["sensors.pump.vib.ok", true], ["sensors.pump.vib.mode", "run"]]);
    assert.ok(c.signals[0].ts >= before, "arrival time when the payload has none");
  });

  it("sends malformed payloads to output 2 with the raw payload and a reason, and to Catch; keeps running", async () => {
    const c = await load({ mapping: [{ topic: "sensors/#", field: "v" }] });
    await pub.publishAsync("sensors/a", "{not json");
    await pub.publishAsync("sensors/a", JSON.stringify({ other: 1 }));
    await pub.publishAsync("sensors/a", JSON.stringify([1, 2]));
    await pub.publishAsync("spBv1.0/G/NDATA/E1", Buffer.from([0x0a, 0xff, 0xff]));
    await pub.publishAsync("sensors/a", JSON.stringify({ v: 3 }));
    await waitFor(() => c.refused.length >= 4 && c.signals.length >= 1 && c.caught.length >= 4, 3000, "refused and caught");
    assert.deepStrictEqual(c.refused.map((m) => m.reason), ["malformed_json", "no_mapped_fields", "malformed_json", "sparkplug_malformed"]);
    assert.ok(Buffer.isBuffer(c.refused[0].payload) && (c.refused[0].payload as Buffer).toString() === "{not json");
    assert.strictEqual(c.refused[3].topic, "spBv1.0/G/NDATA/E1");
    assert.match(String((c.caught[0].error as { message: string }).message), /malformed_json/);
    assert.strictEqual(c.signals[0].value, 3);
  });

  it("decodes Tahu-encoded Sparkplug B: BIRTH aliases, DATA by alias, every scalar type", async () => {
    const c = await load();
    const ts = 1_750_000_000_000;
    const birthMetrics = [
      { name: "bdSeq", type: "UInt64", value: 0 },
      { name: "Node Control/Rebirth", type: "Boolean", value: false },
      { name: "i8", alias: 1, type: "Int8", value: -8 },
      { name: "i16", alias: 2, type: "Int16", value: -1600 },
      { name: "i32", alias: 3, type: "Int32", value: -320000 },
      { name: "i64", alias: 4, type: "Int64", value: -6400000000 },
      { name: "u8", alias: 5, type: "UInt8", value: 200 },
      { name: "u16", alias: 6, type: "UInt16", value: 60000 },
      { name: "u32", alias: 7, type: "UInt32", value: 4000000000 },
      { name: "u64", alias: 8, type: "UInt64", value: 9000000000 },
      { name: "f", alias: 9, type: "Float", value: 1.5 },
      { name: "d", alias: 10, type: "Double", value: 2.25 },
      { name: "b", alias: 11, type: "Boolean", value: true },
      { name: "s", alias: 12, type: "String", value: "hello" },
      { name: "Motor/Speed", alias: 13, type: "DateTime", value: ts },
    ];
    await pub.publishAsync("spBv1.0/plant/NBIRTH/edge1", Buffer.from(tahu.encodePayload({ timestamp: ts, seq: 0, metrics: birthMetrics })));
    await waitFor(() => c.signals.length >= 13, 3000, "birth values");
    const birth = new Map(c.signals.map((s) => [s.tag, s.value]));
    assert.deepStrictEqual(Object.fromEntries(birth), {
      "edge1.i8": -8, "edge1.i16": -1600, "edge1.i32": -320000, "edge1.i64": -6400000000, "edge1.u8": 200, "edge1.u16": 60000,
      "edge1.u32": 4000000000, "edge1.u64": 9000000000, "edge1.f": 1.5, "edge1.d": 2.25, "edge1.b": true, "edge1.s": "hello", "edge1.Motor.Speed": ts,
    });
    c.signals.length = 0;
    await pub.publishAsync("spBv1.0/plant/NDATA/edge1", Buffer.from(tahu.encodePayload({ timestamp: ts + 1000, seq: 1, metrics: [{ alias: 3, type: "Int32", value: 42, timestamp: ts + 999 }, { alias: 12, type: "String", value: "x" }] })));
    await waitFor(() => c.signals.length >= 2, 3000, "data by alias");
    assert.deepStrictEqual(c.signals.map((s) => [s.tag, s.value, s.ts, s.quality]), [["edge1.i32", 42, ts + 999, "good"], ["edge1.s", "x", ts + 1000, "good"]]);
    assert.strictEqual(c.signals[0].source.address, "spBv1.0/plant/edge1#i32");
    for (const s of c.signals) assert.ok(validateSignal(s));
  });

  it("devices, seq gaps, DEATH and DATA before BIRTH", async () => {
    const c = await load();
    const enc = (p: unknown): Buffer => Buffer.from(tahu.encodePayload(p));
    await pub.publishAsync("spBv1.0/g/DDATA/e9/d1", enc({ seq: 5, metrics: [{ alias: 1, type: "Int32", value: 1 }] }));
    await pub.publishAsync("spBv1.0/g/NBIRTH/e9", enc({ seq: 0, metrics: [{ name: "bdSeq", type: "UInt64", value: 3 }, { name: "up", alias: 1, type: "Boolean", value: true }] }));
    await pub.publishAsync("spBv1.0/g/DBIRTH/e9/d1", enc({ seq: 1, metrics: [{ name: "temp", alias: 2, type: "Float", value: 20 }] }));
    await pub.publishAsync("spBv1.0/g/DDATA/e9/d1", enc({ seq: 2, metrics: [{ alias: 2, type: "Float", value: 21 }] }));
    await pub.publishAsync("spBv1.0/g/DDATA/e9/d1", enc({ seq: 5, metrics: [{ alias: 2, type: "Float", value: 22 }, { alias: 77, type: "Float", value: 0 }] }));
    await pub.publishAsync("spBv1.0/g/NDEATH/e9", enc({ metrics: [{ name: "bdSeq", type: "UInt64", value: 3 }] }));
    await waitFor(() => c.signals.some((s) => s.reasons?.includes("comm_lost")) && c.refused.length >= 2, 3000, "death");
    assert.deepStrictEqual(c.refused.map((m) => m.reason), ["data_before_birth", "unknown_alias"]);
    const temps = c.signals.filter((s) => s.tag === "e9.d1.temp").map((s) => [s.value, s.quality, s.reasons]);
    assert.deepStrictEqual(temps, [[20, "good", undefined], [21, "good", undefined], [22, "uncertain", ["seq_gap"]], [null, "bad", ["comm_lost"]]]);
    assert.ok(c.signals.some((s) => s.tag === "e9.up" && s.reasons?.[0] === "comm_lost"), "node tags die with the node");
  });

  it("marks every seen tag comm_lost when the broker goes away, and resumes when it is back (a node saved with its own broker URL)", async function () {
    this.timeout(15_000);
    const c = await load({}, 2, true);
    await pub.publishAsync("sensors/x", JSON.stringify({ v: 1 }));
    await waitFor(() => c.signals.length >= 1, 3000, "first value");
    const port = broker.port;
    await pub.endAsync(true);
    await broker.close();
    await waitFor(() => c.signals.some((s) => s.quality === "bad"), 5000, "comm_lost batch");
    assert.deepStrictEqual(c.signals.filter((s) => s.quality === "bad").map((s) => [s.tag, s.reasons]), [["sensors.x.v", ["comm_lost"]]]);
    assert.ok(c.caught.some((m) => /connection to .* lost/.test(String((m.error as { message: string }).message))), "Catch hears of it");
    broker = await startAedes(port);
    const ready = subscribed(broker, 2);
    await ready;
    pub = await publisher(broker.url);
    await pub.publishAsync("sensors/x", JSON.stringify({ v: 2 }));
    await waitFor(() => c.signals.some((s) => s.value === 2), 5000, "data after reconnect");
  });

  it("reads a node saved with its topics as text (no version: migrated to the list, QoS 1)", async () => {
    const subs: Array<[string, number]> = [];
    broker.broker.on("subscribe", (list) => subs.push(...list.map((x): [string, number] => [x.topic, x.qos])));
    const c = await load({ topics: "sensors/#,\n spBv1.0/#" });
    assert.deepStrictEqual(subs.sort(), [["sensors/#", 1], ["spBv1.0/#", 1]]);
    await pub.publishAsync("sensors/pump/vib", JSON.stringify({ rms: 0.5 }));
    await waitFor(() => c.signals.length >= 1, 5000, "signal");
    assert.deepStrictEqual(c.signals.map((s) => [s.tag, s.value]), [["sensors.pump.vib.rms", 0.5]]);
  });

  it("refuses a bad topic filter at deploy with an error for Catch", async () => {
    await helper.load(nodes, flow(broker.url, { topics: [{ topic: "a/#/b" }] }));
    const caught = await nextMessage(helper.getNode("caught"));
    assert.match(String((caught.error as { message: string }).message), /not a valid MQTT topic filter/);
  });
});

describe("otb-mqtt-in against the line simulator's MQTT sensors", () => {
  afterEach(() => helper.unload());
  it("reads its JSON sensors by a payload-named tag, and its Sparkplug edge nodes after asking for a rebirth", async function () {
    this.timeout(20_000);
    const { startSimulator } = await import("../../cli/sim");
    const sim = await startSimulator({ seed: 5, speed: 10, protocols: { opcua: false, modbus: false, mqtt: true }, mqttPort: 0, sensorFormat: "both" } as never);
    try {
      const url = (sim as unknown as { mqttUrl: string }).mqttUrl;
      await helper.load(nodes, flow(url, {
        topics: [{ topic: "otbridge/+/sensors/+/data", qos: 0 }, { topic: "spBv1.0/otbridge/#", qos: 0 }],
        mapping: [{ topic: "otbridge/+/sensors/+/data", field: "rms", tag: "{field:tag}", unit: "{field:unit}", tsField: "ts" }],
        requestRebirth: true,
      }));
      const c = collect();
      // The sensors were born before this node subscribed: their DATA comes first, is refused
      // with data_before_birth, and the node's rebirth request brings a fresh NBIRTH.
      await waitFor(() => c.signals.some((s) => s.tag === "line1-vib-de.rms" && s.quality === "good"), 10_000, "sparkplug values after rebirth");
      await waitFor(() => c.signals.some((s) => s.tag === "pump1.vibration.de_rms"), 5000, "JSON values");
      const json = c.signals.find((s) => s.tag === "pump1.vibration.de_rms")!;
      assert.strictEqual(json.unit, "g");
      assert.strictEqual(typeof json.value, "number");
      assert.ok(c.refused.every((m) => m.reason === "data_before_birth"), `only data_before_birth refused: ${c.refused.map((m) => m.reason).join(",")}`);
      for (const s of c.signals) assert.ok(validateSignal(s), s.tag);
    } finally {
      await helper.unload();
      await sim.stop();
    }
  });
});

describe("otb-mqtt-in (Node-RED, Debian mosquitto)", () => {
  afterEach(() => helper.unload());
  itWithMosquitto("reads JSON sensors and Sparkplug through mosquitto", async () => {
    const mosq = await startMosquitto();
    try {
      await helper.load(nodes, flow(mosq.url, { batchMs: "20" }));
      const c = collect();
      const pub = await publisher(mosq.url);
      // mosquitto offers no subscribe hook here: publish until the node has subscribed.
      await waitFor(async () => {
        await pub.publishAsync("sensors/m", JSON.stringify({ v: 9 }));
        return c.signals.length > 0;
      }, 5000, "first JSON value");
      await pub.publishAsync("spBv1.0/g/NBIRTH/m1", Buffer.from(tahu.encodePayload({ seq: 0, metrics: [{ name: "x", alias: 1, type: "Double", value: 0.5 }] })));
      await waitFor(() => c.signals.some((s) => s.tag === "m1.x" && s.value === 0.5), 3000, "sparkplug value");
      await pub.endAsync(true);
    } finally {
      await helper.unload();
      await mosq.close();
    }
  });
});
