import { strict as assert } from "assert";
import otbLine = require("../../nodes/otb-line/otb-line");
import { defineNode } from "../../nodes/shared/define-node";
import type { NodeAPI } from "../../nodes/shared/red";
import { defineSchema, field } from "../../nodes/shared/schema";
import type { OtbLineNode } from "../../nodes/otb-line/line-config";
import { caughtWithin, helper, withCoreNodes } from "../helpers/red";

const line = {
  id: "cfg-line", type: "otb-line", name: "", enterprise: "acme", site: "plant1", area: "pumps", line: "line1",
  timeZone: "Europe/Berlin", defaultProduct: "P-100",
  shifts: [{ name: "early", start: "06:00", end: "14:00" }, { name: "night", start: "22:00", end: "06:00" }],
};

/** Node-RED only starts a config node that some flow node uses. */
function withUser(config: Record<string, unknown>, userType = "helper"): Array<Record<string, unknown>> {
  return [{ id: "f", type: "tab" }, config, { id: "user", z: "f", type: userType, line: config.id, wires: [] }];
}

/** A user node defined like every otb node (defineNode with a `ref` field to otb-line). */
const lineUser = (RED: NodeAPI): void =>
  defineNode(RED, {
    schema: defineSchema({ type: "test-line-user", version: 1, fields: { line: field.ref("otb-line", { required: true }) } }),
    create: () => ({}),
  });

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
    ["an unknown time zone", { timeZone: "Berlin" }, /timeZone "Berlin" is not a time zone/],
    ["malformed shifts JSON", { shifts: "[{" }, /shifts is not valid JSON/],
    ["shifts that do not make a calendar", { shifts: [{ name: "x", start: "25:00", end: "14:00" }] }, /shifts: /],
  ];
  for (const [what, change, message] of invalid) {
    it(`refuses ${what} with a clear error that reaches a Catch node once, without crashing`, async () => {
      // A config node's error goes to the Catch nodes of its users' flows (Flow.handleError).
      const flow = [...withUser({ ...line, ...change }, "test-line-user"), { id: "catcher", z: "f", type: "catch", uncaught: false, wires: [["caught"]] }, { id: "caught", z: "f", type: "helper" }];
      await helper.load(withCoreNodes([otbLine, lineUser]), flow);
      const reports = await caughtWithin(helper.getNode("caught"));
      // The user cannot run either: its status says why, and it does not report the cause again.
      assert.match(String((helper.getNode("user") as unknown as { status: sinon.SinonSpy }).status.lastCall?.args[0]?.text), /config: line: /);
      const n = helper.getNode("cfg-line") as unknown as OtbLineNode;
      assert.match(String(n.configError), message);
      assert.equal(reports.length, 1, `one report in Catch, got ${reports.length}`);
      assert.match(String((reports[0]!.error as { message: string }).message), message);
    });
  }
});

