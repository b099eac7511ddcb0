/**
 * Property test of the queue's bookkeeping: random interleavings of appends (records of random
 * size and age), takes, settles, rewinds, close/reopen and injected ENOSPC, under either full
 * policy, a small bound and a max age. After every step the counters add up
 * (recovered + produced = delivered + quarantined + dropped + expired + corruptLive + queued);
 * at the end everything still queued drains in seq order, no record is handed out after it was
 * settled, and an empty segment left by a drained queue never takes the next one's file with it.
 */
import { strict as assert } from "assert";
import * as fc from "fast-check";
import * as fs from "fs";
import { DurableQueue, type QueueOptions } from "../../nodes/otb-conduit/queue/durable-queue";
import { tempDir } from "./harness";
import { SmallDisk } from "./small-disk";

type Op =
  | { op: "append"; n: number; size: number; old: boolean }
  | { op: "take"; n: number }
  | { op: "settle"; n: number }
  | { op: "rewind" }
  | { op: "reopen" }
  | { op: "enospc"; n: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant("append" as const), n: fc.integer({ min: 1, max: 60 }), size: fc.integer({ min: 1, max: 900 }), old: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("take" as const), n: fc.integer({ min: 1, max: 80 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("settle" as const), n: fc.integer({ min: 1, max: 80 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("rewind" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("reopen" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("enospc" as const), n: fc.integer({ min: 1, max: 30 }) }) },
);

describe("queue bookkeeping under random operations", function () {
  this.timeout(120_000);

  it("property: the counters add up after every step, and the queue drains in order", async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.constantFrom("reject-new" as const, "drop-oldest" as const),
      async (ops, fullPolicy) => {
        const dir = tempDir(`otb-qmodel-${run++}-`);
        const options: QueueOptions = { dir, maxBytes: 48 * 1024, commitIntervalMs: 1, fullPolicy, segmentBytes: 6 * 1024, maxAgeMs: 3600_000 };
        let q = DurableQueue.open(options);
        let inFlight: number[] = [];
        const settled = new Set<number>();
        let next = 0;
        const check = (): void => {
          const c = q.snapshot();
          assert.equal(c.recovered + c.produced, c.delivered + c.quarantined + c.dropped + c.expired + c.corruptLive + c.queued, JSON.stringify(c));
          assert.equal(c.corrupt, 0, "nothing here damages the files");
          assert.ok(c.bytes <= options.maxBytes + 6 * 1024, `bytes ${c.bytes}`);
        };
        try {
          for (const o of ops) {
            if (o.op === "append") {
              const ts = o.old ? Date.now() - 2 * 3600_000 : Date.now();
              await q.append(Array.from({ length: o.n }, () => ({ ts, kind: 0, topic: `m/${next % 4}`, payload: Buffer.from(JSON.stringify({ i: next++, pad: "q".repeat(o.size) })) })));
            } else if (o.op === "take") {
              for (const r of q.take(o.n)) {
                assert.ok(!settled.has(r.seq), `seq ${r.seq} handed out after it was settled`);
                assert.ok(r.ts >= Date.now() - 3600_000, "an expired record was handed out");
                inFlight.push(r.seq);
              }
            } else if (o.op === "settle") {
              for (const seq of inFlight.splice(0, o.n)) {
                q.settle(seq, seq % 5 === 0 ? "quarantined" : "delivered");
                settled.add(seq);
              }
            } else if (o.op === "rewind") {
              q.rewind();
              inFlight = [];
            } else if (o.op === "reopen") {
              const c = q.snapshot();
              await q.close();
              q = DurableQueue.open(options);
              // After a clean close, what was queued is what comes back (resolved-above-the-mark may replay: at-least-once).
              assert.ok(q.snapshot().recovered >= c.queued, `recovered ${q.snapshot().recovered} < queued ${c.queued}`);
              inFlight = [];
            } else {
              const disk = SmallDisk.failEveryWrite();
              await q.append(Array.from({ length: o.n }, () => ({ ts: Date.now(), kind: 0, topic: "m/x", payload: Buffer.from(JSON.stringify({ i: next++ })) })));
              disk.restore();
            }
            check();
          }
          q.rewind();
          let last = 0;
          for (let got = q.take(100); got.length; got = q.take(100)) {
            for (const r of got) {
              assert.ok(r.seq > last, "drains in seq order");
              last = r.seq;
              q.settle(r.seq, "delivered");
            }
          }
          check();
          assert.equal(q.snapshot().queued, 0);
        } finally {
          await q.close();
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }), { numRuns: Number(process.env.OTB_FUZZ_RUNS ?? 60) });
  });
});
