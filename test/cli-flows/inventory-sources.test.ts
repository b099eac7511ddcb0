/**
 * `otbridge inventory` counts every tag source and resolves env defaults (issue 15 item 7):
 * the pilot's 40 tags (2 of them the Modbus units' clocks, 5 the filling station's) against what the simulator it reads really serves, catalog and map
 * files, inline tables, otb-mqtt-in mappings, group/tab/global env with JSONata defaults, and
 * an "incomplete: ..." line for everything that cannot be known from the file.
 */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { evalJsonata } from "../../cli/flows/env-resolve";
import { parseFlow, readFlow, type FlowNode } from "../../cli/flows/flow-file";
import { inventory } from "../../cli/flows/zone-inventory";
import { MODBUS_MAP } from "../../cli/sim/modbus-map";
import { OPCUA_TAGS, VIBRATION_TAGS } from "../../cli/sim/tags";
import { otbridge, REPO, tempDir } from "./cli-run";

/**
 * The filling station (simulator option `outcomes`) on MQTT: the fill volume of each part and the
 * status fields (cli/sim/outcomes-mqtt.ts), which the pilot maps to these tags.
 */
const FILLER_TAGS = ["filler.volume", "filler.state", "filler.fault_code", "filler.parts_total", "filler.parts_reject"];

describe("otbridge inventory: every tag source, env defaults, incomplete", () => {
  it("lists the pilot's 40 tags, the ones the simulator it reads serves over OPC UA, Modbus and MQTT", () => {
    const inv = inventory(readFlow(path.join(REPO, "flows", "single-line-pilot.json")));
    const served = [...OPCUA_TAGS.map((t) => t.tag), ...MODBUS_MAP.devices.flatMap((d) => d.registers.map((r) => r.tag)), ...VIBRATION_TAGS.map((t) => t.tag), ...FILLER_TAGS].sort();
    assert.equal(served.length, 40);
    assert.equal(inv.routes.length, 5, "quarantine, signals, context + quality, features + scores, alarms + verdicts");
    for (const r of inv.routes) {
      assert.deepEqual(r.tags, served, r.publisher);
      assert.deepEqual(r.incomplete, [], r.publisher);
      assert.equal(r.broker, "mqtt://127.0.0.1:1883 (default of ${OTB_CONDUIT_URL})");
      assert.equal(r.protection, "mqtt, no TLS, MQTT 3.1.1 (with the flow's env defaults)");
      assert.deepEqual(r.allowlist, ["acme/plant1/pumps/line1/#"]);
      assert.ok(r.envDefaults.includes('${OTB_CONDUIT_URL} = "mqtt://127.0.0.1:1883" (global env default)'), r.envDefaults.join("; "));
      assert.ok(r.tagOrigins.some((o) => /register map flows\/catalog\/simulator-modbus-map\.json \(20 tags\)/.test(o)), r.tagOrigins.join("; "));
    }
  });

  describe("on a flow with every kind of source", () => {
    let t: ReturnType<typeof tempDir>;
    let flowFile: string;
    const nodes = (): FlowNode[] => [
      { id: "g0", type: "global-config", env: [
        { name: "MAP", type: "jsonata", value: '$env("MAP") ? $env("MAP") : "catalog/missing.json"' },
        { name: "TOPICS", type: "jsonata", value: '$env("TOPICS") ? $env("TOPICS") : $join([$env("SITE") ? $env("SITE") : "plant9", "line3", "#"], "/")' },
        { name: "URL", type: "jsonata", value: '$env("URL")' },
        { name: "SECRET", type: "cred", value: "" },
        { name: "CAT", type: "str", value: "global-catalog.json" },
      ] },
      { id: "t", type: "tab", label: "L", env: [{ name: "MAP", type: "str", value: "catalog/map.json" }, { name: "ALIAS", type: "env", value: "CAT" }] },
      { id: "grp", type: "group", z: "t", name: "cell", env: [{ name: "CAT", type: "str", value: "catalog/opcua.json" }], nodes: ["ua"] },
      { id: "ua", type: "otb-opcua-in", z: "t", g: "grp", name: "ua", endpoint: "", catalogPath: "${CAT}", tags: [], x: 1, y: 1, wires: [["v"]] },
      { id: "ua2", type: "otb-opcua-in", z: "t", name: "ua table", endpoint: "", catalogPath: "", tags: [{ nodeId: "ns=1;s=a", tag: "cell.a" }, { nodeId: "ns=1;s=b", tag: "${NOPE}" }], x: 1, y: 1, wires: [["v"]] },
      { id: "mb", type: "otb-modbus-in", z: "t", name: "mb file", device: "", mapSource: "file", mapFile: "${MAP}", tags: [], x: 1, y: 1, wires: [["v"]] },
      { id: "mb2", type: "otb-modbus-in", z: "t", name: "mb table", device: "", mapSource: "table", tags: [{ tag: "skid.p1", area: "holding", address: 0, type: "uint16" }], x: 1, y: 1, wires: [["v"]] },
      { id: "mb3", type: "otb-modbus-in", z: "t", name: "mb gone", device: "", mapSource: "file", mapFile: "nowhere.json", tags: [], x: 1, y: 1, wires: [["v"]] },
      { id: "mq", type: "otb-mqtt-in", z: "t", name: "mq", broker: "${URL}", topics: [{ topic: "s/+/t" }, { topic: "spBv1.0/g/#" }, { topic: "fixed/a" }], format: "auto", mapping: [
        { topic: "s/+/t", field: "temp", tag: "{1}.temperature" },
        { topic: "s/+/t", field: "rh", tag: "room.humidity" },
        { topic: "fixed/a", field: "v" },
        { topic: "s/#", field: "w" },
      ], x: 1, y: 1, wires: [["v"], []] },
      { id: "v", type: "otb-validate", z: "t", name: "v", x: 1, y: 1, wires: [["p"], [], []] },
      { id: "c", type: "otb-conduit", name: "c", broker: "${URL}", protocolVersion: "5", sourceZone: "L2", targetZone: "DMZ", allowTopics: ["${TOPICS}"], password: "${SECRET}" },
      { id: "p", type: "otb-publish", z: "t", name: "p", conduit: "c", x: 1, y: 1, wires: [] },
    ];
    before(() => {
      t = tempDir();
      fs.mkdirSync(path.join(t.dir, "catalog"));
      fs.writeFileSync(path.join(t.dir, "catalog", "opcua.json"), JSON.stringify({ version: 1, tags: [{ tag: "cell.temp", nodeId: "ns=1;s=t" }, { tag: "cell.speed", nodeId: "ns=1;s=s" }] }));
      fs.writeFileSync(path.join(t.dir, "catalog", "map.json"), JSON.stringify({ devices: [{ unitId: 2, registers: [{ tag: "meter.v", area: "input", address: 0, type: "float32" }, { tag: "meter.i", area: "input", address: 2, type: "float32" }, { tag: "meter.on", area: "coil", address: 0, type: "bool" }] }] }));
      flowFile = path.join(t.dir, "flow.json");
      fs.writeFileSync(flowFile, JSON.stringify(nodes()));
    });
    after(() => t.cleanup());

    it("reads catalog and map files (env paths from group, then tab, then global), tables and mapping rows", () => {
      const [r] = inventory(readFlow(flowFile)).routes;
      assert.deepEqual(r.tags, ["cell.a", "cell.speed", "cell.temp", "fixed.a.v", "meter.i", "meter.on", "meter.v", "room.humidity", "skid.p1"]);
      assert.deepEqual(r.tagOrigins, [
        "otb-opcua-in 'ua': catalog catalog/opcua.json (2 tags)",
        "otb-opcua-in 'ua table': tag table (1 tag)",
        "otb-modbus-in 'mb file': register map catalog/map.json (3 tags)",
        "otb-modbus-in 'mb table': register table (1 tag)",
        "otb-modbus-in 'mb gone': no tags",
        "otb-mqtt-in 'mq': mapping rows (2 tags)",
      ]);
      assert.ok(r.envDefaults.includes("otb-opcua-in 'ua' catalogPath: default of ${CAT} (group 'cell' env) = \"catalog/opcua.json\""), r.envDefaults.join("\n"));
      assert.ok(r.envDefaults.includes("otb-modbus-in 'mb file' mapFile: default of ${MAP} (tab 'L' env) = \"catalog/map.json\""), r.envDefaults.join("\n"));
      assert.deepEqual(r.allowlist, ["plant9/line3/#"], "JSONata default with $join, every $env() unset");
    });

    it("says incomplete for everything it cannot resolve, and nothing else", () => {
      const [r] = inventory(readFlow(flowFile)).routes;
      const lines = r.incomplete.join("\n");
      const expected = [
        /otb-conduit 'c': \$\{URL\}: global env leaves it to the deploy environment/,
        /otb-conduit 'c': \$\{SECRET\}: global env holds it as a credential/,
        /otb-opcua-in 'ua table' tags\[1\]: tag \$\{NOPE\}: no default in the flow/,
        /otb-modbus-in 'mb gone': register map nowhere\.json not found/,
        /otb-mqtt-in 'mq': Sparkplug B tags are named by the edge nodes' BIRTH messages on spBv1\.0\/g\/#/,
        /otb-mqtt-in 'mq' mapping\[0\]: tag "\{1\}\.temperature" is named per message from topic levels of s\/\+\/t/,
        /otb-mqtt-in 'mq' mapping\[3\]: field w has no tag/,
      ];
      for (const re of expected) assert.match(lines, re);
      assert.equal(r.incomplete.length, expected.length, lines);
      assert.equal(r.broker, "${URL}", "an unresolved value is shown as written");
    });

    it("prints the incomplete lines, a lower-bound count and the env defaults in the report", () => {
      const md = otbridge(["inventory", flowFile]);
      assert.equal(md.status, 0, md.stderr);
      assert.match(md.stdout, /\| at least 9: cell\.a, /);
      assert.match(md.stdout, /^- otb-publish 'p' incomplete: otb-modbus-in 'mb gone': register map nowhere\.json not found/m);
      assert.match(md.stdout, /\*\*Environment defaults\*\*/);
      assert.match(md.stdout, /^- \$\{TOPICS\} = "plant9\/line3\/#" \(global env default\)$/m);
    });
  });

  it("evaluates the JSONata subset of env defaults and refuses the rest", () => {
    assert.equal(evalJsonata('$env("A") ? $env("A") : "x"'), "x");
    assert.equal(evalJsonata("$env('A') ? $env('A') : 5"), "5");
    assert.equal(evalJsonata('$join(["a", $env("B") ? $env("B") : "b"], "-")'), "a-b");
    assert.equal(evalJsonata('$env("A")'), null);
    assert.equal(evalJsonata('$uppercase("a")'), undefined);
    assert.equal(evalJsonata('"a" & "b"'), undefined);
  });

  it("calls a core input feeding a publisher incomplete, and names the code on the way", () => {
    const nodes: FlowNode[] = [
      { id: "g", type: "global-config", env: [{ name: "SIDE", type: "str", value: "10.9.9.9" }] },
      { id: "b", type: "mqtt-broker", broker: "10.0.0.1", port: "1883" },
      { id: "b2", type: "mqtt-broker", broker: "${SIDE}", port: "1883" },
      { id: "o", type: "mqtt out", z: "t", name: "side door", broker: "b2", topic: "raw", x: 1, y: 1, wires: [] },
      { id: "in", type: "mqtt in", z: "t", name: "raw", broker: "b", topic: "x/#", x: 1, y: 1, wires: [["f"]] },
      { id: "i", type: "inject", z: "t", name: "tick", x: 1, y: 1, wires: [["f"]] },
      { id: "f", type: "function", z: "t", name: "reshape", func: "return msg;", x: 1, y: 1, wires: [["p"]] },
      { id: "c", type: "otb-conduit", z: "t", name: "c", broker: "mqtts://h:8883", protocolVersion: "5", sourceZone: "L3", targetZone: "DMZ" },
      { id: "p", type: "otb-publish", z: "t", name: "p", conduit: "c", x: 1, y: 1, wires: [] },
    ];
    const [r] = inventory(parseFlow(JSON.stringify(nodes), "f.json")).routes;
    assert.deepEqual(r.incomplete, ["mqtt in 'raw' feeds this publisher with outside data that has no tag list"]);
    assert.deepEqual(r.sources, ["inject 'tick'", "mqtt in 'raw'"]);
    assert.deepEqual(r.transforms, ["function 'reshape'"]);
    const [out] = inventory(parseFlow(JSON.stringify(nodes), "f.json")).egress;
    assert.equal(out.destination, '10.9.9.9:1883 topic raw (with the flow\'s env defaults: ${SIDE} = "10.9.9.9" (global env default))');
  });

  it("keeps a route complete when a ${VAR} only names a broker the flow defaults", () => {
    const nodes: FlowNode[] = [
      { id: "t", type: "tab", label: "x", env: [{ name: "B", type: "str", value: "mqtts://dmz:8883" }] },
      { id: "ua", type: "otb-opcua-in", z: "t", name: "ua", tags: [{ nodeId: "ns=1;s=a", tag: "a" }], x: 1, y: 1, wires: [["p"]] },
      { id: "c", type: "otb-conduit", z: "t", name: "c", broker: "${B}", protocolVersion: "5", sourceZone: "L3", targetZone: "DMZ" },
      { id: "p", type: "otb-publish", z: "t", name: "p", conduit: "c", x: 1, y: 1, wires: [] },
    ];
    const [r] = inventory(parseFlow(JSON.stringify(nodes), "f.json")).routes;
    assert.deepEqual([r.tags, r.incomplete, r.broker], [["a"], [], "mqtts://dmz:8883 (default of ${B})"]);
    assert.match(r.protection, /^mqtts, TLS, server verified, MQTT 5/);
  });
});
