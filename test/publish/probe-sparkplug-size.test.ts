/**
 * Probe (reliability.md §9 B2, SP1): Sparkplug B against an MQTT 5 broker with a maximum packet
 * size (Debian mosquitto `max_packet_size`; cloud brokers have 128-256 KiB). mosquitto drops a
 * client that sends a larger packet (DISCONNECT 0x95). An edge node with many metrics must not
 * loop through NBIRTH, disconnect, reconnect for ever (each loop burns a bdSeq and the host sees
 * a BIRTH storm, no data): it says once why it cannot BIRTH and keeps the data queued. NDATA
 * over the limit is split.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import type { Conduit } from "../../nodes/otb-conduit/conduit";
import { Publisher } from "../../nodes/otb-publish/publish-logic";
import { itWithMosquitto } from "../helpers/interop";
import { delay, startMosquitto, waitFor, type Mosquitto } from "../helpers/peers";
import { SpecHost } from "./probe-peers";
import { assertInvariant, connectUser, makeConduit, tempDir } from "./harness";

const ctx = { enterprise: "acme", site: "s1", area: "a1", line: "l1" };
const LIMIT = 4000;

describe("probe: Sparkplug B against a broker's maximum packet size (mosquitto, MQTT 5)", function () {
  this.timeout(60_000);
  let mosq: Mosquitto;
  let host: SpecHost;
  let dir: string;
  const cleanup: Array<() => Promise<unknown>> = [];

  async function setUp(): Promise<{ conduit: Conduit; faults: string[]; send(signals: Array<[string, number]>): Promise<void> }> {
    mosq = await startMosquitto([`max_packet_size ${LIMIT}`]);
    cleanup.push(() => mosq.close());
    host = await SpecHost.start(mosq.url, "PG");
    cleanup.push(() => host.client.endAsync());
    dir = tempDir("otb-probe-spsize-");
    cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const conduit = makeConduit({ broker: mosq.url, queueDir: dir, protocolVersion: "5", clientId: "probe-edge-size", allowTopics: ["spBv1.0/PG/#"],
      mode: "sparkplug", spGroup: "PG", spEdgeNode: "E1", connectTimeout: 1 });
    cleanup.push(() => conduit.close());
    const faults: string[] = [];
    conduit.on("fault", (err: Error) => faults.push(err.message));
    const publisher = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic: "spBv1.0/PG/NDATA/E1" }, conduit.policy);
    connectUser(conduit);
    await waitFor(() => host.births >= 1, 10_000, "first NBIRTH");
    return {
      conduit,
      faults,
      send: async (signals) => {
        const prepared = publisher.prepare(signals.map(([tag, value]) => ({ tag, value, ts: Date.now(), quality: "good", source: { protocol: "sim", address: tag }, context: ctx })), { line: null });
        assert.deepEqual(prepared.refused, []);
        await conduit.submit(prepared.records);
      },
    };
  }

  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  });

  itWithMosquitto("an NBIRTH over the limit: no reconnect loop, one report naming the limit, data kept queued", async () => {
    const { conduit, faults, send } = await setUp();
    const bdSeq = conduit.stats().sparkplug!.bdSeq;
    await send(Array.from({ length: 200 }, (_, k) => [`a_rather_long_metric_name_number_${k}`, k] as [string, number]));
    await waitFor(() => faults.length >= 1, 10_000, "a report");
    await delay(3000);
    const s = conduit.stats();
    assert.equal(s.sparkplug!.bdSeq, bdSeq, `no new sessions (bdSeq ${bdSeq} -> ${s.sparkplug!.bdSeq})`);
    assert.equal(s.state, "connected");
    assert.equal(host.births, 1, "no BIRTH storm at the host");
    assert.equal(faults.length, 1, faults.join("\n"));
    assert.match(faults[0]!, /maximum packet size 4000/);
    assert.equal(s.queued, 200, "the data stays queued");
    assertInvariant(conduit);
  });

  itWithMosquitto("NDATA over the limit is split: every value arrives, no disconnect", async () => {
    const { conduit, faults, send } = await setUp();
    const names = Array.from({ length: 60 }, (_, k) => `m${k}`);
    await send(names.map((n, k) => [n, k] as [string, number])); // learned: one NBIRTH that fits
    await waitFor(() => conduit.stats().queued === 0, 10_000, "first values out");
    const bdSeq = conduit.stats().sparkplug!.bdSeq;
    const total = 3000;
    const batch: Array<[string, number]> = [];
    for (let v = 0; v < total; v++) batch.push([names[v % names.length]!, 1000 + v]);
    await send(batch);
    await waitFor(() => conduit.stats().queued === 0, 20_000, "drained");
    await waitFor(() => host.received.filter((r) => r.value >= 1000).length >= total, 10_000, "all at the host").catch(() => undefined);
    const got = new Set(host.received.filter((r) => r.value >= 1000).map((r) => r.value));
    assert.equal(got.size, total, `received ${got.size} of ${total}; stats ${JSON.stringify(conduit.stats())}`);
    assert.equal(conduit.stats().sparkplug!.bdSeq, bdSeq, "no reconnect");
    assert.deepEqual(faults, []);
    assert.deepEqual(host.violations, []);
    assertInvariant(conduit);
  });
});
