/**
 * otb-mqtt-in as a Sparkplug B host, against real edge nodes (mqtt.js clients publishing
 * Tahu-encoded payloads through aedes) and the line simulator: DATA before BIRTH (issue 14
 * item 9), and what else a host must get right: seq wrap and reorder, devices, NDEATH bdSeq,
 * alias re-use after a rebirth, DATA that omits the datatype, duplicate aliases.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as mqtt from "mqtt";
import brokerNode = require("../../nodes/otb-mqtt-broker/otb-mqtt-broker");
import mqttInNode = require("../../nodes/otb-mqtt-in/otb-mqtt-in");
import { validateSignal, type Signal } from "../../nodes/shared";
import { startAedes, waitFor, type AedesBroker } from "../helpers/peers";
import { helper, tab, withCoreNodes } from "../helpers/red";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tahu = require("sparkplug-payload").get("spBv1.0") as { encodePayload(p: unknown): Uint8Array; decodePayload(b: Uint8Array): { metrics: Array<{ name?: string; value: unknown }> } };
const enc = (p: unknown): Buffer => Buffer.from(tahu.encodePayload(p));
const nodes = withCoreNodes([brokerNode, mqttInNode]);

interface Seen {
  signals: Signal[];
  refused: Array<Record<string, unknown>>;
  caught: Array<Record<string, unknown>>;
}

function collect(): Seen {
  const c: Seen = { signals: [], refused: [], caught: [] };
  const on = (id: string, f: (m: Record<string, unknown>) => void): void => void helper.getNode(id).on("input", f as never);
  on("out", (m) => c.signals.push(...(m.payload as Signal[])));
  on("refused", (m) => c.refused.push(m));
  on("caught", (m) => c.caught.push(m));
  return c;
}

/** An edge node: a real MQTT client that counts the NCMDs it receives. */
class Edge {
  readonly ncmds: Array<{ name?: string; value: unknown }> = [];
  seq = 0;
  private constructor(readonly client: mqtt.MqttClient, readonly id: string) {}

  static async start(url: string, id: string): Promise<Edge> {
    const client = await mqtt.connectAsync(url, { clientId: `edge-${id}` });
    const edge = new Edge(client, id);
    client.on("message", (_t, payload) => edge.ncmds.push(...tahu.decodePayload(payload).metrics));
    await client.subscribeAsync(`spBv1.0/g/NCMD/${id}`, { qos: 0 });
    return edge;
  }

  send(type: string, payload: Record<string, unknown>, device?: string): Promise<unknown> {
    return this.client.publishAsync(`spBv1.0/g/${type}/${this.id}${device ? `/${device}` : ""}`, enc(payload), { qos: 1 });
  }

  birth(bdSeq: number, metrics: unknown[] = [{ name: "rms", alias: 1, type: "Double", value: 0.5 }]): Promise<unknown> {
    this.seq = 0;
    return this.send("NBIRTH", { seq: 0, metrics: [{ name: "bdSeq", type: "UInt64", value: bdSeq }, { name: "Node Control/Rebirth", type: "Boolean", value: false }, ...metrics] });
  }

  data(metrics: unknown[], device?: string): Promise<unknown> {
    this.seq = (this.seq + 1) % 256;
    return this.send(device ? "DDATA" : "NDATA", { seq: this.seq, metrics }, device);
  }
}

describe("otb-mqtt-in as a Sparkplug B host (aedes, real edge nodes)", () => {
  let broker: AedesBroker;
  const edges: Edge[] = [];
  let ncmdsAtBroker: string[];
  beforeEach(async () => {
    broker = await startAedes();
    ncmdsAtBroker = [];
    broker.broker.on("publish", (packet) => {
      if (/^spBv1\.0\/[^/]+\/NCMD\//.test(packet.topic)) ncmdsAtBroker.push(packet.topic);
    });
  });
  afterEach(async () => {
    await helper.unload();
    for (const e of edges.splice(0)) await e.client.endAsync(true);
    await broker.close();
  });

  async function load(over: Record<string, unknown> = {}): Promise<Seen> {
    let subs = 0;
    broker.broker.on("subscribe", (s, client) => {
      if (client?.id?.startsWith("otb-mqtt-")) subs += s.length;
    });
    await helper.load(nodes, tab([
      { id: "brk", type: "otb-mqtt-broker", broker: broker.url, protocolVersion: "4" },
      { id: "in", type: "otb-mqtt-in", broker: "brk", topics: [{ topic: "spBv1.0/#", qos: 1 }], format: "sparkplug", mapping: [], batchMs: "0", wires: [["out"], ["refused"]], ...over },
      { id: "out", type: "helper" },
      { id: "refused", type: "helper" },
      { id: "catcher", type: "catch", scope: ["in"], uncaught: false, wires: [["caught"]] },
      { id: "caught", type: "helper" },
    ]));
    const c = collect();
    await waitFor(() => subs >= 1, 5000, "node subscribed");
    return c;
  }

  async function edge(id: string): Promise<Edge> {
    const e = await Edge.start(broker.url, id);
    edges.push(e);
    return e;
  }

  const beforeBirth = (c: Seen): Array<Record<string, unknown>> => c.refused.filter((m) => m.reason === "data_before_birth");
  const caughtBeforeBirth = (c: Seen): Array<Record<string, unknown>> => c.caught.filter((m) => m.reason === "data_before_birth");

  it("DATA before BIRTH, opted in: one Rebirth NCMD and one Catch report per edge node per outage, every refused payload on output 2, values after the BIRTH", async function () {
    this.timeout(30_000);
    const c = await load({ requestRebirth: true });
    const [e1, e2] = [await edge("e1"), await edge("e2")];
    const started = Date.now();
    // Both edges were born before this host subscribed: their DATA comes first.
    for (let i = 0; i < 5; i++) for (const e of [e1, e2]) await e.data([{ alias: 1, type: "Double", value: i }]);
    await waitFor(() => beforeBirth(c).length >= 10, 10_000, "10 refused");
    await waitFor(() => e1.ncmds.length >= 1 && e2.ncmds.length >= 1, 10_000, "rebirth NCMDs at the edges");
    assert.deepStrictEqual(caughtBeforeBirth(c).map((m) => m.topic), ["spBv1.0/g/NDATA/e1", "spBv1.0/g/NDATA/e2"]);
    assert.match(String((caughtBeforeBirth(c)[0].error as { message: string }).message), /rebirth requested/);
    // One request per edge while its NDATA kept coming (one more per 10 s should the machine be that slow).
    const windows = 1 + Math.floor((Date.now() - started) / 10_000);
    for (const e of [e1, e2]) {
      assert.ok(e.ncmds.length >= 1 && e.ncmds.length <= windows, `${e.id}: ${e.ncmds.length} requests`);
      for (const m of e.ncmds) assert.deepStrictEqual([m.name, m.value], ["Node Control/Rebirth", true]);
    }
    // The edges answer as Sparkplug says: a fresh NBIRTH, then DATA flows.
    for (const e of [e1, e2]) await e.birth(1);
    for (const e of [e1, e2]) await e.data([{ alias: 1, type: "Double", value: 7 }]);
    await waitFor(() => c.signals.filter((s) => s.value === 7).length >= 2, 5000, "data after the BIRTH");
    assert.deepStrictEqual(c.signals.filter((s) => s.value === 7).map((s) => [s.tag, s.quality]), [["e1.rms", "good"], ["e2.rms", "good"]]);
    // A second outage of e1 (it dies, its DATA comes back without a BIRTH) is a new report.
    await e1.send("NDEATH", { metrics: [{ name: "bdSeq", type: "UInt64", value: 1 }] });
    await e1.data([{ alias: 1, type: "Double", value: 8 }]);
    await e1.data([{ alias: 1, type: "Double", value: 9 }]);
    await waitFor(() => beforeBirth(c).length >= 12, 5000, "refused again");
    await waitFor(() => caughtBeforeBirth(c).length >= 3, 5000, "second outage reported");
    assert.deepStrictEqual(caughtBeforeBirth(c).map((m) => m.topic), ["spBv1.0/g/NDATA/e1", "spBv1.0/g/NDATA/e2", "spBv1.0/g/NDATA/e1"]);
    const stats = (helper.getNode("in") as unknown as { stats(): { refused: number; rebirthRequests: number; suppressedReports: number; sparkplug: { dataBeforeBirth: number } } }).stats();
    assert.strictEqual(stats.sparkplug.dataBeforeBirth, 12);
    assert.strictEqual(stats.refused, 12);
    assert.strictEqual(stats.suppressedReports, 12 - 3);
    await waitFor(() => ncmdsAtBroker.length === stats.rebirthRequests, 5000, "every request counted and at the broker");
    assert.ok(stats.rebirthRequests >= 2);
    assert.ok(c.signals.some((s) => s.tag === "e1.rms" && s.reasons?.includes("comm_lost")), "the death is seen");
  });

  it("DATA before BIRTH, not opted in: no NCMD is ever published, one Catch report per edge node saying how to get one", async function () {
    this.timeout(30_000);
    const c = await load();
    const e1 = await edge("e1");
    for (let i = 0; i < 4; i++) await e1.data([{ alias: 1, type: "Double", value: i }]);
    await waitFor(() => beforeBirth(c).length >= 4 && caughtBeforeBirth(c).length >= 1, 10_000, "refused");
    assert.strictEqual(caughtBeforeBirth(c).length, 1);
    assert.match(String((caughtBeforeBirth(c)[0].error as { message: string }).message), /ask for a rebirth/);
    // A request would have left in the same turn as the refusal: once the node's client has
    // disconnected, the broker has handled everything it sent.
    const gone = new Promise<void>((resolve) => broker.broker.on("clientDisconnect", (client) => client.id.startsWith("otb-mqtt-") && resolve()));
    await helper.unload();
    await gone;
    assert.deepStrictEqual(ncmdsAtBroker, []);
    assert.deepStrictEqual(e1.ncmds, []);
    // The edge's next BIRTH (on its own schedule) is what a listen-only host waits for.
  });

  it("malformed payloads from one edge node: each on output 2, one Catch report until its next BIRTH", async function () {
    this.timeout(30_000);
    const c = await load();
    const e = await edge("m");
    const junk = Buffer.from([0x0a, 0xff, 0xff]);
    for (let i = 0; i < 3; i++) await e.client.publishAsync("spBv1.0/g/NDATA/m", junk, { qos: 1 });
    await e.birth(0);
    await e.client.publishAsync("spBv1.0/g/NDATA/m", junk, { qos: 1 });
    await e.data([{ alias: 1, type: "Double", value: 3 }]);
    await waitFor(() => c.refused.length >= 4 && c.signals.some((s) => s.value === 3), 5000, "refused and data");
    assert.deepEqual(c.refused.map((m) => m.reason), Array(4).fill("sparkplug_malformed"));
    assert.equal(c.caught.filter((m) => m.reason === "sparkplug_malformed").length, 2, "one before the BIRTH, one after");
  });

  it("seq wraps 255 -> 0 without a gap; a reordered seq makes that message uncertain", async function () {
    this.timeout(30_000);
    const c = await load();
    const e = await edge("w");
    await e.birth(0);
    for (let i = 0; i < 258; i++) await e.data([{ alias: 1, type: "Double", value: i }]);
    await e.send("NDATA", { seq: 5, metrics: [{ alias: 1, type: "Double", value: -1 }] }); // expected 3
    await waitFor(() => c.signals.some((s) => s.value === -1), 10_000, "all data");
    const rms = c.signals.filter((s) => s.tag === "w.rms");
    assert.strictEqual(rms.length, 1 + 258 + 1);
    assert.deepStrictEqual(rms.filter((s) => s.quality !== "good").map((s) => [s.value, s.quality, s.reasons]), [[-1, "uncertain", ["seq_gap"]]]);
  });

  it("devices, alias re-use after a rebirth, stale and current NDEATH bdSeq, DATA without datatype, duplicate aliases", async function () {
    this.timeout(30_000);
    const c = await load();
    const e = await edge("n");
    await e.birth(4, [{ name: "a", alias: 1, type: "Int8", value: -3 }, { name: "b", alias: 2, type: "String", value: "x" }]);
    await e.send("DBIRTH", { seq: 1, metrics: [{ name: "temp", alias: 10, type: "Float", value: 20 }] }, "d1");
    e.seq = 1;
    await e.data([{ alias: 10, type: "Float", value: 21 }], "d1");
    // Rebirth (bdSeq 5) swaps the aliases: DATA must follow the new table.
    await e.birth(5, [{ name: "b", alias: 1, type: "String", value: "y" }, { name: "a", alias: 2, type: "Int8", value: -4 }, { name: "c", alias: 2, type: "Int8", value: 1 }]);
    await e.data([{ alias: 1, type: "String", value: "z" }]);
    // The spec says DATA should omit the datatype: an Int8 -5 by alias alone is still -5.
    await e.client.publishAsync("spBv1.0/g/NDATA/n", Buffer.from(negativeInt8WithoutDatatype(2, -5, ++e.seq)), { qos: 1 });
    // The device was not born again after its node's rebirth.
    await e.data([{ alias: 10, type: "Float", value: 22 }], "d1");
    await e.send("NDEATH", { metrics: [{ name: "bdSeq", type: "UInt64", value: 4 }] }); // the old session's will: ignored
    await e.data([{ alias: 1, type: "String", value: "still" }]);
    await e.send("NDEATH", { metrics: [{ name: "bdSeq", type: "UInt64", value: 5 }] });
    await waitFor(() => c.signals.some((s) => s.reasons?.includes("comm_lost")), 5000, "death");
    const seen = c.signals.map((s) => [s.tag, s.value, s.quality, ...(s.reasons ?? [])]);
    assert.deepStrictEqual(seen, [
      ["n.a", -3, "good"], ["n.b", "x", "good"],
      ["n.d1.temp", 20, "good"], ["n.d1.temp", 21, "good"],
      ["n.b", "y", "good"], ["n.a", -4, "good"],
      ["n.b", "z", "good"],
      ["n.a", -5, "good"],
      ["n.b", "still", "good"],
      // NDEATH with the current bdSeq: the node's tags and its device's are lost.
      ["n.a", null, "bad", "comm_lost"], ["n.b", null, "bad", "comm_lost"],
      // Its device was not born again after the rebirth, but its last values stood: lost too.
      ["n.d1.temp", null, "bad", "comm_lost"],
    ]);
    assert.deepStrictEqual(c.refused.map((m) => [m.reason, m.metric]), [["sparkplug:duplicate_alias", "c"], ["data_before_birth", undefined]]);
    for (const s of c.signals) assert.ok(validateSignal(s), s.tag);
    const sp = (helper.getNode("in") as unknown as { stats(): { sparkplug: Record<string, number> } }).stats().sparkplug;
    assert.strictEqual(sp.staleDeaths, 1);
    assert.strictEqual(sp.metrics, sp.valid + sp.invalid + sp.unknownAliases + sp.skipped);
  });
});

/** An NDATA whose one metric is an Int8 by alias with no datatype, as the spec recommends for DATA (Tahu's own encoder always writes one). */
function negativeInt8WithoutDatatype(alias: number, value: number, seq: number): Uint8Array {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Payload = require("sparkplug-payload/lib/sparkplugPayloadProto").org.eclipse.tahu.protobuf.Payload;
  return Payload.encode(Payload.fromObject({ seq, metrics: [{ alias, intValue: value >>> 0 }] })).finish();
}

describe("example 03 against the line simulator", () => {
  afterEach(() => helper.unload());
  it("reads the simulator's Sparkplug edge nodes after asking each once for a rebirth; Catch hears of each at most once", async function () {
    this.timeout(30_000);
    const { startSimulator } = await import("../../cli/sim");
    const sim = await startSimulator({ seed: 3, speed: 10, protocols: { opcua: false, modbus: false, mqtt: true }, mqttPort: 0, sensorFormat: "both" } as never);
    try {
      const url = (sim as unknown as { mqttUrl: string }).mqttUrl;
      const file = path.join(__dirname, "../../../examples/03 - Read MQTT sensors.json");
      const flow = (JSON.parse(fs.readFileSync(file, "utf8")) as Array<Record<string, unknown>>).filter((n) => n.type !== "debug" && n.type !== "comment");
      const input = flow.find((n) => n.type === "otb-mqtt-in")!;
      assert.strictEqual(input.requestRebirth, true, "example 03 opts in to rebirth requests");
      const brokerCfg = flow.find((n) => n.type === "otb-mqtt-broker")!;
      assert.strictEqual(input.broker, brokerCfg.id, "example 03 uses a broker node");
      brokerCfg.broker = url;
      input.wires = [["out"], ["refused"]];
      flow.find((n) => n.type === "catch")!.wires = [["caught"]];
      const z = input.z;
      flow.push({ id: "out", type: "helper", z }, { id: "refused", type: "helper", z }, { id: "caught", type: "helper", z });
      await helper.load(nodes, flow);
      const c = collect();
      await waitFor(() => c.signals.some((s) => s.tag.startsWith("line1-") && s.quality === "good"), 15_000, "Sparkplug values after the rebirth");
      await waitFor(() => c.signals.some((s) => s.tag === "pump1.vibration.de_rms"), 10_000, "JSON values");
      const edges = new Set(c.refused.filter((m) => m.reason === "data_before_birth").map((m) => String(m.topic)));
      const reports = c.caught.filter((m) => m.reason === "data_before_birth").map((m) => String(m.topic));
      assert.ok(reports.length <= edges.size && new Set(reports).size === reports.length, `one report per edge node: ${reports.join(", ")}`);
      assert.ok(c.refused.every((m) => m.reason === "data_before_birth"), `only data_before_birth refused: ${c.refused.map((m) => m.reason).join(",")}`);
      for (const s of c.signals) assert.ok(validateSignal(s), s.tag);
    } finally {
      await helper.unload();
      await sim.stop();
    }
  });
});
