/**
 * Close during a long replay (F8, the queue's half): with a 200,000-record backlog half drained
 * and a window of records still in flight, close() settles (one group commit and one mark
 * write, however long the backlog) and the next open resumes from the persisted cursor: every
 * record not settled before the close replays, in order, and nothing settled before it does.
 * The end-to-end timing (< 5 s inside Node-RED) is the conduit's test; here no wall clock.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { DurableQueue } from "../../nodes/otb-conduit/queue/durable-queue";
import { tempDir } from "./harness";

const TOTAL = 200_000;
const rec = (i: number) => ({ ts: 1, kind: 0, topic: `t/${i % 7}`, payload: Buffer.from(`{"i":${i}}`) });

describe("queue close during a replay", function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = tempDir("otb-qclose-")));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("closes with records in flight and resumes from the persisted cursor", async () => {
    let q = DurableQueue.open({ dir, maxBytes: 1 << 30, commitIntervalMs: 5, fullPolicy: "reject-new" });
    for (let i = 0; i < TOTAL; i += 5000) await q.append(Array.from({ length: 5000 }, (_, k) => rec(i + k)));
    await q.close();
    q = DurableQueue.open({ dir, maxBytes: 1 << 30, commitIntervalMs: 5, fullPolicy: "reject-new" });
    assert.equal(q.snapshot().recovered, TOTAL);
    let settled = 0;
    while (settled < TOTAL / 2) {
      for (const r of q.take(500)) q.settle(r.seq, "delivered");
      settled += 500;
    }
    const inFlight = q.take(500); // handed to the broker, never acknowledged
    assert.equal(q.snapshot().inFlight, 500);
    await q.close();
    q = DurableQueue.open({ dir, maxBytes: 1 << 30, commitIntervalMs: 5, fullPolicy: "reject-new" });
    try {
      const c = q.snapshot();
      assert.equal(c.recovered, TOTAL - settled, "everything not settled before the close, and nothing else");
      assert.equal(c.corrupt, 0);
      const first = q.take(1)[0];
      assert.equal(first.seq, inFlight[0].seq, "replay resumes at the oldest unacknowledged record");
      let expected = first.seq + 1;
      let ok = true;
      for (let got = q.take(5000); got.length; got = q.take(5000)) for (const r of got) ok = ok && r.seq === expected++;
      assert.ok(ok && expected === TOTAL + 1, "the rest in order, none missing");
    } finally {
      await q.close();
    }
  });
});
