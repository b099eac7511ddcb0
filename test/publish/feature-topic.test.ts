import { strict as assert } from "assert";
import { TopicPolicy } from "../../nodes/otb-conduit/topic-policy";
import { Publisher, featureWindowName } from "../../nodes/otb-publish/publish-logic";

describe("otb-publish: feature frame topics", () => {
  it("takes the window name from otb-window's full UNS topic", () => {
    assert.equal(featureWindowName("acme/plant1/pumps/line1/_features/pump1"), "pump1");
  });

  it("accepts a bare window name and refuses one that would inject wildcards", () => {
    assert.equal(featureWindowName("quality"), "quality");
    assert.equal(featureWindowName("a/_features/+"), undefined);
    assert.equal(featureWindowName("#"), undefined);
    assert.equal(featureWindowName(undefined), undefined);
  });
});

describe("otb-publish: feature frame shape", () => {
  const frame = (names: string[], values: number[]) => ({ kind: "features", ts: 1, windowMs: 10_000, names, values, missing: [], quality: "good",
    context: { enterprise: "e", site: "s", area: "a", line: "l" } });

  for (const sparkplugTopic of [null, "spBv1.0/G1/NDATA/E1"]) {
    it(`refuses a frame whose values and names differ in length, counted as invalid (${sparkplugTopic ? "Sparkplug" : "JSON"})`, () => {
      const publisher = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic }, new TopicPolicy(["#"], new Set(["features"]), 10_000));
      const short = publisher.prepare(frame(["a", "b"], [1]), { line: null, topic: "w" });
      assert.deepEqual(short.records, []);
      assert.deepEqual(short.refused, [{ reason: "invalid", detail: "1 values for 2 names" }]);
      const long = publisher.prepare(frame(["a"], [1, 2]), { line: null, topic: "w" });
      assert.deepEqual(long.refused, [{ reason: "invalid", detail: "2 values for 1 names" }]);
      const ok = publisher.prepare(frame(["a", "b"], [1, 2]), { line: null, topic: "w" });
      assert.equal(ok.refused.length, 0);
      assert.ok(ok.records.length > 0, "the well-formed frame goes out");
    });
  }
});
