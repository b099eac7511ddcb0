/**
 * The queue folder on a full disk: a commit that fails (ENOSPC) reports its records as refused,
 * counts them as dropped and raises a fault; nothing is claimed accepted that is not on disk,
 * and the queue recovers once space is back. Runs on a real 256 KiB tmpfs when this process may
 * mount one (root, as in the dev container), and always with an injected ENOSPC (sinon).
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as sinon from "sinon";
import { freePort, startAedes, waitFor } from "../helpers/peers";
import { Counter, assertInvariant, connectUser, makeConduit, tempDir } from "./harness";

const record = (n: number) => ({ ts: n, kind: 0, topic: `t/${n % 3}`, payload: Buffer.from(JSON.stringify({ n, pad: "z".repeat(300) })) });

function tryMountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("queue on a full disk", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = tempDir("otb-diskfull-")));
  afterEach(() => {
    sinon.restore();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("an injected ENOSPC refuses exactly the failed commit's records, counts them, and the queue carries on", async () => {
    const port = await freePort();
    const conduit = makeConduit({ broker: `mqtt://127.0.0.1:${port}`, queueDir: dir, protocolVersion: "4" });
    const faults: Error[] = [];
    conduit.on("fault", (e: Error) => faults.push(e));
    try {
      assert.deepEqual(await conduit.submit([record(0), record(1)]), { accepted: 2, rejected: 0 });
      // The real module object: the queue's `import * as fs` reads through to it on every call.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const write = sinon.stub(require("fs") as typeof fs, "write").callsFake(((...args: unknown[]) => {
        const cb = args[args.length - 1] as (e: NodeJS.ErrnoException) => void;
        const err: NodeJS.ErrnoException = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        setImmediate(() => cb(err));
      }) as never);
      assert.deepEqual(await conduit.submit([record(2), record(3), record(4)]), { accepted: 0, rejected: 3, refusedAt: [0, 1, 2] });
      write.restore();
      assert.deepEqual(await conduit.submit([record(5)]), { accepted: 1, rejected: 0 });
      assert.match(faults[0].message, /ENOSPC/);
      const s = conduit.stats();
      assert.equal(s.dropped, 3);
      assert.equal(s.queued, 3);
      assertInvariant(conduit);
    } finally {
      await conduit.close();
    }
    const broker = await startAedes(port);
    const counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
    const again = makeConduit({ broker: broker.url, queueDir: dir, protocolVersion: "4" });
    connectUser(again);
    try {
      await waitFor(() => counter.unique === 3, 5000, "the three committed records");
      assert.deepEqual([...counter.byTopic.values()].flat().sort(), [0, 1, 5]);
      assert.equal(again.stats().corrupt, 0, "the failed write is not mistaken for damage after a restart");
      assert.equal(again.stats().recovered, 3);
    } finally {
      await counter.stop();
      await again.close();
      await broker.close();
    }
  });

  it("on a real 256 KiB tmpfs, fills up, refuses and counts, then frees space once the broker is back", async function () {
    const mnt = path.join(dir, "mnt");
    fs.mkdirSync(mnt);
    if (!tryMountTmpfs(mnt, "256k")) this.skip(); // needs root (CAP_SYS_ADMIN); the injected case above always runs
    const port = await freePort();
    const conduit = makeConduit({ broker: `mqtt://127.0.0.1:${port}`, queueDir: path.join(mnt, "q"), protocolVersion: "4", queueMaxMB: 1024 });
    const faults: Error[] = [];
    conduit.on("fault", (e: Error) => faults.push(e));
    let accepted = 0;
    let rejected = 0;
    let broker: Awaited<ReturnType<typeof startAedes>> | null = null;
    let counter: Counter | null = null;
    try {
      for (let i = 0; i < 2000 && rejected === 0; i += 50) {
        const r = await conduit.submit(Array.from({ length: 50 }, (_, k) => record(i + k)));
        accepted += r.accepted;
        rejected += r.rejected;
      }
      assert.ok(rejected > 0 && accepted > 0, `accepted ${accepted}, refused ${rejected}`);
      assert.ok(faults.some((f) => /ENOSPC/.test(f.message)));
      assert.equal(conduit.stats().dropped, rejected);
      assertInvariant(conduit);
      broker = await startAedes(port);
      counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
      connectUser(conduit);
      await waitFor(() => counter!.unique === accepted, 10_000, "every accepted record");
      await waitFor(() => conduit.stats().queued === 0, 3000, "drained");
      // Space is freed as segments are delivered: new records are accepted again.
      await waitFor(async () => (await conduit.submit([record(99_999)])).accepted === 1, 5000, "room again");
      assertInvariant(conduit);
    } finally {
      await counter?.stop();
      await conduit.close();
      await broker?.close();
      execFileSync("umount", [mnt]);
    }
  });
});
