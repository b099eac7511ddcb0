/**
 * defineNode's `ref` fields with `legacyValue` (issue 16): a value of that form is the node's own
 * setting from a flow saved before its config node type existed (otb-mqtt-in's broker URL), which
 * the runner leaves to the node; any other value is still a config node that must be deployed,
 * and a deployed one still gets the node in its `users`.
 */
import * as assert from "node:assert/strict";
import { defineNode } from "../../nodes/shared/define-node";
import type { NodeAPI } from "../../nodes/shared/red";
import { defineSchema, field } from "../../nodes/shared/schema";
import { caughtWithin, helper, withCoreNodes } from "../helpers/red";

const seen = new Map<string, string>();

function types(RED: NodeAPI): void {
  defineNode(RED, {
    schema: defineSchema({ type: "test-legacy-cfg", version: 1, fields: { name: field.text() } }),
    configNode: true,
    create: () => ({}),
  });
  defineNode(RED, {
    schema: defineSchema({ type: "test-legacy-user", version: 1, fields: { conn: field.ref("test-legacy-cfg", { required: true, legacyValue: "^\\s*legacy://\\S+\\s*$" }) } }),
    create(ctx) {
      seen.set(ctx.node.id, ctx.config.conn);
      return {};
    },
  });
}

describe("defineNode: a ref field's legacy value", () => {
  afterEach(async () => {
    seen.clear();
    await helper.unload();
  });

  it("leaves a legacy value to the node, still refuses an undeployed config node, still registers users", async () => {
    await helper.load(withCoreNodes(types), [
      { id: "t", type: "tab" },
      { id: "cfg", type: "test-legacy-cfg", name: "c" },
      { id: "old", z: "t", type: "test-legacy-user", conn: " legacy://plc1:1883 ", wires: [] },
      { id: "new", z: "t", type: "test-legacy-user", conn: "cfg", wires: [] },
      { id: "gone", z: "t", type: "test-legacy-user", conn: "deleted1", wires: [] },
      // Looks like neither: not the legacy form, so a config node id that is not deployed.
      { id: "odd", z: "t", type: "test-legacy-user", conn: "legacy:plc1", wires: [] },
      { id: "catcher", z: "t", type: "catch", scope: ["old", "new", "gone", "odd"], uncaught: false, wires: [["caught"]] },
      { id: "caught", z: "t", type: "helper" },
    ]);
    const caught = await caughtWithin(helper.getNode("caught"), 10_000, 1000);
    const bySource = caught.map((m) => [(m.error as { source?: { id?: string } }).source?.id, (m.error as { message: string }).message]).sort();
    assert.deepEqual(bySource, [
      ["gone", "ConfigError: conn: its test-legacy-cfg node deleted1 is not deployed"],
      ["odd", "ConfigError: conn: its test-legacy-cfg node legacy:plc1 is not deployed"],
    ]);
    assert.deepEqual([...seen.entries()].sort(), [["new", "cfg"], ["old", "legacy://plc1:1883"]]);
    assert.deepEqual(Object.keys((helper.getNode("cfg") as unknown as { users: Record<string, unknown> }).users), ["new"]);
  });
});
