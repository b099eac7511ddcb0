/**
 * Probe (reliability.md §9 F2, F3, SP1): the conduit in Sparkplug B mode and in plain mode
 * behind a link that breaks, watched by a Sparkplug host written here from the specification
 * (Sparkplug B 3.0 ch. 5/6: NBIRTH seq 0, NDATA seq +1 mod 256, the NBIRTH's bdSeq equal to the
 * bdSeq of the NDEATH will of the same session, no NDATA outside a session), decoding with Eclipse
 * Tahu's decoder, not with the pack's codec.
 *
 * What a user of a Sparkplug conduit must never see: a value the conduit counted as delivered
 * that no host ever received. NDATA goes at QoS 0 (spec), so "written into the socket" is not
 * "received by the broker": what a half-open or reset link swallowed must be sent again.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import type { Conduit } from "../../nodes/otb-conduit/conduit";
import { Publisher } from "../../nodes/otb-publish/publish-logic";
import { delay, startAedes, waitFor, type AedesBroker } from "../helpers/peers";
import { ResettingProxy, SpecHost } from "./probe-peers";
import { BlackHoleProxy, Counter, assertInvariant, connectUser, makeConduit, produce, tempDir } from "./harness";

const ctx = { enterprise: "acme", site: "s1", area: "a1", line: "l1" };

describe("probe: conduit links that break, against a Sparkplug host written from the spec", function () {
  this.timeout(60_000);
  let broker: AedesBroker;
  let dir: string;
  const cleanup: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    broker = await startAedes();
    dir = tempDir("otb-probe-sp-");
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function sparkplugConduit(url: string, keepalive = 5): { conduit: Conduit; send(n: number): Promise<void> } {
    const conduit = makeConduit({ broker: url, queueDir: dir, protocolVersion: "4", clientId: "probe-edge", allowTopics: ["spBv1.0/PG/#"],
      mode: "sparkplug", spGroup: "PG", spEdgeNode: "E1", keepalive, connectTimeout: 1 });
    cleanup.push(() => conduit.close());
    const publisher = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic: "spBv1.0/PG/NDATA/E1" }, conduit.policy);
    connectUser(conduit);
    return {
      conduit,
      send: async (n) => {
        const prepared = publisher.prepare([{ tag: "probe.n", value: n, ts: Date.now(), quality: "good", source: { protocol: "sim", address: "n" }, context: ctx }], { line: null });
        assert.deepEqual(prepared.refused, []);
        await conduit.submit(prepared.records);
      },
    };
  }

  async function stream(send: (n: number) => Promise<void>, from: number, to: number, everyMs: number): Promise<void> {
    for (let n = from; n < to; n++) {
      await send(n);
      await delay(everyMs);
    }
  }

  it("Sparkplug, half-open link (black hole until the keepalive gives up): every value counted delivered reaches the host", async () => {
    const host = await SpecHost.start(broker.url, "PG");
    cleanup.push(() => host.client.endAsync());
    const proxy = await BlackHoleProxy.start(broker.port);
    cleanup.push(() => proxy.close());
    const { conduit, send } = sparkplugConduit(proxy.url, 1);
    await waitFor(() => host.births >= 1, 15_000, "first NBIRTH");
    await stream(send, 0, 40, 10);
    await waitFor(() => host.values.length >= 40, 15_000, "live values before the break");
    proxy.blackHole = true; // no FIN, no RST: the conduit writes NDATA into a dead link until 1.5 x keepalive
    await stream(send, 40, 140, 20);
    await waitFor(() => conduit.stats().state !== "connected", 15_000, "the keepalive noticed the dead link");
    proxy.blackHole = false;
    await stream(send, 140, 160, 10);
    await waitFor(() => conduit.stats().queued === 0 && conduit.stats().state === "connected", 20_000, "drained after the heal");
    await waitFor(() => host.missing(160).length === 0, 10_000, "every value at the host", 50).catch(() => undefined);
    assert.deepEqual(host.missing(160), [], `values the conduit counted as delivered that the host never got; stats ${JSON.stringify(conduit.stats())}`);
    assert.deepEqual(host.violations, []);
    assertInvariant(conduit);
  });

  it("Sparkplug, a link reset (RST) ten times under a stream: no value lost, sessions follow the spec", async () => {
    const host = await SpecHost.start(broker.url, "PG");
    cleanup.push(() => host.client.endAsync());
    const proxy = await ResettingProxy.start(broker.port);
    cleanup.push(() => proxy.close());
    const { conduit, send } = sparkplugConduit(proxy.url, 5);
    await waitFor(() => host.births >= 1, 15_000, "first NBIRTH");
    let n = 0;
    for (let cycle = 0; cycle < 10; cycle++) {
      await waitFor(() => conduit.stats().state === "connected", 15_000, `reconnected before cycle ${cycle}`);
      await stream(send, n, n + 30, 5);
      n += 30;
      proxy.reset();
    }
    await stream(send, n, n + 20, 5);
    n += 20;
    await waitFor(() => conduit.stats().queued === 0 && conduit.stats().state === "connected", 20_000, "drained");
    await waitFor(() => host.missing(n).length === 0, 10_000, "every value at the host", 50).catch(() => undefined);
    assert.deepEqual(host.missing(n), [], `lost across ${proxy.resets} resets; violations ${JSON.stringify(host.violations.slice(0, 10))}; stats ${JSON.stringify(conduit.stats())}`);
    assert.deepEqual(host.violations, []);
    assertInvariant(conduit);
  });

  it("plain mode, QoS 1, a link reset (RST) ten times under load: 0 lost, no more duplicates than the conduit counts as re-sent, order kept per topic", async () => {
    const counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
    cleanup.push(() => counter.stop());
    const copies = new Map<string, number>();
    counter.client.on("message", (topic, payload) => {
      const key = `${topic}#${(JSON.parse(payload.toString()) as { n: number }).n}`;
      copies.set(key, (copies.get(key) ?? 0) + 1);
    });
    const proxy = await ResettingProxy.start(broker.port);
    cleanup.push(() => proxy.close());
    const conduit = makeConduit({ broker: proxy.url, queueDir: dir, clientId: "probe-plain", protocolVersion: "4", connectTimeout: 1 });
    cleanup.push(() => conduit.close());
    connectUser(conduit);
    await waitFor(() => conduit.stats().state === "connected", 15_000, "connected");
    const topics = ["t/a", "t/b", "t/c"];
    let total = 0;
    for (let cycle = 0; cycle < 10; cycle++) {
      await waitFor(() => conduit.stats().state === "connected", 15_000, `reconnected before cycle ${cycle}`);
      total += await produce(conduit, 300, 1500, topics, total);
      proxy.reset();
    }
    total += await produce(conduit, 300, 1500, topics, total);
    await waitFor(() => conduit.stats().queued === 0 && conduit.stats().state === "connected", 30_000, "drained");
    await waitFor(() => counter.missing(total, topics).length === 0, 10_000, "all at the verifier", 50).catch(() => undefined);
    assert.deepEqual(counter.missing(total, topics), []);
    assert.equal(counter.outOfOrder, 0);
    // Every extra copy is a record sent again and counted: the window re-sent once after each
    // reset (a reset cannot be told from a broker restart), or one in flight when the link broke.
    let duplicates = 0;
    for (const c of copies.values()) duplicates += c - 1;
    const { resent } = conduit.stats();
    assert.ok(duplicates <= resent, `${duplicates} duplicates at the verifier, ${resent} re-sent`);
    assert.ok(resent > 0, "the acknowledged window was re-sent after the resets");
    assertInvariant(conduit);
  });
});
