/**
 * The queue folder on a full disk (F5): the configured full policy applies exactly when the
 * disk, not the size bound, is the limit. reject-new keeps the oldest contiguous prefix and
 * refuses everything after the first refusal until space is freed; drop-oldest keeps the
 * newest contiguous tail; the queue says "full" (event and snapshot) the moment it gets there;
 * produced = delivered + dropped + queued, checked against an independent subscriber.
 * Runs on a real tmpfs when this process may mount one (root, as in the dev container), and
 * always with ENOSPC injected at the fs layer (sinon) on a simulated small disk.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as sinon from "sinon";
import { DurableQueue, type DropReport, type FullState } from "../../nodes/otb-conduit/queue/durable-queue";
import { freePort, startAedes, waitFor } from "../helpers/peers";
import { Counter, assertInvariant, connectUser, makeConduit, tempDir } from "./harness";
import { SmallDisk, tryMountTmpfs, unmount } from "./small-disk";

const record = (n: number) => ({ ts: Date.now(), kind: 0, topic: `t/${n % 3}`, payload: Buffer.from(JSON.stringify({ n, pad: "z".repeat(300) })) });
const batch = (from: number, size = 50) => Array.from({ length: size }, (_, k) => record(from + k));
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const received = (c: Counter) => [...c.byTopic.values()].flat().sort((a, b) => a - b);

describe("queue on a full disk", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = tempDir("otb-diskfull-")));
  afterEach(() => {
    sinon.restore();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reject-new, injected ENOSPC: the failed commit and everything after it are refused until space is freed", async () => {
    const port = await freePort();
    const conduit = makeConduit({ broker: `mqtt://127.0.0.1:${port}`, queueDir: dir, protocolVersion: "4", fullPolicy: "reject-new" });
    const faults: Error[] = [];
    const full: FullState[] = [];
    conduit.on("fault", (e: Error) => faults.push(e));
    conduit.queue.on("full", (s: FullState) => full.push(s));
    let broker: Awaited<ReturnType<typeof startAedes>> | null = null;
    let counter: Counter | null = null;
    try {
      assert.deepEqual(await conduit.submit([record(0), record(1)]), { accepted: 2, rejected: 0 });
      const disk = SmallDisk.failEveryWrite();
      assert.deepEqual(await conduit.submit([record(2), record(3), record(4)]), { accepted: 0, rejected: 3, refusedAt: [0, 1, 2] });
      disk.restore();
      assert.deepEqual(full, [{ full: true, limit: "disk", policy: "reject-new" }]);
      assert.equal(conduit.stats().full, true);
      // The disk has room again, but nothing was freed: a later record would make a hole.
      assert.deepEqual(await conduit.submit([record(5)]), { accepted: 0, rejected: 1, refusedAt: [0] });
      assert.ok(faults.some((f) => /ENOSPC/.test(f.message)), "the write error is reported");
      assert.equal(faults.filter((f) => /queue full: the disk under .* is full; reject-new/.test(f.message)).length, 1, "full reported once, with its reason");
      assert.equal(conduit.stats().dropped, 4);
      assertInvariant(conduit);
      broker = await startAedes(port);
      counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
      connectUser(conduit);
      await waitFor(() => !conduit.stats().full, 10_000, "room again once 0 and 1 are delivered and their segment freed");
      assert.deepEqual(full[1], { full: false, policy: "reject-new" });
      assert.deepEqual(await conduit.submit([record(6)]), { accepted: 1, rejected: 0 });
      await waitFor(() => counter!.unique === 3, 5000, "0, 1 and 6");
      assert.deepEqual(received(counter), [0, 1, 6]);
      assertInvariant(conduit);
    } finally {
      await counter?.stop();
      await conduit.close();
      await broker?.close();
    }
    const again = makeConduit({ broker: `mqtt://127.0.0.1:${port}`, queueDir: dir, protocolVersion: "4" });
    try {
      assert.equal(again.stats().corrupt, 0, "the failed write is not mistaken for damage after a restart");
      assert.equal(again.stats().recovered, 0);
    } finally {
      await again.close();
    }
  });

  it("drop-oldest, ENOSPC injected on a simulated 96 KiB disk the queue cannot see: the oldest segments go, the newest contiguous tail stays", async () => {
    const disk = SmallDisk.simulate(dir, 96 * 1024);
    const q = DurableQueue.open({ dir, maxBytes: 64 << 20, commitIntervalMs: 5, fullPolicy: "drop-oldest", segmentBytes: 8 * 1024 });
    const drops: DropReport[] = [];
    const full: FullState[] = [];
    q.on("dropped", (d: DropReport) => drops.push(d));
    q.on("full", (s: FullState) => full.push(s));
    try {
      let accepted = 0;
      for (let i = 0; i < 1500; i += 50) accepted += (await q.append(batch(i))).accepted;
      assert.equal(accepted, 1500, "drop-oldest never refuses the newest");
      const c = q.snapshot();
      assert.ok(disk.failures > 0, "the disk really was full");
      assert.ok(c.dropped > 0);
      assert.deepEqual(full[0], { full: true, limit: "disk", policy: "drop-oldest" });
      assert.equal(drops.filter((d) => d.reason === "drop-oldest").reduce((n, d) => n + d.count, 0), c.dropped, "every drop reported");
      const kept: number[] = [];
      for (let got = q.take(500); got.length; got = q.take(500)) kept.push(...got.map((r) => JSON.parse(r.payload.toString()).n as number));
      assert.deepEqual(kept, range(c.dropped, 1500 - c.dropped), "exactly the newest, contiguous, in order");
      assert.equal(c.produced, c.dropped + c.queued);
    } finally {
      disk.restore();
      await q.close();
    }
  });

  // The disk is 16 MB; 4 MiB by default keeps the test short (OTB_TMPFS_MB=16 for the full size).
  const tmpfsMB = Number(process.env.OTB_TMPFS_MB ?? 4);
  for (const policy of ["reject-new", "drop-oldest"] as const) {
    it(`${policy} on a real ${tmpfsMB} MiB tmpfs under a 1 GiB bound: policy applied at the disk's limit, "full" at once, survivors delivered exactly`, async function () {
      const mnt = path.join(dir, "mnt");
      fs.mkdirSync(mnt);
      if (!tryMountTmpfs(mnt, `${tmpfsMB}m`)) this.skip(); // needs root (CAP_SYS_ADMIN); the injected cases above always run
      const port = await freePort();
      const conduit = makeConduit({ broker: `mqtt://127.0.0.1:${port}`, queueDir: path.join(mnt, "q"), protocolVersion: "4", queueMaxMB: 1024, fullPolicy: policy });
      const faults: Error[] = [];
      const drops: DropReport[] = [];
      let fullAt = 0;
      let firstDropAt = 0;
      conduit.on("fault", (e: Error) => faults.push(e));
      conduit.queue.on("full", (s: FullState) => { if (s.full && !fullAt) fullAt = Date.now(); });
      conduit.queue.on("dropped", (d: DropReport) => { drops.push(d); if (!firstDropAt) firstDropAt = Date.now(); });
      let broker: Awaited<ReturnType<typeof startAedes>> | null = null;
      let counter: Counter | null = null;
      const total = Math.ceil((tmpfsMB * 7500) / 100) * 100; // about 2.5x what fits (about 340 B a record)
      const accepted: number[] = [];
      try {
        for (let i = 0; i < total; i += 100) {
          const r = await conduit.submit(batch(i, 100));
          const refused = new Set(r.refusedAt ?? []);
          for (let k = 0; k < 100; k++) if (!refused.has(k)) accepted.push(i + k);
        }
        const s = conduit.stats();
        assert.equal(s.full, true, "the status source says full");
        assert.ok(fullAt > 0 && firstDropAt > 0 && fullAt - firstDropAt <= 1000, `full ${fullAt - firstDropAt} ms after the first drop`);
        assert.equal(faults.filter((f) => /ENOSPC/.test(f.message)).length, 0, "the policy applied before the disk refused a write");
        assert.equal(faults.filter((f) => f.message.startsWith(`queue full: the disk under ${path.join(mnt, "q")} is full; ${policy}`)).length, 1,
          "full reported once, with the disk as its reason");
        assert.equal(drops.filter((d) => d.reason === "write-failed").length, 0);
        assert.equal(drops.reduce((n, d) => n + d.count, 0), s.dropped, "every drop reported");
        assertInvariant(conduit);
        broker = await startAedes(port);
        counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
        connectUser(conduit);
        await waitFor(() => conduit.stats().queued === 0, 30_000, "drained");
        await waitFor(() => counter!.unique === s.queued, 10_000, "every survivor at the subscriber");
        const got = received(counter);
        if (policy === "reject-new") {
          assert.deepEqual(accepted, range(0, accepted.length), "accepted = the oldest contiguous prefix");
          assert.deepEqual(got, accepted, "delivered = exactly what was accepted");
        } else {
          assert.equal(accepted.length, total, "drop-oldest accepts the newest");
          assert.deepEqual(got, range(s.dropped, total - s.dropped), "delivered = exactly the newest contiguous records");
        }
        assert.equal(counter.outOfOrder, 0);
        const end = conduit.stats();
        assert.equal(end.produced, end.delivered + end.dropped + end.queued);
        assert.equal(end.delivered, got.length);
        // Space is freed as segments are delivered: new records are accepted again.
        await waitFor(async () => (await conduit.submit([record(total)])).accepted === 1, 5000, "room again");
        assertInvariant(conduit);
      } finally {
        await counter?.stop();
        await conduit.close();
        await broker?.close();
        unmount(mnt);
      }
    });
  }
});
