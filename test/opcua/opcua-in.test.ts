/**
 * otb-opcua-in against a real node-opcua server: values and quality, a wrong node id, the server
 * stopped and restarted mid-stream, the server absent at deploy, and 1,000 monitored items.
 */
import * as assert from "assert";
import { StatusCodes } from "node-opcua";
import { validateSignal } from "../../nodes/shared";
import { helper } from "../helpers/red";
import { delay, freePort, waitFor } from "../helpers/peers";
import { nodes, opcuaFlow, Recorder, tag, useClientPki } from "./flows";
import { startTestServer, type TestServer } from "./opcua-test-server";

describe("otb-opcua-in (node-opcua server)", function () {
  this.timeout(60_000);
  let server: TestServer;
  let pki: ReturnType<typeof useClientPki>;

  before(async () => {
    pki = useClientPki();
    server = await startTestServer({ port: await freePort(), bulkItems: 1000, tickMs: 100 });
  });
  after(async () => {
    await server.close();
    pki.restore();
  });
  afterEach(async () => {
    await helper.unload();
    if (!server.server) await server.start();
  });

  const basicTags = [
    tag("ns=1;s=Temperature", "oven.temperature", { unit: "degC" }),
    tag("ns=1;s=Running", "oven.running"),
    tag("ns=1;s=Recipe", "oven.recipe"),
    tag("ns=1;s=Counter", "oven.counter"),
  ];

  it("emits Signal[] batches whose values, units, timestamps and sources match the server", async () => {
    server.set("Temperature", 21.5);
    await helper.load(nodes, opcuaFlow(server.endpointUrl, basicTags));
    const rec = new Recorder();
    await waitFor(() => ["oven.temperature", "oven.running", "oven.recipe", "oven.counter"].every((t) => rec.signals(t).length > 0), 10_000, "all four tags");
    for (const batch of rec.batches) {
      assert.ok(Array.isArray(batch) && batch.length > 0);
      for (const s of batch) assert.ok(validateSignal(s), JSON.stringify(validateSignal.errors));
    }
    const temp = rec.signals("oven.temperature")[0];
    assert.strictEqual(temp.value, 21.5);
    assert.strictEqual(temp.quality, "good");
    assert.strictEqual(temp.unit, "degC");
    assert.strictEqual(temp.reasons, undefined);
    assert.deepStrictEqual(temp.source, { protocol: "opcua", address: "ns=1;s=Temperature", device: server.endpointUrl });
    assert.ok(Math.abs(temp.ts - Date.now()) < 60_000, "source timestamp is recent");
    assert.strictEqual(rec.signals("oven.running")[0].value, true);
    assert.strictEqual(rec.signals("oven.recipe")[0].value, "A-100");
    // The counter ticks every 100 ms: values keep arriving, increasing, in more than one batch.
    await waitFor(() => rec.signals("oven.counter").length >= 5, 5_000, "five counter values");
    const counts = rec.signals("oven.counter").map((s) => s.value as number);
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i] > counts[i - 1], `counter increases: ${counts.join(",")}`);
    await waitFor(() => rec.statuses.some((s) => s.fill === "green"), 3_000, "a green status");
    assert.deepStrictEqual(rec.errors, []);
    assert.strictEqual(server.sessionCount(), 1);
    assert.strictEqual(server.subscriptionCount(), 1);
  });

  it("maps the StatusCode to quality with opcua:<StatusCode> reasons", async () => {
    server.set("Temperature", 30);
    await helper.load(nodes, opcuaFlow(server.endpointUrl, [tag("ns=1;s=Temperature", "t")]));
    const rec = new Recorder();
    await waitFor(() => rec.signals("t").length > 0, 10_000, "first value");
    server.set("Temperature", 31, StatusCodes.UncertainLastUsableValue);
    await waitFor(() => rec.signals("t").some((s) => s.quality === "uncertain"), 5_000, "uncertain value");
    server.set("Temperature", 0, StatusCodes.BadSensorFailure);
    await waitFor(() => rec.signals("t").some((s) => s.quality === "bad"), 5_000, "bad value");
    const uncertain = rec.signals("t").find((s) => s.quality === "uncertain")!;
    assert.deepStrictEqual(uncertain.reasons, ["opcua:UncertainLastUsableValue"]);
    assert.strictEqual(uncertain.value, 31);
    const bad = rec.signals("t").find((s) => s.quality === "bad")!;
    assert.deepStrictEqual(bad.reasons, ["opcua:BadSensorFailure"]);
    server.set("Temperature", 21.5);
  });

  it("marks a wrong node id bad with a reason, reports it to Catch, and keeps the other tags flowing", async () => {
    await helper.load(
      nodes,
      opcuaFlow(server.endpointUrl, [tag("ns=1;s=Counter", "good.counter"), tag("ns=1;s=NoSuchTag", "missing.tag"), tag("this is not a node id", "garbled.tag")]),
    );
    const rec = new Recorder();
    await waitFor(() => rec.signals("missing.tag").length > 0 && rec.signals("garbled.tag").length > 0, 10_000, "bad tags");
    const missing = rec.signals("missing.tag")[0];
    assert.strictEqual(missing.quality, "bad");
    assert.deepStrictEqual(missing.reasons, ["opcua:BadNodeIdUnknown"]);
    assert.strictEqual(missing.value, null);
    assert.deepStrictEqual(rec.signals("garbled.tag")[0].reasons, ["opcua:BadNodeIdInvalid"]);
    await waitFor(() => rec.errors.length > 0, 3_000, "a caught error");
    assert.match(rec.errors[0], /2 of 3 tag\(s\) refused: .*missing\.tag \(ns=1;s=NoSuchTag\): opcua:BadNodeIdUnknown/);
    const before = rec.signals("good.counter").length;
    await waitFor(() => rec.signals("good.counter").length >= before + 3, 5_000, "the good tag keeps flowing");
    assert.ok(rec.signals("good.counter").every((s) => s.quality === "good"));
    assert.strictEqual(rec.signals("missing.tag").length, 1, "a refused tag is reported once, not every cycle");
  });

  it("survives a server stop and restart mid-stream: comm_lost once, data resumes within 10 s, one session and subscription", async () => {
    await helper.load(nodes, opcuaFlow(server.endpointUrl, basicTags));
    const rec = new Recorder();
    await waitFor(() => rec.signals("oven.counter").length >= 3, 10_000, "data before the stop");
    await server.stop();
    await waitFor(() => rec.commLostBatches().length > 0, 10_000, "comm_lost batch");
    const lost = rec.commLostBatches()[0];
    assert.deepStrictEqual(lost.map((s) => s.tag).sort(), ["oven.counter", "oven.recipe", "oven.running", "oven.temperature"]);
    assert.ok(lost.every((s) => s.quality === "bad" && s.value === null && validateSignal(s)));
    await waitFor(() => rec.lastStatus()?.fill === "red", 5_000, "red status while the server is down");
    await delay(2_000);
    const countBefore = rec.signals("oven.counter").filter((s) => s.quality === "good").length;
    const restartedAt = Date.now();
    await server.start();
    await waitFor(() => rec.signals("oven.counter").filter((s) => s.quality === "good").length > countBefore, 10_000, "data after the restart");
    const resumedIn = Date.now() - restartedAt;
    assert.ok(resumedIn < 10_000, `resumed in ${resumedIn} ms`);
    await waitFor(() => /resumed/.test(rec.lastStatus()?.text ?? "") && rec.lastStatus()?.fill === "green", 3_000, "a 'resumed' green status");
    await delay(1_500); // let any duplicate session or subscription show itself
    assert.strictEqual(server.sessionCount(), 1, "exactly one session");
    assert.strictEqual(server.subscriptionCount(), 1, "exactly one subscription");
    assert.strictEqual(rec.commLostBatches().length, 1, "comm_lost is sent once per outage");
  });

  it("starts with the server absent: red status, retries with backoff, no crash, then connects when it appears", async () => {
    await server.stop();
    await helper.load(nodes, opcuaFlow(server.endpointUrl, basicTags));
    const rec = new Recorder();
    const ep = helper.getNode("ep") as unknown as { endpoint: { conn: NodeJS.EventEmitter } };
    let retries = 0;
    ep.endpoint.conn.on("retry", () => retries++);
    await waitFor(() => rec.lastStatus()?.fill === "red", 10_000, "red status");
    await waitFor(() => retries >= 2, 15_000, "two retries");
    assert.strictEqual(rec.batches.length, 0, "no data and no comm_lost before it ever connected");
    await server.start();
    await waitFor(() => rec.signals("oven.counter").length > 0, 15_000, "data once the server is up");
    assert.strictEqual(server.sessionCount(), 1);
  });

  it("flows 1,000 monitored items in batches, every value attributed to its own tag", async () => {
    const tags = Array.from({ length: 1000 }, (_, i) => tag(`ns=1;s=Bulk.${i}`, `bulk.${i}`, { samplingInterval: 200 }));
    await helper.load(nodes, opcuaFlow(server.endpointUrl, tags, { publishingInterval: 500 }));
    const rec = new Recorder();
    const seen = new Set<string>();
    (helper.getNode("out") as unknown as NodeJS.EventEmitter).on("input", (msg: { payload: Array<{ tag: string }> }) => msg.payload.forEach((s) => seen.add(s.tag)));
    await waitFor(() => seen.size === 1000, 20_000, "all 1,000 tags");
    const first = rec.batches[0].length;
    await waitFor(() => rec.batches.length >= 4, 10_000, "several publishing cycles");
    for (const s of rec.signals()) {
      const i = Number(s.tag.slice(5));
      assert.strictEqual((s.value as number) % 1000, i, `value of ${s.tag} belongs to it`);
      assert.strictEqual(s.quality, "good");
    }
    assert.ok(first > 100, `a batch carries many values (${first}), not one message per value`);
    assert.deepStrictEqual(rec.errors, []);
  });

  it("shares one session between two otb-opcua-in nodes, each with its own subscription", async () => {
    const flow = opcuaFlow(server.endpointUrl, [tag("ns=1;s=Counter", "a.counter")]);
    flow.push({ id: "in2", z: "flow", type: "otb-opcua-in", endpoint: "ep", tags: [tag("ns=1;s=Temperature", "b.temperature")], publishingInterval: "200", wires: [["out2"]] });
    flow.push({ id: "out2", z: "flow", type: "helper" });
    await helper.load(nodes, flow);
    const rec = new Recorder();
    const second: string[] = [];
    (helper.getNode("out2") as unknown as NodeJS.EventEmitter).on("input", (msg: { payload: Array<{ tag: string }> }) => msg.payload.forEach((s) => second.push(s.tag)));
    await waitFor(() => rec.signals("a.counter").length > 0 && second.length > 0, 10_000, "data on both nodes");
    assert.ok(rec.signals().every((s) => s.tag === "a.counter"), "each node emits only its own tags");
    assert.ok(second.every((t) => t === "b.temperature"));
    assert.strictEqual(server.sessionCount(), 1, "one session for the endpoint");
    assert.strictEqual(server.subscriptionCount(), 2);
    const ep = helper.getNode("ep") as unknown as { users: Record<string, unknown> };
    assert.deepStrictEqual(Object.keys(ep.users).sort(), ["in", "in2"]);
  });

  it("deletes its subscription and closes the session when the flow stops", async () => {
    await helper.load(nodes, opcuaFlow(server.endpointUrl, basicTags));
    const rec = new Recorder();
    await waitFor(() => rec.batches.length > 0, 10_000, "data");
    assert.strictEqual(server.sessionCount(), 1);
    await helper.unload();
    await waitFor(() => server.sessionCount() === 0 && server.subscriptionCount() === 0, 5_000, "no session left on the server");
  });
});
