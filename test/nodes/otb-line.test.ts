import { strict as assert } from "assert";
import otbLine = require("../../nodes/otb-line/otb-line");
import type { OtbLineNode } from "../../nodes/otb-line/line-config";
import { helper } from "../helpers/red";

const line = {
  id: "cfg-line", type: "otb-line", name: "", enterprise: "acme", site: "plant1", area: "pumps", line: "line1",
  timeZone: "Europe/Berlin", defaultProduct: "P-100",
  shifts: [{ name: "early", start: "06:00", end: "14:00" }, { name: "night", start: "22:00", end: "06:00" }],
};

/** Node-RED only starts a config node that some flow node uses. */
function withUser(config: Record<string, unknown>): Array<Record<string, unknown>> {
  return [{ id: "f", type: "tab" }, config, { id: "user", z: "f", type: "helper", line: config.id }];
}

describe("otb-line", () => {
  afterEach(() => helper.unload());

  it("gives its users the line identity and default product", async () => {
    await helper.load(otbLine, withUser(line));
    const n = helper.getNode("cfg-line") as unknown as OtbLineNode;
    assert.equal(n.configError, null);
    assert.deepEqual(n.identity(), { enterprise: "acme", site: "plant1", area: "pumps", line: "line1", product: "P-100" });
  });

  it("returns copies, so a user cannot change the line for the others", async () => {
    await helper.load(otbLine, withUser(line));
    const n = helper.getNode("cfg-line") as unknown as OtbLineNode;
    n.identity().line = "hacked";
    assert.equal(n.identity().line, "line1");
  });

  it("computes the shift in the line's time zone", async () => {
    await helper.load(otbLine, withUser(line));
    const n = helper.getNode("cfg-line") as unknown as OtbLineNode;
    assert.deepEqual(n.shiftAt(Date.UTC(2026, 5, 10, 5, 0)), { name: "early", day: "2026-06-10" }); // 07:00 CEST
    assert.equal(n.shiftAt(Date.UTC(2026, 5, 10, 14, 0)), null); // 16:00: no shift defined
  });

  it("accepts shifts as a JSON string (a ${ENV} value or a hand-edited flow)", async () => {
    await helper.load(otbLine, withUser({ ...line, shifts: JSON.stringify(line.shifts) }));
    const n = helper.getNode("cfg-line") as unknown as OtbLineNode;
    assert.equal(n.shiftAt(Date.UTC(2026, 5, 10, 23, 0))?.name, "night");
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ["a wildcard in a topic level", { area: "pumps/+" }, /area .* cannot be a topic level/],
    ["a missing site", { site: "" }, /site is required/],
    ["an unknown time zone", { timeZone: "Berlin" }, /unknown time zone/],
    ["malformed shifts JSON", { shifts: "[{" }, /shifts is not valid JSON/],
  ];
  for (const [what, change, message] of invalid) {
    it(`refuses ${what} with a clear error, without crashing`, async () => {
      await helper.load(otbLine, withUser({ ...line, ...change }));
      const n = helper.getNode("cfg-line") as unknown as OtbLineNode & { error: sinon.SinonSpy };
      assert.match(String(n.configError), message);
      assert.ok(n.error.calledOnce);
      assert.match(String(n.error.firstCall.args[0].message), message);
    });
  }
});
