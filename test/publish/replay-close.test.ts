/**
 * Issue 15 item 5 (catalogue F8/F9): closing a conduit while a 200,000-record backlog drains
 * finishes well inside Node-RED's 15 s close timeout (the issue asks < 5 s), and the next start
 * resumes from the persisted cursor: every record arrives, duplicates stay within one in-flight
 * window. Throughout, what is in flight at the MQTT client never exceeds the configured window
 * and no packet id is reused while its publish is unacknowledged (mqtt.js#1372).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import type { MqttClient } from "mqtt";
import type { Conduit } from "../../nodes/otb-conduit/conduit";
import { itWithMosquitto } from "../helpers/interop";
import { freePort, startMosquitto, waitFor, type Mosquitto } from "../helpers/peers";
import { Counter, connectUser, makeConduit, tempDir } from "./harness";

const WINDOW = 200;
const TOTAL = 200_000;

/** Watches every client the conduit opens: packet ids in use and the size of the in-flight set. */
class WireWatch {
  maxInFlight = 0;
  reused = 0;
  publishes = 0;
  private readonly watched = new WeakSet<MqttClient>();

  constructor(conduit: Conduit) {
    conduit.connection.on("state", () => {
      const client = conduit.connection.client;
      if (client && !this.watched.has(client)) this.watch(client);
    });
  }

  private watch(client: MqttClient): void {
    this.watched.add(client);
    const inUse = new Set<number>();
    client.on("packetsend", (p: { cmd: string; qos?: number; messageId?: number }) => {
      if (p.cmd !== "publish" || !p.qos) return;
      this.publishes++;
      if (inUse.has(p.messageId!)) this.reused++;
      inUse.add(p.messageId!);
      this.maxInFlight = Math.max(this.maxInFlight, inUse.size);
    });
    client.on("packetreceive", (p: { cmd: string; messageId?: number }) => {
      if (p.cmd === "puback") inUse.delete(p.messageId!);
    });
  }
}

describe("otb-conduit: close during a 200k-record replay (mosquitto)", function () {
  this.timeout(240_000);
  let dir: string;
  let holder: net.Server | null = null;
  let broker: Mosquitto | null = null;
  let counter: Counter | null = null;
  const conduits: Conduit[] = [];
  afterEach(async () => {
    holder?.close();
    holder = null;
    for (const c of conduits.splice(0)) await c.close();
    await counter?.stop();
    await broker?.close();
    counter = broker = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  itWithMosquitto("closes in < 5 s mid-replay, resumes from the persisted cursor, window and packet ids respected", async () => {
    dir = tempDir("otb-replay-close-");
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const open = (): Conduit => {
      const c = makeConduit({ broker: url, queueDir: dir, inflight: WINDOW, commitMs: 20, queueMaxMB: 512 });
      conduits.push(c);
      return c;
    };
    // Hold the port while the broker is down: between freePort() and the broker's start (the
    // backlog takes seconds, minutes under load) another test's server or an outgoing connection
    // could take it, and this test's clients would then talk to a stranger (in the two-worker
    // suite, another test's broker and its conduit with the same client id "otb-c1").
    holder = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => holder!.listen(port, "127.0.0.1", () => resolve()));
    const first = open();
    const watch1 = new WireWatch(first);
    // The backlog, built while the broker is down (the conduit has no user yet, so no link either).
    for (let n = 0; n < TOTAL; n += 1000) {
      const records = Array.from({ length: 1000 }, (_, k) => ({ ts: Date.now(), kind: 0, topic: `t/${(n + k) % 4}`,
        payload: Buffer.from(JSON.stringify({ n: n + k })) }));
      const r = await first.submit(records);
      assert.equal(r.accepted, 1000);
    }
    await new Promise<void>((resolve) => holder!.close(() => resolve()));
    holder = null;
    broker = await startMosquitto(["max_queued_messages 1000000", "max_inflight_messages 0"], { port });
    // A persistent session (MQTT 5 session expiry): if the subscriber's link drops under load,
    // the broker keeps queueing for it and hands the backlog over on reconnect.
    counter = await Counter.start(url, "t/#", { clean: false, properties: { sessionExpiryInterval: 600 } });
    // Only now may the conduit connect: a record PUBACKed before the verifier's SUBACK is delivered
    // by the conduit's contract yet reaches no subscriber (one CI run under load lost 0-782 so).
    connectUser(first);
    // startMosquitto only checks that *something* accepts on the port; a mosquitto that could
    // not bind exits at once, long before the subscriber above has its SUBACK.
    assert.equal(broker.child.exitCode, null, "mosquitto exited: the port was taken by another server");
    await waitFor(() => first.stats().delivered >= 30_000, 60_000, "replay under way");
    const closeStarted = Date.now();
    await first.close();
    const closeMs = Date.now() - closeStarted;
    conduits.splice(conduits.indexOf(first), 1);
    const atClose = first.stats();
    assert.ok(atClose.queued > 0, "closed mid-replay");
    assert.ok(closeMs < 5000, `close took ${closeMs} ms`);

    // Restart: the persisted cursor, not the beginning.
    const second = open();
    const watch2 = new WireWatch(second);
    const reopened = second.stats();
    assert.ok(reopened.recovered <= atClose.queued + WINDOW && reopened.recovered >= atClose.queued,
      `recovered ${reopened.recovered}, queued at close ${atClose.queued}`);
    connectUser(second);
    await waitFor(() => counter!.unique === TOTAL, 120_000, "every record").catch((err: Error) => {
      const miss = counter!.missing(TOTAL, ["t/0", "t/1", "t/2", "t/3"]).map((k) => Number(k.split("#")[1]));
      const ranges: string[] = [];
      for (let i = 0; i < miss.length; i++) { const a = miss[i]; while (i + 1 < miss.length && miss[i + 1] === miss[i] + 1) i++; ranges.push(`${a}-${miss[i]}`); }
      throw new Error(`${err.message}: subscriber has ${counter!.unique}, conduit ${JSON.stringify(second.stats())} atClose ${JSON.stringify(atClose)} reopened ${JSON.stringify(reopened)} events ${counter!.events.join("; ")} missing ${ranges.slice(0, 40).join(",")}`);
    });
    await waitFor(() => second.stats().queued === 0, 10_000, "drained");
    const s = second.stats();
    // Across both lives: everything produced was delivered once (duplicates counted apart), nothing else.
    assert.equal(s.recovered, s.delivered + s.quarantined + s.dropped + s.expired + s.queued);
    assert.equal(atClose.produced, TOTAL);
    // Records settled above the persisted mark at close replay once more (and are counted again).
    assert.equal(atClose.delivered + s.delivered, TOTAL + (reopened.recovered - atClose.queued));
    assert.ok(counter.duplicates <= WINDOW, `${counter.duplicates} duplicates, window ${WINDOW}`);
    assert.equal(counter.outOfOrder, 0);
    console.log(`      close mid-replay: ${closeMs} ms with ${atClose.queued} queued; ${counter.duplicates} duplicates; in flight peaked at ${Math.max(watch1.maxInFlight, watch2.maxInFlight)}; subscriber link events: ${counter.events.length > 0 ? counter.events.join("; ") : "none"}`);
    for (const w of [watch1, watch2]) {
      assert.ok(w.publishes > 0);
      assert.ok(w.maxInFlight <= WINDOW, `in flight peaked at ${w.maxInFlight}`);
      assert.equal(w.reused, 0, "no packet id reused while in flight");
    }
  });
});
