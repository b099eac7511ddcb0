/**
 * Probe (reliability.md §9 SP2, SP1): the TCK PrimaryHostTest sequence of STATE messages and a
 * Rebirth under a live stream, against the conduit in Sparkplug B mode, with a host application
 * written from the spec (probe-peers.ts) on aedes. Sparkplug B 3.0: an edge node that waits for
 * its primary host publishes no BIRTH until STATE online=true; ignores a STATE older than the last
 * one; on a current online=false publishes NDEATH and disconnects; on Rebirth sends an NBIRTH with
 * the same bdSeq (no new session), seq back to 0, and the data goes on after it.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import type { Conduit } from "../../nodes/otb-conduit/conduit";
import { Publisher } from "../../nodes/otb-publish/publish-logic";
import { delay, startAedes, waitFor, type AedesBroker } from "../helpers/peers";
import { SpecHost } from "./probe-peers";
import { assertInvariant, connectUser, makeConduit, tempDir } from "./harness";

const ctx = { enterprise: "acme", site: "s1", area: "a1", line: "l1" };

describe("probe: Sparkplug primary host STATE and Rebirth, against a host written from the spec", function () {
  this.timeout(60_000);
  let broker: AedesBroker;
  let dir: string;
  let host: SpecHost;
  const disconnects: string[] = [];
  const cleanup: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    broker = await startAedes();
    broker.broker.on("clientDisconnect", (client) => disconnects.push(client.id));
    disconnects.length = 0;
    dir = tempDir("otb-probe-sph-");
    host = await SpecHost.start(broker.url, "PG");
    cleanup.push(() => host.client.endAsync());
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function edge(primaryHost = ""): { conduit: Conduit; send(n: number, tag?: string): Promise<void> } {
    const conduit = makeConduit({ broker: broker.url, queueDir: dir, protocolVersion: "4", clientId: "probe-edge", allowTopics: ["spBv1.0/PG/#"],
      mode: "sparkplug", spGroup: "PG", spEdgeNode: "E1", spPrimaryHost: primaryHost, connectTimeout: 1 });
    cleanup.push(() => conduit.close());
    const publisher = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic: "spBv1.0/PG/NDATA/E1" }, conduit.policy);
    connectUser(conduit);
    return {
      conduit,
      send: async (n, tag = "probe.n") => {
        const prepared = publisher.prepare([{ tag, value: n, ts: Date.now(), quality: "good", source: { protocol: "sim", address: tag }, context: ctx }], { line: null });
        assert.deepEqual(prepared.refused, []);
        await conduit.submit(prepared.records);
      },
    };
  }

  it("TCK PrimaryHost sequence: BIRTH only on a current online, NDEATH and disconnect on a current offline, older STATEs ignored, nothing lost", async () => {
    const t0 = Date.now();
    await host.state("other-host", true, t0); // the wrong host online
    await host.state("scada", false, t0); // ours offline
    const { conduit, send } = edge("scada");
    await waitFor(() => conduit.stats().state === "connected", 10_000, "connected");
    await send(0);
    await delay(500);
    assert.equal(host.births, 0, "no NBIRTH while the primary host is offline, whatever another host says");

    await host.state("scada", true, t0 + 1000);
    await waitFor(() => host.births >= 1, 10_000, "NBIRTH on online");
    await send(1);
    await waitFor(() => host.values.includes(1), 10_000, "live value");

    await host.state("scada", false, t0 + 500); // older than the online: ignored
    await send(2);
    await waitFor(() => host.values.includes(2), 10_000, "still live after an older offline");
    assert.equal(host.deaths, 0, "an older offline changes nothing");

    const birthBdSeq = host.of("NBIRTH").at(-1)!.bdSeq;
    await host.state("scada", false, t0 + 2000); // current offline
    await waitFor(() => host.deaths >= 1, 10_000, "NDEATH on a current offline");
    assert.equal(host.of("NDEATH")[0]!.bdSeq, birthBdSeq, "the NDEATH names the session it ends");
    await waitFor(() => disconnects.includes("probe-edge"), 10_000, "the edge disconnects (spec: NDEATH, then disconnect)");
    for (let n = 3; n < 8; n++) await send(n);

    const birthsBefore = host.births;
    await host.state("scada", true, t0 + 1500); // online, but older than the last offline: ignored
    await delay(800);
    assert.equal(host.births, birthsBefore, "no NBIRTH on an older online");

    await host.state("scada", true, t0 + 3000);
    await waitFor(() => host.births > birthsBefore, 10_000, "NBIRTH on the current online");
    await waitFor(() => conduit.stats().queued === 0, 10_000, "backlog flushed");
    await waitFor(() => host.missing(8).length === 0, 10_000, "all values at the host").catch(() => undefined);
    assert.deepEqual(host.missing(8), [], "values produced while the host was offline are delivered after it returns");
    const second = host.of("NBIRTH")[birthsBefore]!.bdSeq!;
    assert.notEqual(second, birthBdSeq, "a new session after the disconnect, a new bdSeq");
    assert.deepEqual(host.violations, []);
    assertInvariant(conduit);
  });

  it("Rebirth under a stream of 280 NDATA: same bdSeq, every known metric in the NBIRTH, seq from 0 with no gap across the wrap, nothing lost", async () => {
    const { conduit, send } = edge();
    await waitFor(() => host.births >= 1, 10_000, "NBIRTH");
    await send(1000, "probe.other"); // a second metric, learned before the rebirth
    const bdSeq = host.of("NBIRTH")[0]!.bdSeq;
    for (let n = 0; n < 280; n++) {
      await send(n);
      // one NDATA per value, so that seq wraps 255 -> 0; the host asks for a rebirth mid-stream
      await waitFor(() => conduit.stats().queued === 0, 10_000, `value ${n} out`, 2);
      if (n === 20) await host.rebirth("PG", "E1");
    }
    await waitFor(() => host.missing(280).length === 0, 10_000, "all values at the host").catch(() => undefined);
    assert.deepEqual(host.missing(280), []);
    const births = host.of("NBIRTH");
    assert.ok(births.length >= 3, `an NBIRTH for the new metric and one for the rebirth (${births.length})`);
    for (const b of births) assert.equal(b.bdSeq, bdSeq, "a rebirth keeps the session's bdSeq");
    const last = births[births.length - 1]!;
    assert.ok(last.names!.includes("probe.n") && last.names!.includes("probe.other") && last.names!.includes("Node Control/Rebirth"), JSON.stringify(last.names));
    assert.equal(host.deaths, 0);
    assert.deepEqual(host.violations, []);
    assert.equal(conduit.stats().sparkplug!.rebirths, 1);
    assertInvariant(conduit);
  });
});
