/**
 * Damaged queue files (F6) at the queue level: one flipped bit in any field of one frame loses
 * exactly that record and nothing after it (the issue lost 35,363 records to one length-field
 * bit); the damaged segment is moved to damaged/ (never deleted) and a "damaged" event says
 * where; the newest segment zeroed, overwritten, emptied or deleted is counted record by record
 * (the committed head); a torn tail after a real kill -9 loses no record whose append had resolved; damage
 * appearing under a running queue is counted and resolved too; and a property test flips bits,
 * truncates and overwrites segment files at random and checks, every time, that exactly the
 * undamaged records replay in order and that the counters add up.
 */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fc from "fast-check";
import * as fs from "fs";
import * as path from "path";
import { DurableQueue, type DamageReport } from "../../nodes/otb-conduit/queue/durable-queue";
import { waitFor } from "../helpers/peers";
import { tempDir } from "./harness";
import { type Frame, drain, fillFolder, framesOf, idRecord, queueOptions, segmentFiles } from "./queue-files";

const N = 400;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const without = (all: number[], lostSeqs: Set<number>) => all.filter((i) => !lostSeqs.has(i + 1));

function flipBit(file: string, pos: number, bit: number): void {
  const b = fs.readFileSync(file);
  b[pos] ^= 1 << bit;
  fs.writeFileSync(file, b);
}

describe("damaged queue files", function () {
  this.timeout(60_000);
  let dir: string;
  const opened: DurableQueue[] = [];
  beforeEach(() => (dir = tempDir("otb-qdamage-")));
  afterEach(async () => {
    for (const q of opened.splice(0)) await q.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Field offsets inside a frame (record.ts): [name, byte, bit]. */
  const fields: Array<[string, (f: Frame) => number, number]> = [
    ["magic", () => 1, 3],
    ["length field, high bit (runs past the segment)", () => 6, 4],
    ["length field, low bit", () => 4, 0],
    ["seq", () => 9, 2],
    ["CRC", () => 17, 5],
    ["timestamp", () => 22, 1],
    ["kind", () => 28, 0],
    ["topic length", () => 29, 6],
    ["topic", () => 31, 1],
    ["payload, last byte", (f) => f.size - 1, 2],
  ];
  for (const [name, at, bit] of fields) {
    it(`one flipped bit in the ${name} loses exactly that record; the segment is moved aside, not deleted`, async () => {
      await fillFolder(dir, N);
      const frames = framesOf(dir);
      const files = segmentFiles(dir);
      assert.ok(files.length >= 4, `${files.length} segments`);
      const middle = files[Math.floor(files.length / 2)];
      const inFile = frames.filter((f) => f.file === middle);
      const victim = inFile[Math.floor(inFile.length / 2)];
      flipBit(middle, victim.offset + at(victim), bit);
      const damagedBytes = fs.readFileSync(middle);
      const reports: DamageReport[] = [];
      const { q, ids } = await drain(dir);
      opened.push(q);
      q.on("damaged", (d: DamageReport) => reports.push(d));
      assert.deepEqual(ids, without(range(N), new Set([victim.seq])), "every other record, in order");
      const c = q.snapshot();
      assert.equal(c.corrupt, 1);
      assert.equal(c.recovered, N - 1);
      assert.equal(c.queued, 0);
      assert.deepEqual(q.damage.map((d) => [d.file, d.lost]), [[middle, 1]]);
      const movedTo = path.join(dir, "damaged", path.basename(middle));
      assert.equal(q.damage[0].movedTo, movedTo);
      assert.ok(!fs.existsSync(middle));
      assert.deepEqual(fs.readFileSync(movedTo), damagedBytes, "kept as found");
      await waitFor(() => reports.length === 1, 2000, "the damaged event");
      assert.equal(reports[0].movedTo, movedTo);
      await q.close();
      assert.deepEqual(fs.readFileSync(movedTo), damagedBytes, "still there after its records were resolved");
    });
  }

  for (const how of ["zeros", "random garbage", "emptied", "deleted"] as const) {
    it(`the newest segment ${how === "deleted" || how === "emptied" ? how : `replaced by ${how}`}: its records are counted lost (the committed head), the rest replays`, async () => {
      await fillFolder(dir, N);
      const frames = framesOf(dir);
      const files = segmentFiles(dir);
      const newest = files[files.length - 1];
      const inNewest = frames.filter((f) => f.file === newest).map((f) => f.seq);
      const size = fs.statSync(newest).size;
      if (how === "deleted") fs.rmSync(newest);
      else fs.writeFileSync(newest, how === "zeros" ? Buffer.alloc(size) : how === "emptied" ? Buffer.alloc(0)
        : Buffer.from(Array.from({ length: size }, (_, i) => (i * 7919 + 13) & 0xff)));
      const { q, ids } = await drain(dir);
      opened.push(q);
      const c = q.snapshot();
      assert.equal(c.corrupt, inNewest.length, "every record of the segment, no more");
      assert.deepEqual(ids, without(range(N), new Set(inNewest)));
      if (how !== "deleted") assert.ok(fs.existsSync(path.join(dir, "damaged", path.basename(newest))), "moved aside");
      await q.append([idRecord(N)]);
      assert.equal(q.take(5)[0].seq, N + 1, "new records never reuse a lost seq");
    });
  }

  it("a length-field bit flip early in one large segment loses that record only (the issue's 35,363)", async () => {
    await fillFolder(dir, 20_000, { segmentBytes: 16 << 20 });
    const frames = framesOf(dir);
    assert.equal(segmentFiles(dir).length, 1);
    flipBit(frames[100].file, frames[100].offset + 6, 7);
    const { q, ids } = await drain(dir, { segmentBytes: 16 << 20 });
    opened.push(q);
    assert.equal(q.snapshot().corrupt, 1);
    assert.equal(ids.length, 19_999);
    assert.deepEqual(ids, without(range(20_000), new Set([frames[100].seq])));
  });

  it("damage that appears under a running queue is counted once, resolved, and the rest still replays", async () => {
    const q = DurableQueue.open(queueOptions(dir));
    opened.push(q);
    for (let i = 0; i < N; i += 50) await q.append(Array.from({ length: 50 }, (_, k) => idRecord(i + k)));
    const frames = framesOf(dir);
    const victim = frames[Math.floor(frames.length / 3)];
    flipBit(victim.file, victim.offset + 5, 3); // the length field, behind the queue's back
    const ids: number[] = [];
    for (let got = q.take(100); got.length; got = q.take(100)) {
      for (const r of got) {
        ids.push((JSON.parse(r.payload.toString()) as { i: number }).i);
        q.settle(r.seq, "delivered");
      }
    }
    assert.deepEqual(ids, without(range(N), new Set([victim.seq])));
    const c = q.snapshot();
    assert.equal(c.corrupt, 1);
    assert.equal(c.corruptLive, 1);
    assert.equal(c.produced, c.delivered + c.corruptLive + c.queued);
    assert.ok(fs.existsSync(path.join(dir, "damaged", path.basename(victim.file))));
  });

  it("a torn tail after a real kill -9 mid-append loses no record whose append had resolved", async () => {
    const modulePath = path.resolve(__dirname, "../../nodes/otb-conduit/queue/durable-queue.js");
    const script = `
      const { DurableQueue } = require(${JSON.stringify(modulePath)});
      const q = DurableQueue.open({ dir: ${JSON.stringify(dir)}, maxBytes: 1 << 30, commitIntervalMs: 1, fullPolicy: "reject-new", segmentBytes: 64 * 1024 });
      let i = 0;
      setInterval(() => undefined, 1000); // the queue's commit timer is unref'd; Node-RED would keep the process alive
      (async () => {
        for (;;) {
          const batch = Array.from({ length: 40 }, () => ({ ts: 1, kind: 0, topic: "t/" + (i % 3), payload: Buffer.from(JSON.stringify({ i: i++, pad: "k".repeat(200) })) }));
          const r = await q.append(batch);
          if (r.accepted === batch.length) process.stdout.write("acked " + i + "\\n");
        }
      })();`;
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let acked = 0;
    child.stdout.on("data", (d: Buffer) => {
      const m = /acked (\d+)\n(?![\s\S]*acked)/.exec(d.toString());
      if (m) acked = Math.max(acked, Number(m[1]));
    });
    await waitFor(() => acked >= 3000, 30_000, "the child to commit 3,000 records");
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const { q, ids } = await drain(dir, { segmentBytes: 64 * 1024 });
    opened.push(q);
    assert.ok(ids.length >= acked, `${ids.length} recovered, ${acked} acknowledged`);
    assert.deepEqual(ids, range(ids.length), "a contiguous prefix, in order: nothing lost inside it");
    const c = q.snapshot();
    assert.equal(c.recovered, ids.length);
    assert.ok(c.corrupt <= 1, `at most the torn record is counted (${c.corrupt})`);
    assert.equal(c.queued, 0);
  });

  it("property: random bit flips, truncations and overwritten segments lose exactly the damaged records", async () => {
    const template = path.join(dir, "template");
    await fillFolder(template, N);
    const frames = framesOf(template);
    const names = segmentFiles(template).map((f) => path.basename(f));
    const damage = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), seg: fc.nat(names.length - 1), at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant("truncate" as const), seg: fc.nat(names.length - 1), at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), bit: fc.constant(0) }),
      fc.record({ kind: fc.constantFrom("garbage" as const, "empty" as const), seg: fc.nat(names.length - 1), at: fc.constant(0), bit: fc.constant(0) }),
    );
    const originals = new Map(segmentFiles(template).map((f) => [f, fs.readFileSync(f)]));
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.array(damage, { minLength: 1, maxLength: 16 }), async (actions) => {
      const work = path.join(dir, `run-${run++}`);
      fs.cpSync(template, work, { recursive: true });
      const bytes = new Map(names.map((n) => [n, Buffer.from(fs.readFileSync(path.join(template, n)))]));
      for (const a of actions) {
        const name = names[a.seg];
        let b = bytes.get(name)!;
        if (b.length === 0) continue;
        const pos = Math.floor(a.at * b.length);
        if (a.kind === "flip") b[pos] ^= 1 << a.bit;
        else if (a.kind === "truncate") b = b.subarray(0, pos);
        else b = a.kind === "empty" ? Buffer.alloc(0) : Buffer.from(Array.from({ length: b.length }, (_, i) => (i * 131 + pos + 7) & 0xff));
        bytes.set(name, b);
      }
      // Damaged = any byte of the frame differs from the original or is gone (two flips of one bit cancel out).
      const lost = new Set<number>();
      for (const f of frames) {
        const b = bytes.get(path.basename(f.file))!;
        const original = originals.get(f.file)!;
        if (f.offset + f.size > b.length || !b.subarray(f.offset, f.offset + f.size).equals(original.subarray(f.offset, f.offset + f.size))) lost.add(f.seq);
      }
      for (const [n, b] of bytes) fs.writeFileSync(path.join(work, n), b);
      const { q, ids } = await drain(work);
      try {
        const c = q.snapshot();
        assert.deepEqual(ids, without(range(N), lost), "exactly the undamaged records, in order");
        assert.equal(c.corrupt, lost.size, "exactly the damaged records are counted, in every segment (the head file covers the last one)");
        assert.equal(c.recovered + c.corrupt, N, "nothing vanished");
        assert.equal(c.queued, 0);
        assert.equal(c.recovered, c.delivered);
        for (const n of names) {
          const hit = frames.some((f) => path.basename(f.file) === n && lost.has(f.seq));
          const aside = path.join(work, "damaged", n);
          if (hit) assert.deepEqual(fs.readFileSync(aside), bytes.get(n), `${n} moved aside as found`);
          if (!hit) assert.ok(!fs.existsSync(aside), `${n} was not damaged`);
        }
      } finally {
        await q.close();
        fs.rmSync(work, { recursive: true, force: true });
      }
    }), { numRuns: Number(process.env.OTB_FUZZ_RUNS ?? 150) });
  });
});
