/**
 * otb-mqtt-broker shared by otb-mqtt-in nodes, in Node-RED, against aedes and Debian's mosquitto:
 * one client per broker node, refused credentials reported once per outage to a real Catch node
 * and the status, subscriptions restored after a broker restart with QoS 1 values delivered
 * exactly once, a flow saved before the broker node existed running unchanged, and credentials
 * kept out of the flow file of a real Node-RED.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as mqtt from "mqtt";
import brokerNode = require("../../nodes/otb-mqtt-broker/otb-mqtt-broker");
import mqttInNode = require("../../nodes/otb-mqtt-in/otb-mqtt-in");
import type { Signal } from "../../nodes/shared";
import { startRuntime } from "../helpers/admin";
import { itWithMosquitto } from "../helpers/interop";
import { freePort, startMosquitto, startAedes, waitFor, type AedesBroker } from "../helpers/peers";
import { makePki } from "../publish/harness";
import { caughtWithin, helper, tab, withCoreNodes } from "../helpers/red";

const tlsNode = require(require.resolve("@node-red/nodes/core/network/05-tls.js")) as (RED: unknown) => void;
const nodes = withCoreNodes([brokerNode, mqttInNode, tlsNode]);

type Msg = Record<string, unknown>;

/**
 * A broker node, two otb-mqtt-in using it (topics a/# and b/#), one Catch and one Status node
 * scoped to both (the test helper loads a core node type once per node, so one of each). A
 * status says which user set it (msg.status.source.id); the broker node's errors reach the
 * Catch once per user (Node-RED relays a config node's error through each of its users, with the
 * config node as msg.error.source).
 */
function sharedFlow(url: string, broker: Record<string, unknown> = {}): Msg[] {
  const user = (id: string, topic: string): Msg[] => [
    { id, type: "otb-mqtt-in", broker: "brk", topics: [{ topic, qos: 1 }], format: "json", mapping: [], batchMs: "0", wires: [[`${id}-out`], []] },
    { id: `${id}-out`, type: "helper" },
  ];
  return tab([
    { id: "brk", type: "otb-mqtt-broker", name: "plant broker", broker: url, protocolVersion: "4", keepalive: 30, cleanSession: true, connectTimeout: 5, reconnectMax: 1, tls: "", ...broker },
    ...user("ina", "a/#"),
    ...user("inb", "b/#"),
    { id: "catcher", type: "catch", scope: ["ina", "inb"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper" },
    { id: "watcher", type: "status", scope: ["ina", "inb"], wires: [["statuses"]] },
    { id: "statuses", type: "helper" },
  ]);
}

interface Seen {
  signals: Signal[];
  statuses: string[];
}

function watch(id: string): Seen {
  const s: Seen = { signals: [], statuses: [] };
  const from = (m: Msg, key: string): unknown => ((m[key] as { source?: { id?: string } }).source ?? {}).id;
  helper.getNode(`${id}-out`).on("input", (m: Msg) => s.signals.push(...(m.payload as Signal[])));
  helper.getNode("statuses").on("input", (m: Msg) => from(m, "status") === id && s.statuses.push(String((m.status as { text?: string }).text ?? "")));
  return s;
}

/** What the Catch node receives. */
function caughtAll(): Msg[] {
  const caught: Msg[] = [];
  helper.getNode("caught").on("input", (m: Msg) => caught.push(m));
  return caught;
}

const errorText = (m: Msg): string => String((m.error as { message?: string }).message);
const values = (s: Seen, tag: string): unknown[] => s.signals.filter((x) => x.tag === tag && x.quality === "good").map((x) => x.value);

describe("otb-mqtt-broker (Node-RED, aedes)", () => {
  let broker: AedesBroker;
  beforeEach(async () => {
    broker = await startAedes();
  });
  afterEach(async () => {
    await helper.unload();
    await broker.close();
  });

  it("gives two otb-mqtt-in nodes one client, one login, and each only its own topics", async () => {
    const clients: string[] = [];
    broker.broker.on("client", (c) => clients.push(c.id));
    let subscribed = 0;
    broker.broker.on("subscribe", (subs) => (subscribed += subs.length));
    await helper.load(nodes, sharedFlow(broker.url), { brk: { username: "line1", password: "pw-not-in-flow" } });
    const a = watch("ina");
    const b = watch("inb");
    const caught = caughtAll();
    await waitFor(() => subscribed >= 2, 10_000, "both users subscribed");
    const pub = await mqtt.connectAsync(broker.url);
    await pub.publishAsync("a/s", JSON.stringify({ v: 1 }), { qos: 1 });
    await pub.publishAsync("b/s", JSON.stringify({ v: 2 }), { qos: 1 });
    await waitFor(() => a.signals.length >= 1 && b.signals.length >= 1, 5000, "values on both");
    await pub.endAsync(true);
    assert.deepStrictEqual(a.signals.map((s) => [s.tag, s.value]), [["a.s.v", 1]]);
    assert.deepStrictEqual(b.signals.map((s) => [s.tag, s.value]), [["b.s.v", 2]]);
    const ours = clients.filter((id) => id.startsWith("otb-"));
    assert.strictEqual(ours.length, 1, `one client for two nodes: ${clients.join(", ")}`);
    assert.deepStrictEqual(caught, []);
  });

  it("reports refused credentials once per outage in each user's Catch and status, while it keeps retrying", async function () {
    this.timeout(30_000);
    let attempts = 0;
    broker.broker.authenticate = (_client, username, password, done) => {
      attempts++;
      const ok = username === "line1" && String(password) === "right";
      done(ok ? null : Object.assign(new Error("bad user name or password"), { returnCode: 4 }) as never, ok);
    };
    await helper.load(nodes, sharedFlow(broker.url), { brk: { username: "line1", password: "wrong" } });
    const a = watch("ina");
    const b = watch("inb");
    const caught = caughtAll();
    // Three attempts (1 s backoff cap) and still one report, relayed once through each user.
    await waitFor(() => attempts >= 3, 20_000, "three refused attempts");
    await waitFor(() => a.statuses.some((t) => /comm_lost: not authorised/.test(t)) && b.statuses.some((t) => /comm_lost: not authorised/.test(t)), 5000, "status of both users");
    assert.strictEqual(caught.length, 2, caught.map(errorText).join(" | "));
    for (const m of caught) {
      assert.strictEqual((m.error as { source: { id: string } }).source.id, "brk");
      assert.match(errorText(m), /MQTT connection to plant broker \(mqtt:\/\/127\.0\.0\.1:\d+\) failed: not authorised: .*check the user name and password/);
    }
  });

  it("reports an unreachable broker once, as refused, while it keeps retrying", async function () {
    this.timeout(30_000);
    const closed = await freePort();
    await helper.load(nodes, sharedFlow(`mqtt://127.0.0.1:${closed}`));
    const a = watch("ina");
    const caught = caughtAll();
    const mqtt = (helper.getNode("brk") as unknown as { mqtt: { counters: { attempts: number } } }).mqtt;
    await waitFor(() => mqtt.counters.attempts >= 3, 20_000, "three attempts");
    await waitFor(() => caught.length >= 2, 5000, "Catch heard of it");
    assert.strictEqual(caught.length, 2, caught.map(errorText).join(" | "));
    assert.match(errorText(caught[0]), /failed: connection refused: .*is the broker running and is the port right\?/);
    assert.ok(a.statuses.some((t) => /comm_lost: connection refused/.test(t)), a.statuses.join(" | "));
  });

  it("reports a refused broker configuration once through each user; the users show config: broker: ... and report nothing of their own", async () => {
    let connects = 0;
    broker.broker.on("client", () => connects++);
    await helper.load(nodes, sharedFlow(broker.url, { keepalive: "0" }));
    const caught = await caughtWithin(helper.getNode("caught"), 10_000, 1500);
    // Node-RED relays a config node's error through each of its users, with the broker node as source.
    assert.deepStrictEqual(caught.map((m) => (m.error as { source?: { id?: string } }).source?.id), ["brk", "brk"], caught.map(errorText).join(" | "));
    for (const m of caught) assert.strictEqual(errorText(m), "ConfigError: keepalive must be at least 1 (got 0)");
    for (const id of ["ina", "inb"]) {
      const status = (helper.getNode(id) as unknown as { status: { lastCall?: { args: Array<{ fill?: string; text?: string }> } } }).status.lastCall?.args[0];
      assert.deepStrictEqual([status?.fill, status?.text], ["red", "config: broker: keepalive must be at least 1 (got 0)"]);
    }
    assert.strictEqual(connects, 0, "no connection with a refused configuration");
  });

  it("runs an otb-mqtt-in saved before otb-mqtt-broker (its own URL and login) unchanged, and says once how to migrate", async () => {
    broker.broker.authenticate = (_client, username, password, done) => done(null, username === "old" && String(password) === "login");
    const saved = JSON.parse(fs.readFileSync(path.join(__dirname, "../../../test/mqtt-in/fixtures/legacy-mqtt-in-flow.json"), "utf8")) as Msg[];
    process.env.LEGACY_MQTT_URL = broker.url;
    let subscribed = 0;
    broker.broker.on("subscribe", (subs) => (subscribed += subs.length));
    try {
      await helper.load(nodes, saved, { legacyin00000001: { username: "old", password: "login" } });
      const out: Signal[] = [];
      const caught: Msg[] = [];
      helper.getNode("legacyout0000001").on("input", (m: Msg) => out.push(...(m.payload as Signal[])));
      helper.getNode("legacycaught0001").on("input", (m: Msg) => caught.push(m));
      await waitFor(() => subscribed >= 1, 10_000, "legacy node subscribed");
      const pub = await mqtt.connectAsync(broker.url, { username: "old", password: "login" });
      await pub.publishAsync("sensors/p1", JSON.stringify({ rms: 0.5 }), { qos: 1 });
      await waitFor(() => out.length >= 1, 5000, "value");
      await pub.endAsync(true);
      assert.deepStrictEqual(out.map((s) => [s.tag, s.value, s.quality]), [["sensors.p1.rms", 0.5, "good"]]);
      assert.strictEqual(caught.length, 0);
      const warnings = (helper.log().args as Array<[{ level: number; msg: unknown }]>).filter(([e]) => e.level === 30 && /keeps its own connection/.test(String(e.msg)));
      assert.strictEqual(warnings.length, 1, "one warning saying how to migrate");
      assert.match(String(warnings[0][0].msg), /Move to a broker node/);
    } finally {
      delete process.env.LEGACY_MQTT_URL;
    }
  });
});

describe("otb-mqtt-broker (Node-RED, Debian mosquitto)", () => {
  afterEach(() => helper.unload());

  itWithMosquitto("restores both users' subscriptions after a broker restart; QoS 1 values arrive exactly once", async function () {
    this.timeout(40_000);
    const mosq = await startMosquitto();
    let pub: mqtt.MqttClient | null = null;
    try {
      await helper.load(nodes, sharedFlow(mosq.url));
      const a = watch("ina");
      const b = watch("inb");
      const caught = caughtAll();
      await waitFor(() => a.statuses.some((t) => /subscribed/.test(t)) && b.statuses.some((t) => /subscribed/.test(t)), 10_000, "subscribed");
      pub = await mqtt.connectAsync(mosq.url, { reconnectPeriod: 200 });
      for (let i = 1; i <= 5; i++) {
        await pub.publishAsync("a/x", JSON.stringify({ v: i }), { qos: 1 });
        await pub.publishAsync("b/x", JSON.stringify({ v: i }), { qos: 1 });
      }
      await waitFor(() => values(a, "a.x.v").length >= 5 && values(b, "b.x.v").length >= 5, 5000, "first five");
      await mosq.stop();
      await waitFor(() => a.signals.some((s) => s.quality === "bad") && b.signals.some((s) => s.quality === "bad"), 10_000, "comm_lost");
      const before = [a.statuses.length, b.statuses.length];
      await mosq.restart();
      await waitFor(() => a.statuses.slice(before[0]).some((t) => /subscribed/.test(t)) && b.statuses.slice(before[1]).some((t) => /subscribed/.test(t)), 20_000, "subscriptions restored");
      await waitFor(() => pub!.connected, 10_000, "publisher back");
      for (let i = 6; i <= 10; i++) {
        await pub.publishAsync("a/x", JSON.stringify({ v: i }), { qos: 1 });
        await pub.publishAsync("b/x", JSON.stringify({ v: i }), { qos: 1 });
      }
      await waitFor(() => values(a, "a.x.v").length >= 10 && values(b, "b.x.v").length >= 10, 5000, "all ten");
      // Let any duplicate (a second client, a second subscription, a replayed QoS 1 message) arrive.
      await new Promise((r) => setTimeout(r, 500));
      const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
      assert.deepStrictEqual(values(a, "a.x.v"), ten);
      assert.deepStrictEqual(values(b, "b.x.v"), ten);
      for (const [s, tag] of [[a, "a.x.v"], [b, "b.x.v"]] as const) {
        assert.deepStrictEqual(s.signals.filter((x) => x.quality === "bad").map((x) => [x.tag, x.reasons]), [[tag, ["comm_lost"]]]);
      }
      // One outage: one report, relayed once through each of the two users.
      assert.strictEqual(caught.length, 2, caught.map(errorText).join(" | "));
      for (const m of caught) assert.match(errorText(m), /MQTT connection to plant broker .* lost/);
    } finally {
      await pub?.endAsync(true);
      await helper.unload();
      await mosq.close();
    }
  });
});

describe("otb-mqtt-broker over TLS (Debian mosquitto, core tls-config)", () => {
  afterEach(() => helper.unload());

  itWithMosquitto("connects with the right CA; with another CA reports the untrusted certificate once and keeps retrying", async function () {
    this.timeout(40_000);
    const pki = makePki();
    const port = await freePort();
    const mosq = await startMosquitto([`listener ${port} 127.0.0.1`, "allow_anonymous true", `cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`], { port });
    const url = `mqtts://127.0.0.1:${port}`;
    const withTls = (ca: string): Msg[] => [
      ...sharedFlow(url, { tls: "tlscfg" }),
      { id: "tlscfg", type: "tls-config", name: "plant CA", cert: "", key: "", ca, verifyservercert: true, servername: "" },
    ];
    try {
      await helper.load(nodes, withTls(pki.ca));
      let a = watch("ina");
      await waitFor(() => a.statuses.some((t) => /subscribed/.test(t)), 15_000, "subscribed over TLS");
      const pub = await mqtt.connectAsync(url, { ca: fs.readFileSync(pki.ca) });
      await waitFor(async () => {
        await pub.publishAsync("a/t", JSON.stringify({ v: 1 }), { qos: 1 });
        return a.signals.length > 0;
      }, 5000, "a value over TLS");
      await pub.endAsync(true);
      await helper.unload();

      await helper.load(nodes, withTls(pki.otherCa));
      a = watch("ina");
      const caught = caughtAll();
      const broker = (helper.getNode("brk") as unknown as { mqtt: { counters: { attempts: number } } }).mqtt;
      await waitFor(() => broker.counters.attempts >= 3, 20_000, "three attempts");
      await waitFor(() => caught.length >= 2, 5000, "Catch heard of it");
      assert.strictEqual(caught.length, 2, caught.map(errorText).join(" | "));
      assert.match(errorText(caught[0]), /failed: untrusted certificate: .*not signed by the configured CA/);
      assert.ok(a.statuses.some((t) => /comm_lost: untrusted certificate/.test(t)), a.statuses.join(" | "));
    } finally {
      await helper.unload();
      await mosq.close();
      fs.rmSync(pki.dir, { recursive: true, force: true });
    }
  });
});

describe("otb-mqtt-broker credentials in a real Node-RED", function () {
  this.timeout(60_000);
  it("keeps the user name and password in the credentials file, never in flows.json", async () => {
    const red = await startRuntime();
    try {
      const flow = [
        { id: "t1", type: "tab", label: "creds" },
        { id: "b1", type: "otb-mqtt-broker", name: "plant", broker: "mqtt://127.0.0.1:1", protocolVersion: "4", credentials: { username: "operator-7", password: "s3cret-pw-42" } },
        { id: "i1", type: "otb-mqtt-in", z: "t1", broker: "b1", topics: [{ topic: "a/#", qos: 1 }], format: "json", mapping: [], batchMs: 0, x: 100, y: 100, wires: [[], []] },
      ];
      const res = await red.post("/flows", flow, { "Node-RED-Deployment-Type": "full" });
      assert.ok(res.status === 200 || res.status === 204, JSON.stringify(res.body));
      const flowsFile = path.join(red.userDir, "flows.json");
      await waitFor(() => fs.existsSync(flowsFile) && fs.readFileSync(flowsFile, "utf8").includes("otb-mqtt-broker"), 10_000, "flows saved");
      const text = fs.readFileSync(flowsFile, "utf8");
      assert.ok(!text.includes("operator-7") && !text.includes("s3cret-pw-42"), "no credentials in flows.json");
      const creds = fs.readFileSync(path.join(red.userDir, "flows_cred.json"), "utf8");
      assert.ok(creds.length > 0 && !creds.includes("s3cret-pw-42") === !!JSON.parse(creds).$, "credentials stored in flows_cred.json (encrypted when a secret is set)");
      const back = await red.get<Msg[]>("/flows");
      const b1 = (back.body as unknown as { flows?: Msg[] }).flows ?? (back.body as Msg[]);
      const node = b1.find((n) => n.id === "b1")!;
      assert.strictEqual(node.credentials, undefined, "the admin API does not hand the credentials out");
    } finally {
      await red.stop();
    }
  });
});
