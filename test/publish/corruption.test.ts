/**
 * A damaged queue folder end to end (F6): records queued while the broker was away, the
 * conduit closed, one bit flipped in the length field of a record in the middle of one segment
 * (the case) and another segment truncated mid-record, then the conduit reopened with
 * the broker back. Exactly the damaged records are lost and counted; every other record reaches
 * an independent subscriber in order; the damaged segments are moved aside to named paths and
 * the conduit reports where (fault event, which the node turns into Catch/log/status).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { freePort, startAedes, waitFor } from "../helpers/peers";
import { Counter, assertInvariant, connectUser, makeConduit, tempDir } from "./harness";
import { framesOf, segmentFiles } from "./queue-files";

describe("a corrupted queue folder", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = tempDir("otb-corrupt-")));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("loses only the damaged records, replays every valid one in order, and moves the damaged segments aside", async () => {
    const port = await freePort();
    const def = { broker: `mqtt://127.0.0.1:${port}`, queueDir: dir, protocolVersion: "4", queueMaxMB: 0.75 };
    let conduit = makeConduit(def);
    let accepted = 0;
    for (let i = 0; i < 3000; i += 100) {
      accepted += (await conduit.submit(Array.from({ length: 100 }, (_, k) => ({ ts: 1, kind: 0, topic: `t/${(i + k) % 3}`,
        payload: Buffer.from(JSON.stringify({ n: i + k, pad: "y".repeat(150) })) })))).accepted;
    }
    assert.equal(accepted, 3000);
    await conduit.close();
    const files = segmentFiles(dir);
    assert.ok(files.length >= 3, `${files.length} segments`);
    const frames = framesOf(dir);
    // One bit of one record's length field, in the middle of the first segment.
    const inFirst = frames.filter((f) => f.file === files[0]);
    const victim = inFirst[Math.floor(inFirst.length / 2)];
    const first = fs.readFileSync(files[0]);
    first[victim.offset + 6] ^= 0x10;
    fs.writeFileSync(files[0], first);
    // A torn tail in the second (sealed) segment: its last two records are cut.
    const inSecond = frames.filter((f) => f.file === files[1]);
    const cut = inSecond[inSecond.length - 2];
    fs.truncateSync(files[1], cut.offset + 10);
    const lost = 1 + 2;
    const broker = await startAedes(port);
    const counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
    conduit = makeConduit(def);
    const faults: Error[] = [];
    conduit.on("fault", (e: Error) => faults.push(e));
    connectUser(conduit);
    try {
      assert.equal(conduit.stats().corrupt, lost, "exactly the damaged records");
      await waitFor(() => counter.unique === 3000 - lost, 10_000, "every valid record").catch((err: Error) => {
        throw new Error(`${err.message}: ${counter.unique} received, ${JSON.stringify(conduit.stats())}`);
      });
      const got = [...counter.byTopic.values()].flat().sort((a, b) => a - b);
      const lostIds = new Set([victim.seq - 1, cut.seq - 1, cut.seq]);
      assert.deepEqual(got, Array.from({ length: 3000 }, (_, i) => i).filter((i) => !lostIds.has(i)));
      assert.equal(counter.outOfOrder, 0, "order kept per topic");
      await waitFor(() => conduit.stats().queued === 0, 3000, "drained");
      assert.equal(conduit.stats().recovered + lost, 3000, "produced = delivered + corrupt");
      assertInvariant(conduit);
      for (const f of files.slice(0, 2)) {
        const aside = path.join(dir, "damaged", path.basename(f));
        assert.ok(fs.existsSync(aside), `${aside} kept`);
        assert.ok(faults.some((e) => e.message.includes(aside)), `a fault names ${aside}`);
      }
      assert.equal(faults.filter((e) => /damaged/.test(e.message)).length, 2, "one report per damaged segment");
    } finally {
      await counter.stop();
      await conduit.close();
      await broker.close();
    }
  });
});
