/**
 * Issue 16: the palette reads as the pipeline. Flow nodes are labelled "otb <name>" (one naming
 * scheme, found by typing "otb"), listed in pipeline order (Node-RED adds a module's nodes to the
 * palette in the order of package.json's node-red.nodes), and coloured by stage.
 */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { REPO } from "../cli-flows/cli-run";

const STAGES: Array<[stage: string, colour: string, types: string[]]> = [
  ["ingest", "#A6BBCF", ["otb-opcua-in", "otb-modbus-in", "otb-mqtt-in"]],
  ["prepare", "#E2D96E", ["otb-validate", "otb-context"]],
  ["model", "#FDD0A2", ["otb-window", "otb-infer"]],
  ["outcomes", "#C7E9C0", ["otb-oee", "otb-spc"]],
  ["publish", "#C0DEED", ["otb-publish"]],
];
const CONFIG_NODES = ["otb-line", "otb-opcua-endpoint", "otb-modbus-device", "otb-mqtt-broker", "otb-conduit"];

function registration(type: string): string {
  const html = fs.readFileSync(path.join(REPO, "nodes", type, `${type}.html`), "utf8");
  const at = html.indexOf(`RED.nodes.registerType("${type}"`);
  assert.ok(at >= 0, `${type}.html registers ${type}`);
  return html.slice(at, at + 4000);
}

describe("palette", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { "node-red": { nodes: Record<string, string> } };

  it("lists config nodes, then flow nodes in pipeline order", () => {
    assert.deepEqual(Object.keys(pkg["node-red"].nodes), [...CONFIG_NODES, ...STAGES.flatMap(([, , types]) => types)]);
  });

  for (const [stage, colour, types] of STAGES) {
    for (const type of types) {
      it(`${type}: "otb ${type.slice(4).replace(/-/g, " ")}", ${stage} colour, otbridge category`, () => {
        const reg = registration(type);
        assert.match(reg, /category: "otbridge"/);
        assert.equal(/\bcolor: "([^"]+)"/.exec(reg)?.[1], colour);
        assert.equal(/\bpaletteLabel: "([^"]+)"/.exec(reg)?.[1], `otb ${type.slice(4).replace(/-/g, " ")}`);
      });
    }
  }

  for (const type of CONFIG_NODES) {
    it(`${type} is a config node`, () => assert.match(registration(type), /category: "config"/));
  }
});
