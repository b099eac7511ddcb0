/**
 * A damaged queue folder end to end: records queued while the broker was away, the conduit
 * closed, one segment bit-flipped and another truncated, then the conduit reopened with the
 * broker back. Every valid record reaches an independent subscriber in order; the damaged
 * ones are counted, and produced = delivered + corrupt.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { freePort, startAedes, waitFor } from "../helpers/peers";
import { Counter, assertInvariant, connectUser, makeConduit, tempDir } from "./harness";

describe("a corrupted queue folder", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = tempDir("otb-corrupt-")));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("skips and counts a bit-flipped record and a truncated segment tail; every valid record replays in order", async () => {
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
    const segments = fs.readdirSync(dir).filter((f) => f.startsWith("seg-")).sort();
    assert.ok(segments.length >= 3, `${segments.length} segments`);
    const first = path.join(dir, segments[0]);
    const bytes = fs.readFileSync(first);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01; // one bit, in the middle of the first segment
    fs.writeFileSync(first, bytes);
    const second = path.join(dir, segments[1]);
    fs.truncateSync(second, fs.statSync(second).size - 100); // a torn tail
    const broker = await startAedes(port);
    const counter = await Counter.start(broker.url, "t/#", { protocolVersion: 4 });
    conduit = makeConduit(def);
    connectUser(conduit);
    try {
      const corrupt = conduit.stats().corrupt;
      assert.ok(corrupt >= 2, `counted ${corrupt}`);
      await waitFor(() => counter.unique === 3000 - corrupt, 10_000, "every valid record").catch((err: Error) => {
        throw new Error(`${err.message}: ${counter.unique} received, ${JSON.stringify(conduit.stats())}, segments ${segments.join(",")}`);
      });
      assert.equal(counter.outOfOrder, 0, "order kept per topic");
      await waitFor(() => conduit.stats().queued === 0, 3000, "drained");
      assert.equal(conduit.stats().recovered + corrupt, 3000, "produced = delivered + corrupt");
      assertInvariant(conduit);
    } finally {
      await counter.stop();
      await conduit.close();
      await broker.close();
    }
  });
});
