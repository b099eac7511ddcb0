/**
 * The queue folder's size bound, end to end: the configured full policy applies exactly, every
 * drop is counted, the publish node's status shows it within a second, and what survives is
 * delivered (checked by an independent subscriber on aedes).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { helper, tab } from "../helpers/red";
import { delay, freePort, startAedes, waitFor } from "../helpers/peers";
import { Counter, assertInvariant, connectUser, makeConduit, statusesOf, tempDir } from "./harness";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const conduitNode = require("../../nodes/otb-conduit/otb-conduit");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const publishNode = require("../../nodes/otb-publish/otb-publish");

const record = (n: number) => ({ ts: n, kind: 0, topic: `t/${n % 3}`, payload: Buffer.from(JSON.stringify({ n, pad: "x".repeat(200) })) });

describe("queue size bound and full policy", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = tempDir("otb-full-")));
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("drop-oldest: while the broker is away the oldest go, counted; the newest are delivered in order", async () => {
    const port = await freePort();
    const conduit = makeConduit({ broker: `mqtt://127.0.0.1:${port}`, queueDir: dir, protocolVersion: "4", queueMaxMB: 64 / 1024, fullPolicy: "drop-oldest" });
    for (let i = 0; i < 2000; i += 100) await conduit.submit(Array.from({ length: 100 }, (_, k) => record(i + k)));
    const dropped = conduit.stats().dropped;
    assert.ok(dropped > 0 && conduit.stats().bytes <= 64 * 1024, JSON.stringify(conduit.stats()));
    const broker = await startAedes(port);
    const counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
    // Connect only after the verifier subscribed: a record the broker acknowledged before then is
    // delivered, by the conduit's contract, but reaches nobody.
    connectUser(conduit);
    try {
      await waitFor(() => counter.unique === 2000 - dropped, 15_000, "the survivors");
      const all = [...counter.byTopic.values()].flat().sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: 2000 - dropped }, (_, i) => dropped + i), "exactly the newest survive");
      assert.equal(counter.outOfOrder, 0);
      await waitFor(() => conduit.stats().queued === 0, 3000, "drained");
      assertInvariant(conduit);
    } finally {
      await counter.stop();
      await conduit.close();
      await broker.close();
    }
  });

  it("drop-oldest: the drops reach Catch once per full episode, with the reason, and the counters add up", async () => {
    const port = await freePort(); // nothing listens: the broker is down
    await helper.load([conduitNode, publishNode], tab([
      { id: "c1", type: "otb-conduit", broker: `mqtt://127.0.0.1:${port}`, protocolVersion: "4", sourceZone: "L3", targetZone: "DMZ",
        allowTopics: ["acme/#"], queueDir: dir, commitMs: 5, queueMaxMB: 64 / 1024, fullPolicy: "drop-oldest", reconnectMax: 1 },
      { id: "p1", type: "otb-publish", conduit: "c1", wires: [] },
      { id: "catch1", type: "catch", scope: ["p1"], wires: [["caught"]] },
      { id: "caught", type: "helper" },
    ]));
    const p1 = helper.getNode("p1");
    const ctx = { enterprise: "acme", site: "s", area: "a", line: "l" };
    const signals = (from: number) => Array.from({ length: 100 }, (_, k) => ({ tag: `t${k % 7}`, value: from + k, ts: 1,
      quality: "good", source: { protocol: "sim", address: "x" }, context: ctx }));
    const caught: string[] = [];
    (helper.getNode("caught") as unknown as NodeJS.EventEmitter).on("input", (m: { error: { message: string } }) => caught.push(m.error.message));
    for (let i = 0; i < 1000; i += 100) p1.receive({ payload: signals(i) });
    const conduit = helper.getNode("c1").conduit;
    await waitFor(() => conduit.stats().produced === 1000 && conduit.stats().dropped > 0, 10_000, "drops");
    await waitFor(() => caught.some((m) => /queue full: .*drop-oldest: the oldest records are being dropped/.test(m)), 5000, "the drops in Catch");
    assert.equal(caught.filter((m) => /queue full/.test(m)).length, 1, "once per episode");
    const s = conduit.stats();
    assert.equal(s.full, true);
    assert.equal(s.produced, s.dropped + s.queued);
    await delay(50);
  });

  it("the rate limit holds the excess in the queue and drops nothing", async () => {
    const broker = await startAedes();
    const counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
    const conduit = makeConduit({ broker: broker.url, queueDir: dir, protocolVersion: "4", rateLimit: 200 });
    connectUser(conduit);
    try {
      await waitFor(() => conduit.stats().state === "connected", 5000, "connected");
      await conduit.submit(Array.from({ length: 300 }, (_, n) => record(n)));
      await delay(500);
      const early = counter.unique;
      assert.ok(early > 0 && early <= 150, `${early} through after 0.5 s at 200 msg/s`);
      await waitFor(() => counter.unique === 300, 5000, "all of them, later");
      assert.equal(conduit.stats().dropped, 0);
      assertInvariant(conduit);
    } finally {
      await counter.stop();
      await conduit.close();
      await broker.close();
    }
  });

  it("reject-new: refusals reach Catch with the reason, and the status shows the drops within a second", async () => {
    const port = await freePort(); // nothing listens: the broker is down
    await helper.load([conduitNode, publishNode], tab([
      { id: "c1", type: "otb-conduit", broker: `mqtt://127.0.0.1:${port}`, protocolVersion: "4", sourceZone: "L3", targetZone: "DMZ",
        allowTopics: ["acme/#"], queueDir: dir, commitMs: 5, queueMaxMB: 64 / 1024, fullPolicy: "reject-new", reconnectMax: 1 },
      { id: "p1", type: "otb-publish", conduit: "c1", wires: [] },
      { id: "catch1", type: "catch", scope: ["p1"], wires: [["caught"]] },
      { id: "caught", type: "helper" },
    ]));
    const p1 = helper.getNode("p1");
    const ctx = { enterprise: "acme", site: "s", area: "a", line: "l" };
    const batch = (from: number) => Array.from({ length: 100 }, (_, k) => ({ tag: `t${k % 7}`, value: from + k, ts: 1,
      quality: "good", source: { protocol: "sim", address: "x" }, context: ctx }));
    const caught: string[] = [];
    (helper.getNode("caught") as unknown as NodeJS.EventEmitter).on("input", (m: { error: { message: string } }) => caught.push(m.error.message));
    for (let i = 0; i < 600; i += 100) p1.receive({ payload: batch(i) });
    await waitFor(() => caught.some((m) => /queue full \(reject-new\) x\d+/.test(m)), 10_000, "the refusal in Catch");
    const firstRefusalAt = Date.now();
    assert.equal(caught.filter((m) => /queue full: the queue reached its size bound .*; reject-new/.test(m)).length, 1, "the full state in Catch, once, with its reason");
    await waitFor(() => statusesOf("p1").some((s) => /dropped/.test(String(s.text))), 1500, "drops in the status");
    assert.ok(Date.now() - firstRefusalAt <= 1200);
    const s = helper.getNode("c1").conduit.stats();
    assert.equal(s.produced, 600);
    assert.equal(s.dropped + s.queued, 600);
    await delay(50);
  });
});
