import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DurableQueue, type DropReport, type FullState, type QueueOptions } from "../../nodes/otb-conduit/queue/durable-queue";
import type { RecordInput } from "../../nodes/otb-conduit/queue/record";

const rec = (i: number, topic = "a/b"): RecordInput => ({ ts: 1000 + i, kind: 0, topic, payload: Buffer.from(`{"i":${i}}`) });
const range = (from: number, n: number): RecordInput[] => Array.from({ length: n }, (_, k) => rec(from + k));
const waitUntil = async (cond: () => boolean, ms = 5000): Promise<void> => {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 5))) if (Date.now() > end) throw new Error("timed out");
};
const ids = (q: DurableQueue, max: number): number[] => q.take(max).map((r) => JSON.parse(r.payload.toString()).i as number);

describe("durable queue", () => {
  let dir: string;
  const opened: DurableQueue[] = [];
  const open = (o: Partial<QueueOptions> = {}): DurableQueue => {
    const q = DurableQueue.open({ dir, maxBytes: 10 << 20, commitIntervalMs: 5, fullPolicy: "reject-new", ...o });
    opened.push(q);
    return q;
  };
  const invariant = (q: DurableQueue): void => {
    const c = q.snapshot();
    assert.equal(c.recovered + c.produced, c.delivered + c.quarantined + c.dropped + c.expired + c.corruptLive + c.queued, JSON.stringify(c));
  };

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-q-"))));
  afterEach(async () => {
    for (const q of opened.splice(0)) await q.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("resolves append only once the records are on disk, and replays them FIFO", async () => {
    const q = open();
    assert.deepEqual(await q.append(range(0, 100)), { accepted: 100, rejected: 0 });
    assert.deepEqual(ids(q, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(ids(q, 3), [10, 11, 12], "in-flight records are not handed out twice");
    q.rewind();
    assert.deepEqual(ids(q, 3), [0, 1, 2], "after a disconnect replay restarts at the oldest unresolved");
    invariant(q);
  });

  it("deletes only settled records, keeps quarantined ones out of replay, and survives a restart", async () => {
    let q = open();
    await q.append(range(0, 20));
    const batch = q.take(10);
    for (const r of batch.slice(0, 5)) q.settle(r.seq, "delivered");
    q.settle(batch[7].seq, "quarantined");
    invariant(q);
    assert.deepEqual(q.snapshot().queued, 14);
    await q.close();
    q = open();
    // 5..19 minus the quarantined #7; #7 sits above the contiguous mark, so after a crash it
    // could replay (at-least-once); after a clean close it is remembered only up to the mark.
    const replay = ids(q, 100);
    assert.deepEqual(replay.filter((i) => i !== 7), [5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    assert.equal(q.snapshot().recovered, replay.length);
    invariant(q);
  });

  it("reject-new refuses exactly what does not fit and counts it", async () => {
    const q = open({ maxBytes: 64 * 1024, fullPolicy: "reject-new" });
    const r = await q.append(range(0, 3000));
    assert.ok(r.rejected > 0 && r.accepted > 0);
    assert.equal(r.accepted + r.rejected, 3000);
    assert.ok(q.snapshot().bytes <= 64 * 1024);
    assert.equal(q.snapshot().dropped, r.rejected);
    const all: number[] = [];
    for (let got = ids(q, 500); got.length; got = ids(q, 500)) all.push(...got);
    assert.deepEqual(all, Array.from({ length: r.accepted }, (_, i) => i), "the oldest are kept, in order");
    invariant(q);
  });

  it("drop-oldest deletes the oldest segment, keeps a contiguous newest tail and counts every drop", async () => {
    const q = open({ maxBytes: 64 * 1024, segmentBytes: 8 * 1024, fullPolicy: "drop-oldest" });
    for (let i = 0; i < 3000; i += 100) await q.append(range(i, 100));
    const c = q.snapshot();
    assert.ok(c.dropped > 0 && c.bytes <= 64 * 1024, JSON.stringify(c));
    const all: number[] = [];
    for (let got = ids(q, 500); got.length; got = ids(q, 500)) all.push(...got);
    assert.equal(all.length, 3000 - c.dropped);
    assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => c.dropped + i), "the newest survive, in order");
    invariant(q);
  });

  it("reject-new keeps the oldest contiguous prefix even when a smaller record would still fit, says full, and takes records again once drained", async () => {
    const q = open({ maxBytes: 32 * 1024, fullPolicy: "reject-new" });
    const full: FullState[] = [];
    q.on("full", (f: FullState) => full.push(f));
    const big = (i: number): RecordInput => ({ ...rec(i), payload: Buffer.from(JSON.stringify({ i, pad: "b".repeat(2000) })) });
    const results = [];
    for (let i = 0; i < 40; i++) results.push(await q.append([i % 2 ? big(i) : rec(i)]));
    const accepted = results.map((r, i) => (r.accepted ? i : -1)).filter((i) => i >= 0);
    assert.ok(accepted.length > 0 && accepted.length < 40);
    assert.deepEqual(accepted, Array.from({ length: accepted.length }, (_, i) => i), "no small record slipped in after a refusal");
    assert.deepEqual(full, [{ full: true, limit: "bound", policy: "reject-new" }]);
    assert.equal(q.snapshot().full, true);
    for (let got = q.take(100); got.length; got = q.take(100)) for (const r of got) q.settle(r.seq, "delivered");
    await waitUntil(() => !q.full);
    assert.deepEqual(full[1], { full: false, policy: "reject-new" });
    assert.deepEqual(await q.append([rec(99)]), { accepted: 1, rejected: 0 });
    invariant(q);
  });

  it("drop-oldest with nothing sealed yet drops the oldest unwritten records, never the newest, and every append settles", async () => {
    const q = open({ maxBytes: 16 * 1024, segmentBytes: 1 << 20, fullPolicy: "drop-oldest" });
    const drops: DropReport[] = [];
    q.on("dropped", (d: DropReport) => drops.push(d));
    const results = await Promise.all(Array.from({ length: 20 }, (_, b) => q.append(range(b * 50, 50))));
    assert.ok(results.every((r) => r.rejected === 0), "drop-oldest refuses nothing new");
    const c = q.snapshot();
    assert.ok(c.dropped > 0 && c.bytes <= 16 * 1024, JSON.stringify(c));
    assert.equal(drops.reduce((n, d) => n + d.count, 0), c.dropped);
    const all: number[] = [];
    for (let got = ids(q, 500); got.length; got = ids(q, 500)) all.push(...got);
    assert.deepEqual(all, Array.from({ length: 1000 - c.dropped }, (_, i) => c.dropped + i), "the newest, contiguous, in order");
    invariant(q);
    await q.close();
    opened.splice(0);
    const again = open({ maxBytes: 16 * 1024, segmentBytes: 1 << 20, fullPolicy: "drop-oldest" });
    assert.equal(again.snapshot().corrupt, 0, "dropped-before-written records are marked, not taken for damage");
    assert.equal(again.snapshot().recovered, 1000 - c.dropped);
  });

  it("skips a bit-flipped record and a truncated tail, counts them, and replays every valid record in order", async () => {
    let q = open({ segmentBytes: 4096 });
    for (let i = 0; i < 500; i += 50) await q.append(range(i, 50));
    await q.close();
    const segs = fs.readdirSync(dir).filter((f) => f.startsWith("seg-")).sort();
    assert.ok(segs.length >= 3);
    const first = path.join(dir, segs[0]);
    const bytes = fs.readFileSync(first);
    bytes[60] ^= 0x10; // inside the second record of the first segment
    fs.writeFileSync(first, bytes);
    const last = path.join(dir, segs[segs.length - 1]);
    fs.truncateSync(last, fs.statSync(last).size - 5);
    q = open({ segmentBytes: 4096 });
    const all: number[] = [];
    for (let got = ids(q, 100); got.length; got = ids(q, 100)) all.push(...got);
    const c = q.snapshot();
    assert.equal(c.corrupt, 2, "one flipped record, one torn final record");
    assert.equal(all.length, 498);
    assert.ok(!all.includes(1) && !all.includes(499));
    assert.deepEqual(all, [...all].sort((a, b) => a - b), "order kept");
    assert.equal(c.recovered, 498);
    assert.equal(c.recovered, c.queued, "lost records are resolved, not left queued");
  });

  it("a drained queue reopened twice keeps what is appended next (an empty segment never takes the new one's file)", async () => {
    let q = open();
    await q.append(range(0, 5));
    for (const r of q.take(10)) q.settle(r.seq, "delivered");
    await q.close();
    opened.splice(0);
    q = open();
    await q.close();
    opened.splice(0);
    q = open();
    await q.append(range(10, 3));
    await new Promise((r) => setTimeout(r, 30)); // a few commit ticks: marks written, segments freed
    assert.deepEqual(ids(q, 10), [10, 11, 12]);
    await q.close();
    opened.splice(0);
    q = open();
    assert.equal(q.snapshot().recovered, 3);
    assert.deepEqual(ids(q, 10), [10, 11, 12]);
  });

  it("refuses a folder another queue holds, and takes over a lock left by a dead process", async () => {
    const q = open();
    assert.throws(() => open(), /already used by another conduit/);
    await q.close();
    opened.splice(0);
    fs.writeFileSync(path.join(dir, "LOCK"), "999999999"); // no such process
    const again = open();
    await again.append(range(0, 1));
    assert.equal(fs.readFileSync(path.join(dir, "LOCK"), "utf8"), String(process.pid));
  });

  it("live-first sends new records before the backlog; in-order never lets them overtake", async () => {
    const q = open({ replayOrder: "live-first" });
    await q.append(range(0, 10));
    q.markLive();
    await q.append(range(100, 3));
    assert.deepEqual(ids(q, 5), [100, 101, 102, 0, 1]);
    const q2 = open({ dir: path.join(dir, "b"), replayOrder: "in-order" });
    await q2.append(range(0, 3));
    q2.markLive();
    await q2.append(range(100, 2));
    assert.deepEqual(ids(q2, 5), [0, 1, 2, 100, 101]);
  });
});
