/**
 * Issue 19 (memory per line process): Node-RED requires every node file of the pack, whatever the
 * flows use, so the heavy libraries are loaded on first use, not at require time: node-opcua (the
 * first OPC UA endpoint), mqtt and modbus-serial (the first connect), ajv and its compiled schemas
 * (the first validator call), protobufjs (the first Sparkplug encode or decode). Checked in a
 * child process, whose module cache starts empty.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const HEAVY = ["node-opcua", "node-opcua-client", "mqtt", "modbus-serial", "ajv", "protobufjs", "onnxruntime-web"];

/** Runs `script` in a fresh Node.js; it prints the packages in its module cache as JSON. */
function packagesLoadedBy(script: string): string[] {
  const out = execFileSync(process.execPath, ["-e", `${script}
const names = new Set();
for (const k of Object.keys(require.cache)) {
  const m = k.match(/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//);
  if (m) names.add(m[1]);
}
console.log(JSON.stringify([...names].sort()));`], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return JSON.parse(out.trim().split("\n").pop()!) as string[];
}

const REQUIRE_EVERY_NODE = `
const pkg = require("./package.json");
for (const file of Object.values(pkg["node-red"].nodes)) require("./" + file);`;

describe("heavy libraries are loaded on first use, not when Node-RED requires the pack", () => {
  it("requiring every node file loads none of node-opcua, mqtt, modbus-serial, ajv, protobufjs, onnxruntime-web", () => {
    const loaded = packagesLoadedBy(REQUIRE_EVERY_NODE);
    assert.deepStrictEqual(loaded.filter((p) => HEAVY.includes(p)), [], `loaded at require time: ${loaded.join(", ")}`);
  });

  it("a validator's first call loads ajv and gives ajv's verdict and errors; a Sparkplug decode loads protobufjs", () => {
    const loaded = packagesLoadedBy(`${REQUIRE_EVERY_NODE}
const shared = require("./dist/nodes/shared");
const assert = require("assert");
assert.strictEqual(shared.validateSignal({ tag: "t" }), false);
assert.match(shared.describeErrors(shared.validateSignal.errors), /must have required property/);
assert.strictEqual(shared.validateSignal({ tag: "t", value: 1, ts: 0, quality: "good", source: { protocol: "sim", address: "a" } }), true);
assert.strictEqual(shared.validateSignal.errors, null);
const sp = require("./dist/nodes/shared/sparkplug");
const bytes = sp.encodePayload({ timestamp: 1, seq: 0, metrics: [{ name: "m", datatype: sp.DataType.Double, value: 1.5 }] });
assert.strictEqual(sp.decodePayload(bytes).metrics[0].value, 1.5);`);
    assert.ok(loaded.includes("ajv"), `ajv loaded by the first validator call: ${loaded.join(", ")}`);
    assert.ok(loaded.includes("protobufjs"), `protobufjs loaded by the first Sparkplug encode: ${loaded.join(", ")}`);
  });
});
