/**
 * A network break shorter than the session timeout: a loopback proxy black-holes the OPC UA
 * connection (no FIN, no RST) for a few seconds, then heals. The session must survive, the
 * values lost in flight must come back through Republish or the server's queues, and nothing
 * may be emitted twice.
 */
import * as assert from "assert";
import { helper } from "../helpers/red";
import { delay, freePort, waitFor } from "../helpers/peers";
import { nodes, opcuaFlow, Recorder, tag, useClientPki } from "./flows";
import { startBlackholeProxy, type BlackholeProxy } from "./blackhole-proxy";
import { startTestServer, type TestServer } from "./opcua-test-server";

describe("otb-opcua-in across a black-holed network (session survives)", function () {
  this.timeout(60_000);
  let server: TestServer;
  let proxy: BlackholeProxy;
  let pki: ReturnType<typeof useClientPki>;
  const requests = new Map<string, number>();

  before(async () => {
    pki = useClientPki();
    server = await startTestServer({ port: await freePort(), tickMs: 100 });
    server.server!.on("request", (req: { schema: { name: string } }) => requests.set(req.schema.name, (requests.get(req.schema.name) ?? 0) + 1));
    proxy = await startBlackholeProxy(server.port);
  });
  after(async () => {
    await helper.unload();
    await proxy.close();
    await server.close();
    pki.restore();
  });

  it("resumes after the break with the same session, no duplicates and no gap in the counter", async () => {
    // Exception-based (sampling 0) and a deep queue: every counter value is queued on the server
    // while the link is down, even when its timers run late, so the client can be held to "no gap".
    const tags = [tag("ns=1;s=Counter", "counter", { samplingInterval: 0, queueSize: 500 })];
    await helper.load(nodes, opcuaFlow(`opc.tcp://127.0.0.1:${proxy.port}`, tags, { publishingInterval: 200 }));
    const rec = new Recorder();
    const ep = helper.getNode("ep") as unknown as { endpoint: { session: { sessionId: { toString(): string } } | null } };
    await waitFor(() => rec.signals("counter").length >= 5, 10_000, "data before the break");
    const sessionBefore = ep.endpoint.session!.sessionId.toString();

    proxy.blackhole();
    await waitFor(() => rec.commLostBatches().length === 1, 10_000, "comm_lost while the link is black-holed");
    assert.strictEqual(rec.lastStatus()?.fill, "red");
    await delay(1_000);
    const goodBeforeHeal = rec.signals("counter").filter((s) => s.quality === "good").length;
    const healedAt = Date.now();
    proxy.heal();
    await waitFor(() => rec.signals("counter").filter((s) => s.quality === "good").length > goodBeforeHeal, 5_000, "data within 5 s of the heal");
    const resumedIn = Date.now() - healedAt;
    await delay(1_500);

    const values = rec.signals("counter").filter((s) => s.quality === "good").map((s) => s.value as number);
    for (let i = 1; i < values.length; i++) {
      assert.ok(values[i] > values[i - 1], `no duplicate or reordered value at ${i}: ${values[i - 1]} then ${values[i]}`);
      assert.strictEqual(values[i], values[i - 1] + 1, `no gap at ${i}: ${values[i - 1]} then ${values[i]}`);
    }
    assert.strictEqual(ep.endpoint.session!.sessionId.toString(), sessionBefore, "the session survived the break");
    assert.strictEqual(server.sessionCount(), 1);
    assert.strictEqual(server.subscriptionCount(), 1);
    assert.strictEqual(rec.commLostBatches().length, 1, "comm_lost once per outage");
    assert.ok(proxy.accepted >= 2, "the client opened a new connection through the proxy");
    assert.ok(resumedIn < 5_000, `resumed ${resumedIn} ms after the heal`);
    assert.ok((requests.get("RepublishRequest") ?? 0) >= 1, "notifications lost in flight were asked for again with Republish");
    console.log(`      (resumed ${resumedIn} ms after heal; Republish requests: ${requests.get("RepublishRequest") ?? 0}, ` +
      `ActivateSession: ${requests.get("ActivateSessionRequest") ?? 0}, values: ${values.length})`);
  });
});
