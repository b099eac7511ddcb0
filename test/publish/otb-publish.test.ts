import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { connectAsync, type MqttClient } from "mqtt";
import { helper, nextMessage, tab } from "../helpers/red";
import { itWithMosquitto } from "../helpers/interop";
import { startAedes, startMosquitto, waitFor, type AedesBroker } from "../helpers/peers";
import { statusesOf } from "./harness";
import type { Signal } from "../../nodes/shared";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const conduitNode = require("../../nodes/otb-conduit/otb-conduit");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const publishNode = require("../../nodes/otb-publish/otb-publish");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lineNode = require("../../nodes/otb-line/otb-line");

const ctx = { enterprise: "acme", site: "s1", area: "a1", line: "l1" };
const signal = (tag: string, value: number, extra: Partial<Signal> = {}): Signal =>
  ({ tag, value, ts: 1_700_000_000_000, quality: "good", source: { protocol: "sim", address: tag }, context: ctx, ...extra });

describe("otb-publish through otb-conduit (aedes)", function () {
  let broker: AedesBroker;
  let sub: MqttClient;
  let dir: string;
  const received: Array<{ topic: string; body: Record<string, unknown> }> = [];

  beforeEach(async () => {
    broker = await startAedes();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-pub-"));
    // aedes 0.51 speaks MQTT 3.1.1 only; the MQTT 5 behaviour is tested against mosquitto.
    sub = await connectAsync(broker.url, { protocolVersion: 4, clientId: "independent-subscriber" });
    await sub.subscribeAsync("#", { qos: 1 });
    received.length = 0;
    sub.on("message", (topic, payload) => received.push({ topic, body: JSON.parse(payload.toString()) }));
  });

  afterEach(async () => {
    await helper.unload();
    await sub.endAsync();
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const flow = (conduit: Record<string, unknown> = {}, publish: Record<string, unknown> = {}) => tab([
    { id: "c1", type: "otb-conduit", broker: broker.url, sourceZone: "L3", targetZone: "DMZ", allowTopics: ["acme/#"],
      queueDir: dir, commitMs: 5, keepalive: 5, protocolVersion: "4", ...conduit },
    { id: "p1", type: "otb-publish", conduit: "c1", wires: [], ...publish },
    { id: "complete1", type: "complete", scope: ["p1"], wires: [["completed"]] },
    { id: "completed", type: "helper" },
    { id: "catch1", type: "catch", scope: ["p1"], wires: [["caught"]] },
    { id: "caught", type: "helper" },
  ]);

  it("publishes a Signal batch to UNS topics, QoS 1, and completes once queued on disk", async () => {
    await helper.load([conduitNode, publishNode, lineNode], flow());
    const completed = nextMessage(helper.getNode("completed"));
    helper.getNode("p1").receive({ payload: [signal("pump1.current", 1.5), signal("pump1.temp", 40)] });
    await completed;
    await waitFor(() => received.length === 2, 5000, "two messages at the subscriber");
    assert.deepEqual(received.map((r) => r.topic).sort(), ["acme/s1/a1/l1/pump1.current", "acme/s1/a1/l1/pump1.temp"]);
    assert.equal(received.find((r) => r.topic.endsWith("current"))!.body.value, 1.5);
    const stats = helper.getNode("c1").conduit.stats();
    await waitFor(() => helper.getNode("c1").conduit.stats().delivered === 2, 2000, "delivered counter");
    assert.equal(stats.produced, 2);
  });

  it("refuses non-allowlisted topics and injected wildcards, counts them and reports to Catch; the rest goes", async () => {
    await helper.load([conduitNode, publishNode, lineNode], flow());
    const caught = nextMessage(helper.getNode("caught"));
    helper.getNode("p1").receive({ payload: [
      signal("ok", 1),
      signal("bad+tag", 2),
      signal("x", 3, { context: { ...ctx, site: "#" } }),
      signal("y", 4, { context: { ...ctx, enterprise: "other" } }),
      signal("z", 5, { context: { ...ctx, area: "$SYS" } }),
    ] });
    const msg = await caught;
    const error = msg.error as { message: string };
    assert.match(error.message, /refused 4 of 5/);
    assert.match(error.message, /topic_injection x3/);
    assert.match(error.message, /not_allowlisted x1/);
    await waitFor(() => received.length === 1, 5000, "the one allowed message");
    assert.equal(received[0].topic, "acme/s1/a1/l1/ok");
    const refused = helper.getNode("c1").conduit.stats().refused;
    assert.equal(refused.topic_injection, 3);
    assert.equal(refused.not_allowlisted, 1);
  });

  it("refuses a message kind the policy does not allow", async () => {
    await helper.load([conduitNode, publishNode, lineNode], flow({ allowInference: false }));
    const caught = nextMessage(helper.getNode("caught"));
    helper.getNode("p1").receive({ payload: { kind: "inference", ts: 1, model: { name: "m", version: "1", sha256: "a".repeat(64) },
      outputs: { y: [1] }, score: 0.5, latencyMs: 2, context: ctx } });
    const msg = await caught;
    assert.match((msg.error as { message: string }).message, /kind_not_allowed/);
  });

  it("never sends SUBSCRIBE in plain mode (checked at the broker)", async () => {
    const subscribers: string[] = [];
    broker.broker.on("subscribe", (_subs, client) => {
      if (client) subscribers.push(client.id);
    });
    await helper.load([conduitNode, publishNode, lineNode], flow({ clientId: "conduit-under-test" }));
    const completed = nextMessage(helper.getNode("completed"));
    helper.getNode("p1").receive({ payload: signal("a", 1) });
    await completed;
    await waitFor(() => received.length === 1, 5000, "delivery");
    assert.deepEqual(subscribers.filter((id) => id === "conduit-under-test"), []);
  });

  it("refuses to start a plaintext conduit into L4, reports it, and never connects", async () => {
    const clients: string[] = [];
    broker.broker.on("client", (c) => {
      clients.push(c.id);
    });
    await helper.load([conduitNode, publishNode, lineNode], flow({ targetZone: "L4", clientId: "l4-conduit", protocolVersion: "5" }));
    const p1 = helper.getNode("p1");
    const c1 = helper.getNode("c1");
    assert.match(c1.configError, /into L4 a conduit needs TLS/);
    const caught = nextMessage(helper.getNode("caught"));
    p1.receive({ payload: signal("a", 1) });
    assert.match(((await caught).error as { message: string }).message, /L4/);
    await new Promise((r) => setTimeout(r, 300));
    const status = statusesOf("p1").at(-1);
    assert.deepEqual([status?.fill, status?.shape], ["red", "dot"]);
    assert.match(String(status?.text), /^config: conduit: into L4 a conduit needs TLS/);
    assert.deepEqual(clients.filter((c) => c === "l4-conduit"), []);
    assert.equal(received.length, 0);
  });

  it("uses the line's identity when a Signal carries no context, and a topic template when asked", async () => {
    await helper.load([conduitNode, publishNode, lineNode], [
      ...flow({ allowTopics: ["acme/#", "plant/#"] }, { line: "line1", topicMode: "template", template: "plant/{line}/{tag}" }),
      { id: "line1", type: "otb-line", enterprise: "acme", site: "s9", area: "a9", line: "l9", timeZone: "UTC" },
    ]);
    const completed = nextMessage(helper.getNode("completed"));
    helper.getNode("p1").receive({ payload: { ...signal("t1", 7), context: undefined } });
    await completed;
    await waitFor(() => received.length === 1, 5000, "delivery");
    assert.equal(received[0].topic, "plant/l9/t1");
  });

  it("report-by-exception suppresses changes within the deadband, per topic", async () => {
    await helper.load([conduitNode, publishNode, lineNode], flow({}, { rbe: true, deadband: 0.5 }));
    const p1 = helper.getNode("p1");
    for (const v of [10, 10.2, 10.4, 11, 11.3]) {
      const completed = nextMessage(helper.getNode("completed"));
      p1.receive({ payload: signal("level", v) });
      await completed;
    }
    await waitFor(() => received.length === 2, 5000, "two changes");
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(received.map((r) => r.body.value), [10, 11]);
  });

  itWithMosquitto("a record the broker refuses (MQTT 5 ACL) is quarantined and reported to the publisher's Catch node", async () => {
    fs.chmodSync(dir, 0o755);
    const acl = path.join(dir, "acl");
    fs.writeFileSync(acl, "topic write acme/s1/a1/l1/allowed\n", { mode: 0o644 });
    const mosq = await startMosquitto([`acl_file ${acl}`]);
    try {
      await helper.load([conduitNode, publishNode, lineNode], flow({ broker: mosq.url, protocolVersion: "5", queueDir: path.join(dir, "q") }));
      const caught = nextMessage(helper.getNode("caught"));
      helper.getNode("p1").receive({ payload: [signal("allowed", 1), signal("denied", 2)] });
      const msg = await caught;
      assert.match((msg.error as { message: string }).message, /quarantined acme\/s1\/a1\/l1\/denied: broker refused: reason code 0x87/);
      assert.equal(msg.topic, "acme/s1/a1/l1/denied");
      assert.equal((msg.error as { source: { id: string } }).source.id, "c1");
      await waitFor(() => helper.getNode("c1").conduit.stats().delivered === 1, 3000, "the allowed one delivered");
    } finally {
      await helper.unload();
      await mosq.close();
    }
  });

  it("deregisters from the conduit on close, leaving its users empty", async () => {
    await helper.load([conduitNode, publishNode, lineNode], flow());
    const c1 = helper.getNode("c1");
    assert.equal(Object.keys(c1.users).length, 1);
    await helper.getNode("p1").close(true);
    assert.equal(Object.keys(c1.users).length, 0);
  });
});
