/**
 * Sparkplug B mode of the conduit against aedes, with a fake primary host that decodes every
 * payload with Eclipse Tahu's independent decoder (sparkplug-payload).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { connectAsync, type MqttClient } from "mqtt";
import type { Conduit } from "../../nodes/otb-conduit/conduit";
import { Publisher } from "../../nodes/otb-publish/publish-logic";
import { itWithMosquitto } from "../helpers/interop";
import { delay, startAedes, startMosquitto, waitFor, type AedesBroker } from "../helpers/peers";
import { BlackHoleProxy, assertInvariant, connectUser, makeConduit, tempDir } from "./harness";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tahu = require("sparkplug-payload").get("spBv1.0") as {
  encodePayload(p: unknown): Uint8Array;
  decodePayload(b: Uint8Array): TahuPayload;
};
interface TahuMetric { name?: string; alias?: unknown; type: string; value: unknown; isHistorical?: boolean }
interface TahuPayload { seq?: unknown; timestamp?: unknown; metrics: TahuMetric[] }

const ctx = { enterprise: "acme", site: "s1", area: "a1", line: "l1" };
const signal = (tag: string, value: number | boolean) =>
  ({ tag, value, ts: Date.now(), quality: "good", source: { protocol: "sim", address: tag }, context: ctx });

class Host {
  readonly messages: Array<{ type: string; payload: TahuPayload }> = [];
  constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload) => {
      const type = topic.split("/")[2];
      if (type === "STATE" || topic.startsWith("spBv1.0/STATE")) return;
      this.messages.push({ type, payload: tahu.decodePayload(payload) });
    });
  }
  static async start(url: string): Promise<Host> {
    const client = await connectAsync(url, { protocolVersion: 4, clientId: "scada-host" });
    await client.subscribeAsync("spBv1.0/G1/#", { qos: 1 });
    return new Host(client);
  }
  of(type: string): TahuPayload[] {
    return this.messages.filter((m) => m.type === type).map((m) => m.payload);
  }
  async state(online: boolean, timestamp = Date.now()): Promise<void> {
    await this.client.publishAsync("spBv1.0/STATE/scada", JSON.stringify({ online, timestamp }), { qos: 1, retain: true });
  }
  async command(metrics: unknown[], type = "NCMD", device = ""): Promise<void> {
    const topic = `spBv1.0/G1/${type}/E1${device ? `/${device}` : ""}`;
    await this.client.publishAsync(topic, Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics })), { qos: 0 });
  }
}

const bdSeqOf = (p: TahuPayload): number => Number(String(p.metrics.find((m) => m.name === "bdSeq")!.value));

describe("otb-conduit in Sparkplug B mode (aedes, Eclipse Tahu decoder)", function () {
  this.timeout(30_000);
  let broker: AedesBroker;
  let host: Host;
  let dir: string;
  const conduits: Conduit[] = [];
  const subscriptions: string[] = [];

  beforeEach(async () => {
    broker = await startAedes();
    broker.broker.on("subscribe", (subs, client) => {
      if (client?.id === "edge-e1") subscriptions.push(...subs.map((s) => s.topic));
    });
    host = await Host.start(broker.url);
    dir = tempDir("otb-sp-");
    subscriptions.length = 0;
  });
  afterEach(async () => {
    for (const c of conduits.splice(0)) await c.close();
    await host.client.endAsync();
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function sparkplugConduit(primaryHost = "scada"): { conduit: Conduit; publish(payload: unknown): Promise<void> } {
    const conduit = makeConduit({ broker: broker.url, queueDir: dir, protocolVersion: "4", clientId: "edge-e1", allowTopics: ["spBv1.0/G1/#"],
      mode: "sparkplug", spGroup: "G1", spEdgeNode: "E1", spPrimaryHost: primaryHost });
    conduits.push(conduit);
    const publisher = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic: "spBv1.0/G1/NDATA/E1" }, conduit.policy);
    connectUser(conduit);
    return {
      conduit,
      publish: async (payload) => {
        const prepared = publisher.prepare(payload, { line: null });
        assert.deepEqual(prepared.refused, []);
        await conduit.submit(prepared.records);
      },
    };
  }

  it("births with bdSeq, Rebirth and every metric with an alias, sends NDATA by alias, and subscribes to exactly NCMD and STATE", async () => {
    await host.state(true);
    const { conduit, publish } = sparkplugConduit();
    await waitFor(() => host.of("NBIRTH").length === 1, 5000, "first NBIRTH");
    await publish([signal("pump1.current", 12.5), signal("pump1.running", true)]);
    await waitFor(() => host.of("NDATA").length >= 1, 5000, "NDATA");
    const births = host.of("NBIRTH");
    const birth = births[births.length - 1];
    const names = birth.metrics.map((m) => m.name);
    assert.ok(names.includes("bdSeq") && names.includes("Node Control/Rebirth"));
    const current = birth.metrics.find((m) => m.name === "pump1.current")!;
    assert.equal(current.type, "Double");
    assert.ok(Number(String(current.alias)) > 0);
    assert.equal(Number(String(birth.seq)), 0);
    const data = host.of("NDATA")[0];
    assert.equal(Number(String(data.seq)), 1);
    assert.ok(data.metrics.every((m) => m.name === undefined && m.alias !== undefined), "NDATA by alias only");
    const byAlias = new Map(data.metrics.map((m) => [String(m.alias), m.value]));
    assert.equal(byAlias.get(String(current.alias)), 12.5);
    assert.deepEqual([...subscriptions].sort(), ["spBv1.0/G1/NCMD/E1", "spBv1.0/STATE/scada"]);
    await waitFor(() => conduit.stats().queued === 0, 3000, "delivered");
    assertInvariant(conduit);
  });

  it("keeps bdSeq across a restart, and its NDEATH will carries the bdSeq of the session", async () => {
    await host.state(true);
    let { conduit } = sparkplugConduit();
    await waitFor(() => host.of("NBIRTH").length === 1, 5000, "NBIRTH");
    const first = bdSeqOf(host.of("NBIRTH")[0]);
    // Kill the edge's connection at the broker: the will (NDEATH) must carry the same bdSeq.
    for (const client of Object.values((broker.broker as unknown as { clients: Record<string, { id: string; conn: { destroy(): void } }> }).clients)) {
      if (client.id === "edge-e1") client.conn.destroy();
    }
    await waitFor(() => host.of("NDEATH").length === 1, 5000, "NDEATH will");
    assert.equal(bdSeqOf(host.of("NDEATH")[0]), first);
    await waitFor(() => host.of("NBIRTH").length === 2, 5000, "NBIRTH after reconnect");
    assert.equal(bdSeqOf(host.of("NBIRTH")[1]), (first + 1) % 256, "a new CONNECT, a new bdSeq");
    await conduit.close();
    conduits.splice(0);
    ({ conduit } = sparkplugConduit());
    await waitFor(() => host.of("NBIRTH").length === 3, 5000, "NBIRTH after restart");
    assert.equal(bdSeqOf(host.of("NBIRTH")[2]), (first + 2) % 256, "bdSeq survived the restart");
  });

  it("honours Node Control/Rebirth with the same bdSeq; refuses and counts any other NCMD; never hears DCMD", async () => {
    await host.state(true);
    const { conduit } = sparkplugConduit();
    await waitFor(() => host.of("NBIRTH").length === 1, 5000, "NBIRTH");
    const bdSeq = bdSeqOf(host.of("NBIRTH")[0]);
    await host.command([{ name: "Node Control/Rebirth", type: "Boolean", value: true }]);
    await waitFor(() => host.of("NBIRTH").length === 2, 5000, "rebirth");
    assert.equal(bdSeqOf(host.of("NBIRTH")[1]), bdSeq);
    await host.command([{ name: "Node Control/Reboot", type: "Boolean", value: true }]);
    await host.command([{ name: "pump1.setpoint", type: "Double", value: 99 }], "DCMD", "D1");
    await waitFor(() => conduit.stats().sparkplug!.refusedCommands === 1, 3000, "the refused NCMD");
    await delay(300);
    assert.equal(conduit.stats().sparkplug!.refusedCommands, 1, "DCMD never arrives: not subscribed");
    assert.equal(host.of("NBIRTH").length, 2, "no other command caused anything");
  });

  it("buffers while the primary host is offline and flushes the backlog as historical after a fresh NBIRTH", async () => {
    await host.state(true, 1000);
    const { conduit, publish } = sparkplugConduit();
    await waitFor(() => host.of("NBIRTH").length === 1, 5000, "NBIRTH");
    await publish([signal("t1", 1)]);
    await waitFor(() => host.of("NDATA").length === 1, 5000, "live NDATA");
    await host.state(false, 2000);
    await waitFor(() => host.of("NDEATH").length >= 1, 5000, "NDEATH when the host goes offline");
    const dataBefore = host.of("NDATA").length;
    for (let i = 2; i <= 6; i++) await publish([signal("t1", i)]);
    await delay(500);
    assert.equal(host.of("NDATA").length, dataBefore, "nothing sent while the host is offline");
    assert.equal(conduit.stats().queued, 5);
    const birthsBefore = host.of("NBIRTH").length;
    await host.state(true, 3000);
    await waitFor(() => conduit.stats().queued === 0, 5000, "flushed");
    await waitFor(() => host.of("NDATA").slice(dataBefore).flatMap((p) => p.metrics).length === 5, 5000, "the flush at the host");
    assert.ok(host.of("NBIRTH").length > birthsBefore, "a fresh NBIRTH first");
    const order = host.messages.map((m) => m.type);
    assert.ok(order.lastIndexOf("NBIRTH") < order.length - 1 && order.lastIndexOf("NBIRTH") > order.lastIndexOf("NDEATH"));
    const flushed = host.of("NDATA").slice(dataBefore).flatMap((p) => p.metrics);
    assert.deepEqual(flushed.map((m) => m.value), [2, 3, 4, 5, 6]);
    assert.ok(flushed.every((m) => m.isHistorical === true), "flagged historical");
    await publish([signal("t1", 7)]);
    await waitFor(() => host.of("NDATA").flatMap((p) => p.metrics).some((m) => m.value === 7), 5000, "live again");
    const live = host.of("NDATA").flatMap((p) => p.metrics).find((m) => m.value === 7)!;
    assert.notEqual(live.isHistorical, true);
    assertInvariant(conduit);
  });

  itWithMosquitto("on MQTT 5 to mosquitto: BIRTH and DATA decode with Tahu, and a dropped link leaves the NDEATH will", async () => {
    const mosq = await startMosquitto();
    const mhost = await Host.start(mosq.url);
    const proxy = await BlackHoleProxy.start(mosq.port);
    const conduit = makeConduit({ broker: proxy.url, queueDir: dir, protocolVersion: "5", clientId: "edge-e1-v5", allowTopics: ["spBv1.0/G1/#"],
      mode: "sparkplug", spGroup: "G1", spEdgeNode: "E1", keepalive: 1 });
    const publisher = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic: "spBv1.0/G1/NDATA/E1" }, conduit.policy);
    connectUser(conduit);
    try {
      await waitFor(() => mhost.of("NBIRTH").length === 1, 5000, "NBIRTH");
      await conduit.submit(publisher.prepare([signal("v5.metric", 3.25)], { line: null }).records);
      await waitFor(() => mhost.of("NDATA").length === 1, 5000, "NDATA");
      assert.equal(mhost.of("NDATA")[0].metrics[0].value, 3.25);
      const bdSeq = bdSeqOf(mhost.of("NBIRTH").at(-1)!);
      proxy.blackHole = true; // the broker stops hearing the edge: after 1.5 x keepalive it sends the will
      await waitFor(() => mhost.of("NDEATH").length === 1, 6000, "NDEATH will from mosquitto");
      assert.equal(bdSeqOf(mhost.of("NDEATH")[0]), bdSeq);
    } finally {
      await conduit.close();
      await proxy.close();
      await mhost.client.endAsync();
      await mosq.close();
    }
  });
});
