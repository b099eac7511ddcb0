/**
 * Records wait in the queue while the configuration may change. At send time the conduit
 * applies its current policy again: what it no longer allows is quarantined, never sent, and
 * a folder filled in plain mode never leaks into a Sparkplug session (or stops it).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { freePort, startAedes, waitFor } from "../helpers/peers";
import { Counter, assertInvariant, connectUser, makeConduit, tempDir } from "./harness";

const record = (topic: string, n: number) => ({ ts: n, kind: 0, topic, payload: Buffer.from(JSON.stringify({ n })) });

describe("a queue reopened under a changed configuration", function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => (dir = tempDir("otb-policy-")));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function queuedWhileDown(port: number): Promise<void> {
    const conduit = makeConduit({ broker: `mqtt://127.0.0.1:${port}`, queueDir: dir, protocolVersion: "4", allowTopics: ["t/#"] });
    await conduit.submit([record("t/a/1", 1), record("t/b/2", 2), record("t/a/3", 3)]);
    await conduit.close();
  }

  it("quarantines what a narrowed allowlist no longer allows, and sends the rest", async () => {
    const port = await freePort();
    await queuedWhileDown(port);
    const broker = await startAedes(port);
    const counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
    const conduit = makeConduit({ broker: broker.url, queueDir: dir, protocolVersion: "4", allowTopics: ["t/a/#"] });
    connectUser(conduit);
    try {
      await waitFor(() => conduit.stats().queued === 0, 5000, "resolved");
      await waitFor(() => counter.unique === 2, 3000, "the allowed two");
      assert.deepEqual([...counter.byTopic.keys()].sort(), ["t/a/1", "t/a/3"]);
      assert.equal(conduit.stats().quarantined, 1);
      assert.match(fs.readFileSync(conduit.quarantine.file, "utf8"), /no longer allowed by the conduit's policy: not_allowlisted/);
      assertInvariant(conduit);
    } finally {
      await counter.stop();
      await conduit.close();
      await broker.close();
    }
  });

  it("a plain-mode backlog opened in Sparkplug mode is quarantined, and the session keeps working", async () => {
    const port = await freePort();
    await queuedWhileDown(port);
    const broker = await startAedes(port);
    const conduit = makeConduit({ broker: broker.url, queueDir: dir, protocolVersion: "4", allowTopics: ["spBv1.0/G1/#"],
      mode: "sparkplug", spGroup: "G1", spEdgeNode: "E1" });
    connectUser(conduit);
    try {
      await waitFor(() => conduit.stats().quarantined === 3, 5000, "all three quarantined");
      assert.match(fs.readFileSync(conduit.quarantine.file, "utf8"), /not a valid Sparkplug metric record/);
      assert.equal(conduit.stats().state, "connected");
      assertInvariant(conduit);
    } finally {
      await conduit.close();
      await broker.close();
    }
  });
});
