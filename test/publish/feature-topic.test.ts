import { strict as assert } from "assert";
import { featureWindowName } from "../../nodes/otb-publish/publish-logic";

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
