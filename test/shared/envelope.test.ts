import { strict as assert } from "assert";
import { isSafeTopicLevel, splitBatch, unsFeaturesTopic, unsInferenceTopic, unsSignalTopic, type Signal } from "../../nodes/shared";

const good: Signal = { tag: "a", value: 1, ts: 1, quality: "good", source: { protocol: "sim", address: "x" } };

describe("envelope", () => {
  it("accepts a single Signal as a batch of one", () => {
    const { signals, rejected } = splitBatch(good);
    assert.deepEqual(signals, [good]);
    assert.equal(rejected.length, 0);
  });

  it("keeps the valid items of a mixed batch and says why each other one was refused", () => {
    const { signals, rejected } = splitBatch([good, { ...good, value: NaN }, "junk", null, { ...good, tag: "b" }]);
    assert.deepEqual(signals.map((s) => s.tag), ["a", "b"]);
    assert.deepEqual(rejected.map((r) => r.index), [1, 2, 3]);
    assert.ok(rejected.every((r) => r.reason.length > 0));
  });

  it("never throws on anything a wire can carry", () => {
    for (const p of [undefined, null, 42, "x", [], {}, [[]], Buffer.from("x"), { length: 1e9 }]) {
      const r = splitBatch(p);
      assert.equal(r.signals.length + r.rejected.length, Array.isArray(p) ? p.length : 1);
    }
  });

  it("builds UNS topics per DESIGN.md", () => {
    const ctx = { enterprise: "acme", site: "s1", area: "a1", line: "l1" };
    assert.equal(unsSignalTopic(ctx, "pump1.motor.current"), "acme/s1/a1/l1/pump1.motor.current");
    assert.equal(unsFeaturesTopic(ctx, "w10s"), "acme/s1/a1/l1/_features/w10s");
    assert.equal(unsInferenceTopic(ctx, "pump"), "acme/s1/a1/l1/_inference/pump");
  });

  it("refuses topic levels that would inject wildcards or system topics", () => {
    for (const bad of ["+", "a#", "$SYS", "a/b", "", "x\u0000"]) assert.equal(isSafeTopicLevel(bad), false, bad);
    assert.equal(isSafeTopicLevel("pump1.motor.current"), true);
  });
});
