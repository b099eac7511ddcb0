/**
 * The re-send window of issue 19 on its own (nodes/otb-conduit/resend-window.ts): which records
 * a failover re-sends, in what order, within which bounds. failover.test.ts shows it end to end
 * against real brokers; here the bounds and the bookkeeping of a link lost mid-resend.
 */
import { strict as assert } from "assert";
import { ResendWindow } from "../../nodes/otb-conduit/resend-window";
import type { QueueRecord } from "../../nodes/otb-conduit/queue/record";

const rec = (seq: number, bytes = 10): QueueRecord => ({ seq, ts: 0, kind: 1, topic: `t/${seq}`, payload: Buffer.alloc(bytes) });
const seqs = (rs: QueueRecord[]): number[] => rs.map((r) => r.seq);

describe("otb-conduit re-send window (issue 19)", () => {
  it("re-sends nothing on the first link or to the same broker after the conduit's own drop; everything held, in order, on another", () => {
    const w = new ResendWindow({ records: 100, ms: 60_000, bytes: 1e6 });
    w.attach("a");
    for (const s of [1, 2, 3]) w.acknowledged(rec(s));
    assert.equal(w.waiting, 0);
    w.lost(false);
    w.attach("a");
    assert.equal(w.waiting, 0, "the conduit dropped the link itself: that broker lived");
    w.lost(false);
    w.attach("b");
    assert.equal(w.waiting, 3);
    assert.deepEqual(seqs(w.take(2)), [1, 2]);
    assert.deepEqual(seqs(w.take(5)), [3]);
    assert.equal(w.waiting, 0);
  });

  it("after a link the broker's side ended, the same broker gets the held records again, each once; their age counts back from the loss", () => {
    let now = 0;
    const w = new ResendWindow({ records: 100, ms: 1000, bytes: 1e6 }, () => now);
    w.attach("a");
    for (const [s, at] of [[1, 0], [2, 500], [3, 900]] as const) {
      now = at;
      w.acknowledged(rec(s));
    }
    now = 1200;
    w.lost(true); // e.g. mosquitto stopped: it may have lost what it acknowledged last
    now = 60_000; // back a minute later: still the records of the last second before the loss
    w.attach("a");
    const again = w.take(100);
    assert.deepEqual(seqs(again), [2, 3]);
    for (const r of again) w.settled(r, true);
    w.acknowledged(rec(4));
    w.lost(true);
    w.attach("a");
    assert.deepEqual(seqs(w.take(100)), [4], "re-sent once to the same broker, not again on every flap");
  });

  it("keeps at most the newest N records, the newest B bytes, and those acknowledged within T", () => {
    let now = 0;
    const byCount = new ResendWindow({ records: 3, ms: 60_000, bytes: 1e6 }, () => now);
    byCount.attach("a");
    for (let s = 1; s <= 10; s++) byCount.acknowledged(rec(s));
    byCount.attach("b");
    assert.deepEqual(seqs(byCount.take(100)), [8, 9, 10]);

    const byBytes = new ResendWindow({ records: 100, ms: 60_000, bytes: 25 }, () => now);
    byBytes.attach("a");
    for (let s = 1; s <= 10; s++) byBytes.acknowledged(rec(s, 10));
    byBytes.attach("b");
    assert.deepEqual(seqs(byBytes.take(100)), [9, 10]);

    const byAge = new ResendWindow({ records: 100, ms: 1000, bytes: 1e6 }, () => now);
    byAge.attach("a");
    for (let s = 1; s <= 4; s++) {
      byAge.acknowledged(rec(s));
      now += 400;
    }
    // Acknowledged at 0, 400, 800, 1200; failover at 1600: only those within the last second.
    byAge.attach("b");
    assert.deepEqual(seqs(byAge.take(100)), [3, 4]);
  });

  it("a link lost mid-resend: what was not acknowledged again is re-sent on the next, merged in order with what the new broker took", () => {
    const w = new ResendWindow({ records: 100, ms: 60_000, bytes: 1e6 });
    w.attach("a");
    for (let s = 1; s <= 5; s++) w.acknowledged(rec(s));
    w.attach("b");
    const sent = w.take(3); // 1, 2, 3 on b
    w.settled(sent[0]!, true); // b took 1
    w.acknowledged(rec(6)); // and a new record
    w.lost(false); // b is lost: 2, 3 unacknowledged, 4, 5 never sent
    w.attach("c");
    assert.deepEqual(seqs(w.take(100)), [1, 2, 3, 4, 5, 6], "all at risk, once each, in queue order");
  });

  it("a record the new broker refuses is not re-sent again; one it asks to wait for goes back in order", () => {
    const w = new ResendWindow({ records: 100, ms: 60_000, bytes: 1e6 });
    w.attach("a");
    for (let s = 1; s <= 3; s++) w.acknowledged(rec(s));
    w.attach("b");
    const [r1, r2, r3] = w.take(3);
    w.settled(r1!, false); // refused
    w.retry(r2!); // 0x97 quota exceeded
    w.settled(r3!, true);
    assert.deepEqual(seqs(w.take(100)), [2]);
    w.settled(r2!, true);
    w.attach("c");
    assert.deepEqual(seqs(w.take(100)), [2, 3], "what b acknowledged, for the next failover");
  });
});
