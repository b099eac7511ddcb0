/**
 * Issue 16: a configuration error found at deploy reaches a real Catch node, once, for every node
 * with a schema (config nodes through a user, as Node-RED routes a config node's errors), and the
 * node's status says why. Before defineNode, six nodes reported before Node-RED had built the
 * flow's Catch list: the log had the error, Catch nodes never did.
 */
import * as assert from "node:assert/strict";
import { SCHEMAS } from "../../cli/flows/node-schemas";
import { defineNode } from "../../nodes/shared/define-node";
import type { NodeAPI } from "../../nodes/shared/red";
import { defineSchema, field, fieldProblem, type NodeSchema } from "../../nodes/shared/schema";
import { caughtWithin, helper, withCoreNodes } from "../helpers/red";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Module = (RED: any) => void;
const moduleOf = (type: string): Module => require(`../../nodes/${type}/${type}`) as Module;
const isConfigNode = (schema: NodeSchema): boolean => !/^otb-(window|validate|context|infer|publish|opcua-in|modbus-in|mqtt-in|oee|spc)$/.test(schema.type);

/** Valid values for every field (defaults, or the first valid sample), refs left to the caller. */
function validNode(schema: NodeSchema, id: string): Record<string, unknown> {
  const node: Record<string, unknown> = { id, type: schema.type, name: id };
  for (const [name, spec] of Object.entries(schema.fields)) if (spec.kind !== "ref") node[name] = spec.default;
  for (const [name, spec] of Object.entries(schema.fields)) {
    if (spec.kind !== "ref" && fieldProblem(name, spec, node[name], node, schema.checks ?? {}) !== null) node[name] = spec.samples?.valid?.[0];
  }
  return node;
}

/** The first field with a refused sample (or a blank required one), and that value. */
function invalidChange(schema: NodeSchema): [string, unknown] {
  for (const [name, spec] of Object.entries(schema.fields)) {
    if (spec.kind === "ref") continue;
    if (spec.samples?.invalid?.length) return [name, spec.samples.invalid[0]];
    if (spec.required) return [name, ""];
  }
  throw new Error(`${schema.type} has no field that can be made invalid`);
}

describe("deploy-time configuration errors reach a real Catch node", () => {
  afterEach(() => helper.unload());

  for (const [type, { schema }] of Object.entries(SCHEMAS)) {
    it(`${type}: one report in Catch, red status`, async () => {
      const [badField, badValue] = invalidChange(schema);
      const flow: Array<Record<string, unknown>> = [{ id: "t", type: "tab" }];
      const modules = new Set<Module>([moduleOf(type)]);
      const bad = { ...validNode(schema, "bad"), [badField]: badValue };
      // Config nodes the node refers to, valid (a config node's own report is not this test's).
      for (const [name, spec] of Object.entries(schema.fields)) {
        if (spec.kind !== "ref" || !spec.configType || !SCHEMAS[spec.configType]) continue;
        flow.push(validNode(SCHEMAS[spec.configType]!.schema, `cfg-${name}`));
        bad[name] = `cfg-${name}`;
        modules.add(moduleOf(spec.configType));
      }
      let statusOf = "bad";
      if (isConfigNode(schema)) {
        // A user defined like every otb node, so that it registers in the config node's users.
        const userType = `test-user-of-${type}`;
        modules.add((RED: NodeAPI) => defineNode(RED, { schema: defineSchema({ type: userType, version: 1, fields: { config: field.ref(type, { required: true }) } }), create: () => ({}) }));
        flow.push(bad, { id: "user", z: "t", type: userType, config: "bad", wires: [] });
        statusOf = "user";
      } else flow.push({ ...bad, z: "t", wires: [[], [], []] });
      flow.push({ id: "catcher", z: "t", type: "catch", uncaught: false, wires: [["caught"]] }, { id: "caught", z: "t", type: "helper" });
      await helper.load(withCoreNodes([...modules]), flow);
      const reports = (await caughtWithin(helper.getNode("caught"))).filter((m) => (m.error as { source?: { id?: string } }).source?.id === "bad");
      assert.equal(reports.length, 1, `${type}: one report from the node in Catch, got ${reports.length}`);
      assert.match(String((reports[0]!.error as { message: string }).message), new RegExp(`(^|: )${badField}\\b`));
      const status = (helper.getNode(statusOf) as unknown as { status: sinon.SinonSpy }).status.lastCall?.args[0];
      assert.equal(status?.fill, "red", `${type}: red status, got ${JSON.stringify(status)}`);
      assert.match(String(status?.text), /config: /);
    });
  }
});
