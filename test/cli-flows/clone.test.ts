/** `otbridge clone`: template + manifest -> a line's flow, deterministic ids, --check drift, bad input. */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { cloneFlow, derivedId, merge } from "../../cli/flows/cloner";
import { readFlow, type FlowNode } from "../../cli/flows/flow-file";
import { lintFlow, loadSettings } from "../../cli/flows/lint";
import { parseManifest, readManifest } from "../../cli/flows/manifest";
import { fixture, otbridge, readJson, REPO, tempDir } from "./cli-run";

const MANIFEST = "test/fixtures/flows/line-2.manifest.json";

function byName(nodes: FlowNode[], name: string): FlowNode {
  const n = nodes.find((x) => x.name === name);
  assert.ok(n, `no node named ${name}`);
  return n;
}

describe("otbridge clone", () => {
  const template = readFlow(fixture("pilot.json"));
  const manifest = readManifest(fixture("line-2.manifest.json"));

  it("applies identity, endpoints, tag overrides, model and conduits from the manifest", () => {
    const out = cloneFlow(template, manifest);
    assert.equal(out.length, template.nodes.length);
    const line = out.find((n) => n.type === "otb-line")!;
    assert.deepEqual([line.enterprise, line.site, line.area, line.line, line.timeZone], ["acme", "plant1", "packaging", "line2", "Europe/Berlin"]);
    assert.equal(out.find((n) => n.type === "tab")!.label, "Line 2");
    assert.equal(byName(out, "line OPC UA server").endpointUrl, "opc.tcp://10.10.2.20:4840");
    assert.equal(byName(out, "pump skid Modbus").host, "10.10.2.30");
    // Tables merge row by row: one row changed, one removed, the rest kept as in the template.
    const tags = byName(out, "motor tags").tags as Array<Record<string, unknown>>;
    assert.deepEqual(tags.map((t) => [t.tag, t.nodeId, t.unit]), [
      ["pump1.motor.current", "ns=1;s=line2.pump1.motor.current", "A"],
      ["pump1.motor.voltage", "ns=1;s=line2.pump1.motor.voltage", "V"],
    ]);
    const rules = byName(out, "pump rules").rules as Array<{ tag: string; range?: Record<string, number> }>;
    assert.deepEqual(rules[0].range, { badBelow: 0, uncertainAbove: 60, badAbove: 72 });
    assert.equal(rules.length, 3);
    assert.equal(byName(out, "pump anomaly").modelPath, "models/pump-anomaly.onnx");
    assert.equal(byName(out, "pump anomaly").sha256, manifest.model!.sha256);
    assert.deepEqual(byName(out, "site DMZ").allowTopics, ["acme/plant1/packaging/line2/#"]);
    assert.equal(byName(out, "vibration sensors").broker, "mqtt://10.10.2.40:1883");
    // Nothing in the template was modified.
    assert.equal(byName(template.nodes, "line OPC UA server").endpointUrl, "opc.tcp://127.0.0.1:4840");
  });

  it("points the shipped pilot's MQTT broker node (otb-mqtt-broker) at a line's broker from the endpoints section", () => {
    // The pilot's otb-mqtt-in reads through the otb-mqtt-broker config node "sensor broker" (bench/lines.bench.ts clones it per line).
    const pilot = readFlow(path.join(REPO, "flows", "single-line-pilot.json"));
    const out = cloneFlow(pilot, { manifestVersion: 1, template: "flows/single-line-pilot.json", line: { id: "line7", enterprise: "acme", site: "plant1", area: "bench", line: "line7" }, endpoints: { "sensor broker": { broker: "mqtt://10.10.7.40:1883" } } });
    const broker = out.find((n) => n.type === "otb-mqtt-broker" && n.name === "sensor broker");
    assert.equal(broker?.broker, "mqtt://10.10.7.40:1883");
    assert.equal(out.find((n) => n.type === "otb-mqtt-in")?.broker, broker?.id);
  });

  it("derives every id from the line id and re-points every reference", () => {
    const out = cloneFlow(template, manifest);
    const ids = new Set(out.map((n) => n.id));
    assert.equal(ids.size, out.length);
    for (const t of template.nodes) assert.ok(ids.has(derivedId("line-2", t.id)), `no derived id for ${t.id}`);
    const tab = out.find((n) => n.type === "tab")!;
    for (const n of out) if (n.z !== undefined) assert.equal(n.z, tab.id);
    for (const n of out) for (const port of n.wires ?? []) for (const target of port) assert.ok(ids.has(target), `${n.id} wired to ${target}`);
    assert.equal(byName(out, "signals to DMZ").conduit, byName(out, "site DMZ").id);
    assert.equal(byName(out, "line context").line, out.find((n) => n.type === "otb-line")!.id);
    assert.equal(byName(out, "signals to DMZ").line, out.find((n) => n.type === "otb-line")!.id);
    // And the generated flow passes the same lint as the template.
    assert.deepEqual(lintFlow({ file: fixture("generated-in-memory.json"), nodes: out, byId: new Map(out.map((n) => [n.id, n])) }, loadSettings(REPO)), []);
    // A second line from the same template shares no id with the first.
    const other = cloneFlow(template, { ...manifest, line: { ...manifest.line, id: "line-3" } });
    assert.ok(other.every((n) => !ids.has(n.id)));
  });

  it("writes a byte-identical file on every run, and leaves an unchanged file alone", () => {
    const t = tempDir();
    try {
      const out = path.join(t.dir, "line-2.json");
      const first = otbridge(["clone", "--manifest", MANIFEST, "--out", out]);
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stderr, /written/);
      const bytes = fs.readFileSync(out);
      const second = otbridge(["clone", "--manifest", MANIFEST, "--out", out]);
      assert.equal(second.status, 0);
      assert.match(second.stderr, /unchanged/);
      assert.ok(fs.readFileSync(out).equals(bytes));
      // The committed generated fixture is exactly what the manifest produces.
      assert.ok(fs.readFileSync(fixture("line-2.generated.json")).equals(bytes));
      assert.ok(bytes.toString().endsWith("}\n]\n"));
    } finally {
      t.cleanup();
    }
  });

  it("--check says up to date, then lists drift field by field", () => {
    const ok = otbridge(["clone", "--check", "--manifest", MANIFEST]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /line-2\.generated\.json: up to date/);

    const t = tempDir();
    try {
      const drifted = path.join(t.dir, "line-2.json");
      const nodes = readJson<FlowNode[]>(fixture("line-2.generated.json"));
      const rules = nodes.find((n) => n.name === "pump rules")!.rules as Array<{ tag: string; range: Record<string, number> }>;
      rules[0].range.badAbove = 8; // a hand edit in the generated flow
      nodes.find((n) => n.name === "site DMZ")!.targetZone = "L4";
      nodes.find((n) => n.name === "errors")!.x = 999;
      nodes.push({ id: "handmade00000001", type: "debug", z: nodes[0].id, name: "hand-made", x: 1, y: 1, wires: [] });
      fs.writeFileSync(drifted, JSON.stringify(nodes, null, 4));
      const r = otbridge(["clone", "--check", "--manifest", MANIFEST, "--out", drifted]);
      assert.equal(r.status, 1);
      const lines = r.stdout.split("\n").map((l) => l.trim());
      assert.ok(lines.some((l) => /^otb-validate 'pump rules' \([0-9a-f]{16}\): tag pump1\.motor\.current range badAbove: generated 72, file 8$/.test(l)), r.stdout);
      assert.ok(lines.some((l) => /^otb-conduit 'site DMZ' \([0-9a-f]{16}\): targetZone: generated DMZ, file L4$/.test(l)), r.stdout);
      assert.ok(lines.includes("debug 'hand-made' (handmade00000001): in the file, but not generated (added by hand?)"), r.stdout);
      assert.ok(lines.includes("1 node(s) moved in the editor (layout only)"), r.stdout);
    } finally {
      t.cleanup();
    }
  });

  it("refuses a manifest that fails its schema, malformed JSON and missing files with exit 2", () => {
    const t = tempDir();
    try {
      const bad = path.join(t.dir, "bad.json");
      fs.writeFileSync(bad, JSON.stringify({ manifestVersion: 1, line: { id: "l 2", enterprise: "acme", site: "p/1", area: "a" }, extra: 1 }));
      const r = otbridge(["clone", "--manifest", bad, "--template", "test/fixtures/flows/pilot.json", "--out", "-"]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /does not match the line manifest schema/);
      assert.match(r.stderr, /\(top\) must NOT have additional properties "extra"/);
      assert.match(r.stderr, /\/line must have required property 'line'/);
      fs.writeFileSync(bad, "{ nope");
      assert.match(otbridge(["clone", "--manifest", bad, "--out", "-"]).stderr, /bad\.json: not valid JSON/);
      const missing = otbridge(["clone", "--manifest", path.join(t.dir, "none.json"), "--out", "-"]);
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /none\.json: file not found/);
      const noTemplate = otbridge(["clone", "--manifest", MANIFEST, "--template", path.join(t.dir, "t.json"), "--out", "-"]);
      assert.equal(noTemplate.status, 2);
      assert.match(noTemplate.stderr, /t\.json: file not found/);
      assert.equal(otbridge(["clone"]).status, 2);
      assert.match(otbridge(["clone", "--help"]).stdout, /Usage: otbridge clone/);
    } finally {
      t.cleanup();
    }
  });

  it("refuses overrides for nodes the template does not have, and a model whose bytes differ from the pin", () => {
    assert.throws(() => cloneFlow(template, { ...manifest, endpoints: { "no such server": { endpointUrl: "x" } } }), /the template has no otb-opcua-endpoint, otb-modbus-device, otb-mqtt-in, mqtt-broker, otb-mqtt-broker named "no such server"/);
    // A section only touches its own node types: "pump rules" is not an endpoint.
    assert.throws(() => cloneFlow(template, { ...manifest, endpoints: { "pump rules": { rules: [] } } }), /named "pump rules"/);
    const t = tempDir();
    try {
      const m = path.join(t.dir, "m.json");
      fs.writeFileSync(m, JSON.stringify({ ...manifest, model: { file: "test/fixtures/flows/models/pump-anomaly.onnx", sha256: "a".repeat(64) } }));
      const r = otbridge(["clone", "--manifest", m, "--template", "test/fixtures/flows/pilot.json", "--out", path.join(t.dir, "o.json")]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /has sha256 93be162a\w+, the manifest pins a{64}/);
      assert.ok(!fs.existsSync(path.join(t.dir, "o.json")));
    } finally {
      t.cleanup();
    }
  });

  it("re-points subflow ports, group members, link targets and catch scopes", () => {
    const nodes: FlowNode[] = [
      { id: "tab1", type: "tab", label: "t" },
      { id: "l1", type: "otb-line", name: "l", enterprise: "e", site: "s", area: "a", line: "x" },
      { id: "sf1", type: "subflow", name: "s", in: [{ x: 1, y: 1, wires: [{ id: "fn1" }] }], out: [{ x: 1, y: 1, wires: [{ id: "fn1", port: 0 }] }] },
      { id: "fn1", type: "function", z: "sf1", func: "return msg;", x: 1, y: 1, wires: [[]] },
      { id: "use1", type: "subflow:sf1", z: "tab1", g: "grp1", x: 1, y: 1, wires: [["lo1"]] },
      { id: "grp1", type: "group", z: "tab1", nodes: ["use1"] },
      { id: "lo1", type: "link out", z: "tab1", links: ["li1"], x: 1, y: 1, wires: [] },
      { id: "li1", type: "link in", z: "tab1", links: ["lo1"], x: 1, y: 1, wires: [[]] },
      { id: "c1", type: "catch", z: "tab1", scope: ["use1"], x: 1, y: 1, wires: [[]] },
    ];
    const tpl = { file: "t.json", nodes, byId: new Map(nodes.map((n) => [n.id, n])) };
    const out = cloneFlow(tpl, { manifestVersion: 1, line: { id: "L", enterprise: "e", site: "s", area: "a", line: "y" } });
    const id = (old: string): string => derivedId("L", old);
    const get = (old: string): FlowNode => out.find((n) => n.id === id(old))!;
    assert.deepEqual(get("sf1").in, [{ x: 1, y: 1, wires: [{ id: id("fn1") }] }]);
    assert.deepEqual(get("sf1").out, [{ x: 1, y: 1, wires: [{ id: id("fn1"), port: 0 }] }]);
    assert.equal(get("use1").type, `subflow:${id("sf1")}`);
    assert.equal(get("use1").g, id("grp1"));
    assert.deepEqual(get("grp1").nodes, [id("use1")]);
    assert.deepEqual([get("lo1").links, get("li1").links, get("c1").scope], [[id("li1")], [id("lo1")], [id("use1")]]);
    assert.equal(get("fn1").z, id("sf1"));
    assert.deepEqual(lintFlow({ file: "o.json", nodes: out, byId: new Map(out.map((n) => [n.id, n])) }, loadSettings(REPO)), []);
  });

  it("merges tables by key, deletes with null, replaces scalars and plain lists", () => {
    assert.deepEqual(merge({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 5, d: null }, e: 1 }), { a: 1, b: { c: 5 }, e: 1 });
    assert.deepEqual(merge([{ tag: "x", v: 1 }, { tag: "y", v: 2 }], [{ tag: "y", v: 3 }, { tag: "z", v: 4 }, { tag: "x", $remove: true }]), [{ tag: "y", v: 3 }, { tag: "z", v: 4 }]);
    assert.deepEqual(merge(["a", "b"], ["c"]), ["c"]);
    assert.throws(() => parseManifest("[]", "m.json"), /must be object/);
  });

  it("validates the example manifests in flows/lines against the schema", () => {
    const dir = path.join(REPO, "flows", "lines");
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
    assert.ok(files.length > 0, "flows/lines holds at least one example manifest");
    for (const f of files) readManifest(path.join(dir, f));
  });
});
