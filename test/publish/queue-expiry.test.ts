/**
 * Max age (F9): a record older than the conduit's max age is never published; it is resolved
 * and counted as expired, and produced = delivered + expired + queued holds. At the queue level
 * the clock is sinon's (an outage of two hours in no time) and whole sealed segments past the
 * age are swept while the broker is still away; end to end, records stamped two hours ago go
 * through a real conduit to aedes and an independent subscriber sees only the fresh ones.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as sinon from "sinon";
import { DurableQueue, type DropReport } from "../../nodes/otb-conduit/queue/durable-queue";
import { encodedSize } from "../../nodes/otb-conduit/queue/record";
import { freePort, startAedes, waitFor } from "../helpers/peers";
import { Counter, assertInvariant, connectUser, makeConduit, tempDir } from "./harness";

const HOUR = 3600_000;
const rec = (i: number, ts: number) => ({ ts, kind: 0, topic: `t/${i % 3}`, payload: Buffer.from(JSON.stringify({ n: i, pad: "e".repeat(100) })) });

describe("queue max age", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = tempDir("otb-expiry-")));
  afterEach(() => {
    sinon.restore();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a two-hour outage (fake clock) with a one-hour max age: old records expire, counted, never handed out; sealed segments go early", async () => {
    const clock = sinon.useFakeTimers({ now: 1_700_000_000_000, toFake: ["Date"] });
    const q = DurableQueue.open({ dir, maxBytes: 64 << 20, commitIntervalMs: 2, fullPolicy: "reject-new", segmentBytes: 8 * 1024, maxAgeMs: HOUR });
    const drops: DropReport[] = [];
    q.on("dropped", (d: DropReport) => drops.push(d));
    try {
      // 2 h at 2,000 msg/s compressed: one batch of 100 every simulated 6 minutes.
      let n = 0;
      for (let minute = 0; minute < 120; minute += 6) {
        await q.append(Array.from({ length: 100 }, () => rec(n++, Date.now())));
        clock.tick(6 * 60_000);
      }
      await waitFor(() => q.snapshot().expired > 0, 5000, "the sweep of sealed segments past the age");
      // Half the outage is past the age: its sealed segments are gone already (slack: the segment
      // straddling the cutoff, one 100-record batch here since a batch is larger than a segment).
      const frame = encodedSize(rec(n, Date.now()));
      assert.ok(q.snapshot().bytes <= (n / 2 + 100) * frame, `${q.snapshot().bytes} bytes left for ${n} records of ${frame}`);
      const cutoff = Date.now() - HOUR;
      const handed: Array<{ n: number; ts: number }> = [];
      for (let got = q.take(200); got.length; got = q.take(200)) {
        for (const r of got) {
          handed.push({ n: (JSON.parse(r.payload.toString()) as { n: number }).n, ts: r.ts });
          q.settle(r.seq, "delivered");
        }
      }
      assert.ok(handed.length > 0 && handed.every((h) => h.ts >= cutoff), "nothing older than the max age is handed out");
      const c = q.snapshot();
      assert.equal(c.expired, n - handed.length, "every other record expired");
      assert.deepEqual(handed.map((h) => h.n), Array.from({ length: handed.length }, (_, i) => n - handed.length + i), "the fresh ones, in order");
      assert.equal(c.produced, c.delivered + c.expired + c.queued);
      assert.equal(drops.filter((d) => d.reason === "expired").reduce((s, d) => s + d.count, 0), c.expired, "every expiry reported");
    } finally {
      await q.close();
    }
  });

  it("end to end: records older than the conduit's max age never reach the subscriber; the invariant counts them", async () => {
    const port = await freePort();
    const conduit = makeConduit({ broker: `mqtt://127.0.0.1:${port}`, queueDir: dir, protocolVersion: "4", queueMaxAgeS: 3600 });
    const faults: Error[] = [];
    conduit.on("fault", (e: Error) => faults.push(e));
    const broker = await startAedes(port);
    const counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
    try {
      const old = Date.now() - 2 * HOUR;
      for (let i = 0; i < 600; i += 100) {
        await conduit.submit(Array.from({ length: 100 }, (_, k) => rec(i + k, (i + k) % 2 === 0 ? old : Date.now())));
      }
      connectUser(conduit);
      await waitFor(() => conduit.stats().queued === 0, 10_000, "drained");
      await waitFor(() => counter.unique === 300, 5000, "the fresh half");
      const got = [...counter.byTopic.values()].flat();
      assert.ok(got.every((n) => n % 2 === 1), "no expired record published");
      const s = conduit.stats();
      assert.equal(s.expired, 300);
      assert.equal(faults.filter((f) => /older than the max age \(3600 s\) expired/.test(f.message)).length, 1, "reported once, with the reason");
      assert.equal(s.delivered, 300);
      assertInvariant(conduit);
    } finally {
      await counter.stop();
      await conduit.close();
      await broker.close();
    }
  });
});
