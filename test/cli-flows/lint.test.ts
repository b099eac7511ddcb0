/** `otbridge lint`: each rule on its own fixture, rule settings, output formats and exit codes. */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { lintFile, lintFlow, loadSettings } from "../../cli/flows/lint";
import type { Finding, LintSettings } from "../../cli/flows/lint-types";
import { parseFlow } from "../../cli/flows/flow-file";
import { fixture, otbridge, REPO, tempDir } from "./cli-run";

/** "node-id rule" pairs, the shape most assertions read best in. */
function pairs(findings: Finding[], severity?: "error" | "warn"): string[] {
  return findings.filter((f) => !severity || f.severity === severity).map((f) => `${f.node} ${f.rule}`);
}

function lintNodes(nodes: unknown[], settings: LintSettings): Finding[] {
  return lintFlow(parseFlow(JSON.stringify(nodes), "inline.json"), settings);
}

describe("otbridge lint", () => {
  let settings: LintSettings;
  before(() => {
    settings = loadSettings(REPO, undefined);
  });

  it("passes the realistic pilot fixture with no findings at all", () => {
    assert.deepEqual(lintFile(fixture("pilot.json"), settings), []);
  });

  it("flags every security rule on the bad-security fixture, and nothing on the clean conduit", () => {
    const found = lintFile(fixture("bad-security.json"), settings);
    assert.deepEqual(pairs(found, "error").sort(), [
      "- conduit-zones", // conduits from L4 and L3 in one flow
      "c0nd00000000dn01 conduit-zones", // L4 -> L3 goes down (the schema's zone-order check is the same cause: one finding)
      "c0nd00000000nv01 conduit-tls", // L4 without server verification
      "c0nd00000000nz01 conduit-zones", // no source zone
      "c0nd00000000nz01 conduit-zones", // target L9
      "c0nd00000000pl01 conduit-tls", // L5 over mqtt://
      "c0nd00000000pl01 conduit-tls", // L5 over MQTT 3.1.1
      "c0nd00000000sc01 no-secrets", // credentials.user
      "c0nd00000000sc01 no-secrets", // credentials.password
      "c0nd00000000sc01 no-secrets", // password in the broker URL
      "c0nd00000000sc01 no-secrets", // literal password field
      "func000000000001 no-secrets", // PEM private key in a function
      "http000000000001 no-secrets", // bearer JWT in a header
      "pub00000000miss1 publish-conduit",
      "pub00000000none1 publish-conduit",
    ].sort());
    assert.deepEqual(pairs(found, "warn"), ["http000000000001 unmanaged-egress"]);
    const messages = found.map((f) => f.message).join("\n");
    assert.match(messages, /goes from L4 to L3: a conduit only goes upward/);
    assert.match(messages, /goes into L5 without TLS/);
    assert.match(messages, /MQTT 5 is required/);
    assert.match(messages, /without verifying the broker's certificate/);
    assert.match(messages, /a PEM private key/);
    // The conduit that takes its URL and password from ${ENV} vars, and its publisher, are clean.
    assert.ok(!found.some((f) => f.node === "c0nd00000000ev01" || f.node === "pub00000000ok001"));
  });

  describe("one cause, one finding", () => {
    const conduit = { id: "c", type: "otb-conduit", name: "c", broker: "mqtts://b:8883", protocolVersion: "5", sourceZone: "L3", targetZone: "DMZ", allowTopics: ["a/#"] };
    const lines = (found: Finding[]): string[] => found.map((f) => `${f.node} ${f.rule} ${f.severity}: ${f.message}`);

    it("a conduit's zone, protocol or model field wrong: the contract rule's finding only, not node-config's too", () => {
      assert.deepEqual(lines(lintNodes([{ ...conduit, sourceZone: "L4", targetZone: "L3" }], settings)), ["c conduit-zones error: goes from L4 to L3: a conduit only goes upward, to a higher zone"]);
      assert.deepEqual(lines(lintNodes([{ ...conduit, sourceZone: "", targetZone: "L9" }], settings)), [
        "c conduit-zones error: no source zone (one of sourceZone)",
        'c conduit-zones error: target zone "L9" is not one of L0, L1, L2, L3, DMZ, L4, L5',
      ]);
      assert.deepEqual(lines(lintNodes([{ ...conduit, targetZone: "L4", protocolVersion: "6" }], settings)), ["c conduit-tls error: goes into L4 over MQTT 6; MQTT 5 is required (a 3.1.1 broker acknowledges publishes its ACL drops)"]);
      assert.deepEqual(lines(lintNodes([{ id: "i", type: "otb-infer", name: "i", modelPath: "", wires: [[], []] }], settings)), ["i model-pinned error: no model file (one of modelPath)"]);
      // Causes in different fields stay apart: a broker that is no URL and a zone going down.
      assert.deepEqual(pairs(lintNodes([{ ...conduit, broker: "http://x", targetZone: "L2" }], settings)).sort(), ["c conduit-zones", "c node-config"]);
    });

    it("the cause is still reported once when the repo turns the contract rule off or makes it milder", () => {
      const down = [{ ...conduit, sourceZone: "L4", targetZone: "L3" }];
      const off = lines(lintNodes(down, { ...settings, rules: { ...settings.rules, "conduit-zones": "off" } }));
      assert.equal(off.length, 1, off.join(" | "));
      assert.match(off[0]!, /^c node-config error: targetZone L3 must be higher than the source zone L4/);
      // The runtime refuses this conduit whatever the repo says: node-config's error stays.
      const mild = lines(lintNodes(down, { ...settings, rules: { ...settings.rules, "conduit-zones": "warn" } }));
      assert.equal(mild.length, 1, mild.join(" | "));
      assert.match(mild[0]!, /^c node-config error: /);
      // A contract rule's finding on a field node-config finds right stays a warning.
      const mildOnly = lines(lintNodes([{ ...conduit, targetZone: "L4", protocolVersion: "4" }], { ...settings, rules: { ...settings.rules, "conduit-tls": "warn" } }));
      assert.deepEqual(mildOnly, ["c conduit-tls warn: goes into L4 over MQTT 3.1.1; MQTT 5 is required (a 3.1.1 broker acknowledges publishes its ACL drops)"]);
    });

    const line = { id: "l", type: "otb-line", name: "l", enterprise: "acme", site: "p1", area: "a", line: "l1" };
    const choices: Array<{ node: Record<string, unknown>; says: RegExp }> = [
      { node: { type: "otb-validate", rulesFrom: "file", catalogFile: "" }, says: /^rulesFrom "file" needs catalogFile/ },
      { node: { type: "otb-context", line: "l", modeSource: "state", modeTag: "" }, says: /^modeSource "state" needs modeTag/ },
      { node: { type: "otb-context", line: "l", modeSource: "threshold", modeTag: "line1.speed", threshold: "" }, says: /^modeSource "threshold" needs a threshold/ },
      { node: { type: "otb-oee", line: "l", totalTag: "t", rejectTag: "r", stateFrom: "tag", stateTag: "" }, says: /^stateFrom "tag" needs stateTag/ },
      { node: { type: "otb-oee", line: "l", totalTag: "t", counting: "good-reject", goodTag: "", rejectTag: "" }, says: /^counting "good-reject" needs goodTag and rejectTag/ },
      { node: { type: "otb-spc", source: "file", catalogFile: "" }, says: /^source "file" needs catalogFile/ },
      { node: { type: "otb-spc", source: "form", tag: "" }, says: /^source "form" needs a tag/ },
      { node: { type: "otb-window", windowName: "w", features: [{ tag: "a", agg: "mean" }], mode: "sliding", length: 10, hop: 20 }, says: /^mode "sliding" needs a valid hop: hop \(20 s\) must not be longer than the length \(10 s\)$/ },
      { node: { type: "otb-publish", conduit: "c", topicMode: "template", template: "a/#" }, says: /^topicMode "template" needs a safe template: template "a\/#" is not a safe topic/ },
    ];
    for (const { node, says } of choices) {
      it(`${String(node.type)}: a choice and the field it needs are one finding (${JSON.stringify(node).slice(0, 70)})`, () => {
        const found = lintNodes([line, conduit, { id: "n", name: "n", wires: [[], [], []], ...node }], settings).filter((f) => f.node === "n");
        assert.equal(found.length, 1, lines(found).join(" | "));
        assert.equal(found[0]!.rule, "node-config");
        assert.match(found[0]!.message, says);
      });
    }
  });

  it("flags structure and node-config problems on the bad-structure fixture", () => {
    const found = lintFile(fixture("bad-structure.json"), settings);
    assert.deepEqual(pairs(found, "error"), [
      "11ne00000000bad1 node-config", // site "plant/1" fails the editor's topic-level validator
      "11ne00000000bad1 node-config", // line is required
      "dup0000000000001 duplicate-id",
      "unk0000000000001 unknown-type",
      "ctx0000000000001 missing-config",
      "ctx0000000000001 dangling-wire",
      "val0000000000001 node-config", // maxStringLength "lots"
      "orph000000000001 dangling-wire", // z names a tab that is not there
      "mqo0000000000001 missing-config",
    ]);
    const site = found.find((f) => f.node === "11ne00000000bad1" && /site/.test(f.message));
    assert.ok(site, "the editor's own validation message is reported");
    assert.match(site.message, /site "plant\/1" cannot be a topic level \(no \/ \+ #/);
  });

  it("checks TLS on every broker of a conduit that lists several (a cluster, or active and standby)", () => {
    const conduit = { id: "c", type: "otb-conduit", name: "c", protocolVersion: "5", sourceZone: "L3", targetZone: "L4", allowTopics: ["a/#"] };
    const tlsFindings = (broker: string): string[] => lintNodes([{ ...conduit, broker }], settings).filter((f) => f.rule === "conduit-tls").map((f) => `${f.severity}: ${f.message}`);
    assert.deepEqual(tlsFindings("mqtts://a:8883\nmqtts://b:8883"), []);
    const mixed = tlsFindings("mqtts://a:8883, mqtt://b:1883");
    assert.equal(mixed.length, 1);
    assert.match(mixed[0]!, /^error: goes into L4 without TLS \(broker mqtt:\/\/b:1883; use mqtts:\/\/ or wss:\/\/ for every broker\)/);
    assert.match(tlsFindings("mqtts://a:8883\n${OTB_STANDBY}")[0]!, /^warn: .*TLS cannot be checked here/);
  });

  it("checks every otb-infer model against its card and its pin", () => {
    const found = lintFile(fixture("bad-model.json"), settings);
    const byNode = (id: string): string[] => found.filter((f) => f.node === id && f.rule === "model-pinned").map((f) => `${f.severity}: ${f.message}`);
    assert.deepEqual(byNode("inf0000000000001"), []);
    assert.match(byNode("inf0000000000002")[0], /^error: model file models\/nope.onnx not found/);
    assert.match(byNode("inf0000000000003")[0], /^error: model models\/tampered.onnx does not match its card/);
    assert.match(byNode("inf0000000000004")[0], /^error: pinned sha256 0{12}\.\.\. differs from the card's/);
    assert.match(byNode("inf0000000000005")[0], /^warn: model path \$\{OTB_MODEL\} comes from the environment/);
    assert.match(byNode("inf0000000000006")[0], /^error: no model file/);
  });

  it("checks the catalog and register-map files otb nodes load", () => {
    const found = lintFile(fixture("bad-files.json"), settings);
    assert.deepEqual(found.map((f) => `${f.node} ${f.rule} ${f.severity}`), [
      "val00000000miss1 catalog-file error",
      "mod00000000bad01 catalog-file error",
      "mod00000000env01 catalog-file warn",
    ]);
    assert.match(found[0].message, /catalogFile catalog\/line9-rules\.json not found/);
    assert.match(found[1].message, /mapFile malformed\.json is not valid JSON/);
  });

  it("checks an otb-line's shift calendar with the runtime's own ShiftCalendar", () => {
    const line = { id: "l", type: "otb-line", name: "l", enterprise: "acme", site: "p1", area: "a", line: "l1", timeZone: "Europe/Berlin" };
    assert.deepEqual(lintNodes([{ ...line, shifts: [{ name: "early", start: "06:00", end: "14:00", days: [] }] }], settings), []);
    const broken = lintNodes([{ ...line, shifts: "[{ nope" }], settings);
    assert.deepEqual(pairs(broken), ["l node-config"]);
    assert.match(broken[0].message, /shifts is not valid JSON/);
    assert.deepEqual(pairs(lintNodes([{ ...line, shifts: [{ name: "x", start: "25:00", end: "14:00" }] }], settings)), ["l node-config"]);
  });

  it("checks subflow port wiring", () => {
    const sub = { id: "sf", type: "subflow", name: "s", in: [{ x: 1, y: 1, wires: [{ id: "inner" }] }], out: [{ x: 1, y: 1, wires: [{ id: "gone", port: 0 }] }] };
    const found = lintNodes([sub, { id: "inner", type: "function", z: "sf", name: "f", func: "return msg;", x: 1, y: 1, wires: [[]] }, { id: "use", type: "subflow:sf", x: 1, y: 1, wires: [[]] }, { id: "bad", type: "subflow:nope", x: 1, y: 1, wires: [[]] }], settings);
    assert.deepEqual(found.map((f) => `${f.node} ${f.rule}`), ["sf dangling-wire", "bad unknown-type"]);
  });

  it("finds a model whose card is missing", () => {
    const t = tempDir();
    try {
      fs.copyFileSync(fixture("models/pump-anomaly.onnx"), path.join(t.dir, "lonely.onnx"));
      const flow = path.join(t.dir, "flow.json");
      fs.writeFileSync(flow, JSON.stringify([{ id: "i1", type: "otb-infer", name: "m", modelPath: "lonely.onnx", wires: [[], []] }]));
      const found = lintFile(flow, settings).filter((f) => f.rule === "model-pinned");
      assert.equal(found.length, 1);
      assert.match(found[0].message, /has no card lonely.card.json beside it/);
    } finally {
      t.cleanup();
    }
  });

  it("treats whole ${ENV_VAR} values as safe and literal secrets anywhere as errors", () => {
    const found = lintNodes(
      [
        { id: "a", type: "mqtt-broker", name: "env", broker: "127.0.0.1", credentials: { user: "${MQTT_USER}", password: "${MQTT_PASSWORD}" } },
        { id: "b", type: "change", name: "token", rules: [{ t: "set", p: "headers.apiKey", to: "x" }], apiKey: "sk-live-1234", x: 1, y: 1, wires: [[]] },
        { id: "c", type: "inject", name: "aws", props: [{ p: "payload", v: "AKIAABCDEFGHIJKLMNOP" }], x: 1, y: 1, wires: [[]] },
      ],
      settings,
    );
    // b twice: its apiKey field, and its rule setting headers.apiKey to a literal.
    assert.deepEqual(pairs(found), ["b no-secrets", "b no-secrets", "c no-secrets"]);
  });

  it("warns, not fails, when a ${VAR} decides TLS or the MQTT version of an L4 conduit", () => {
    const conduit = { id: "c", type: "otb-conduit", name: "c", sourceZone: "L3", targetZone: "L4", allowTopics: ["a/#"] };
    const found = lintNodes([{ ...conduit, broker: "${OTB_URL}", protocolVersion: "${OTB_MQTT}" }], settings);
    assert.deepEqual(found.map((f) => `${f.rule} ${f.severity}`), ["conduit-tls warn", "conduit-tls warn"]);
    assert.match(found[0].message, /TLS cannot be checked here/);
    // Explicitly switching verification off is visible in the flow, so it is still an error.
    const unverified = lintNodes([{ ...conduit, broker: "${OTB_URL}", verifyServer: false }], settings);
    assert.deepEqual(unverified.map((f) => `${f.rule} ${f.severity}`), ["conduit-tls warn", "conduit-tls error"]);
  });

  it("reads rule settings from .otbridgerc.json and rejects unknown rules", () => {
    const t = tempDir();
    try {
      fs.writeFileSync(path.join(t.dir, ".otbridgerc.json"), JSON.stringify({ rules: { "unknown-type": "off", "dangling-wire": "warn" }, knownTypes: ["x-custom"] }));
      const relaxed = loadSettings(t.dir);
      const found = lintFile(fixture("bad-structure.json"), relaxed);
      assert.ok(!found.some((f) => f.rule === "unknown-type"));
      assert.ok(found.filter((f) => f.rule === "dangling-wire").every((f) => f.severity === "warn"));
      assert.ok(relaxed.knownTypes.has("x-custom"));
      fs.writeFileSync(path.join(t.dir, ".otbridgerc.json"), JSON.stringify({ rules: { "no-such-rule": "off" } }));
      assert.throws(() => loadSettings(t.dir), /unknown rule "no-such-rule"/);
      fs.writeFileSync(path.join(t.dir, ".otbridgerc.json"), JSON.stringify({ rules: { "no-secrets": "maybe" } }));
      assert.throws(() => loadSettings(t.dir), /must be equal to one of the allowed values/);
    } finally {
      t.cleanup();
    }
  });

  describe("command line", () => {
    it("prints file:node-id: rule: message and exits 1 on errors", () => {
      const r = otbridge(["lint", "test/fixtures/flows/bad-structure.json"]);
      assert.equal(r.status, 1);
      const lines = r.stdout.trim().split("\n");
      assert.ok(lines.includes("test/fixtures/flows/bad-structure.json:dup0000000000001: duplicate-id: id is also used by inject 'first'"), r.stdout);
      assert.ok(lines.every((l) => /^test\/fixtures\/flows\/bad-structure\.json:[^:]+: [a-z-]+: /.test(l)), r.stdout);
      assert.match(r.stderr, /1 file\(s\), 9 error\(s\), 1 warning\(s\)/);
    });

    it("exits 0 on a clean flow and on warnings only", () => {
      assert.equal(otbridge(["lint", "test/fixtures/flows/pilot.json"]).status, 0);
      const t = tempDir();
      try {
        const flow = path.join(t.dir, "warn.json");
        fs.writeFileSync(flow, JSON.stringify([{ id: "m", type: "mqtt out", name: "x", broker: "b", x: 1, y: 1, wires: [] }, { id: "b", type: "mqtt-broker", broker: "127.0.0.1" }]));
        const r = otbridge(["lint", flow]);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /unmanaged-egress: warning: /);
      } finally {
        t.cleanup();
      }
    });

    it("writes machine-readable JSON with --format json", () => {
      const r = otbridge(["lint", "--format", "json", "test/fixtures/flows/bad-model.json"]);
      assert.equal(r.status, 1);
      const out = JSON.parse(r.stdout) as { errors: number; warnings: number; findings: Finding[] };
      assert.equal(out.errors, 4); // four model-pinned errors (modelPath required is the "no model file" one)
      assert.equal(out.warnings, 1);
      const f = out.findings.find((x) => x.node === "inf0000000000002");
      assert.deepEqual({ ...f, message: undefined }, { file: "test/fixtures/flows/bad-model.json", node: "inf0000000000002", type: "otb-infer", name: "missing file", rule: "model-pinned", severity: "error", message: undefined });
    });

    it("reports malformed JSON and non-flows as findings, a missing file or bad option as exit 2", () => {
      const bad = otbridge(["lint", "test/fixtures/flows/malformed.json", "test/fixtures/flows/not-a-flow.json"]);
      assert.equal(bad.status, 1);
      assert.match(bad.stdout, /^test\/fixtures\/flows\/malformed\.json:-: flow-file: not valid JSON/m);
      assert.match(bad.stdout, /^test\/fixtures\/flows\/not-a-flow\.json:-: flow-file: not a Node-RED flow/m);
      const missing = otbridge(["lint", "nope/flow.json"]);
      assert.equal(missing.status, 2);
      assert.equal(missing.stderr.trim(), "otbridge: nope/flow.json: file not found");
      assert.equal(otbridge(["lint", "--format", "xml", "x.json"]).status, 2);
      assert.equal(otbridge(["lint"]).status, 2);
    });

    it("searches folders for flows and skips other JSON (catalogs, manifests)", () => {
      const t = tempDir();
      try {
        fs.mkdirSync(path.join(t.dir, "catalog"));
        fs.writeFileSync(path.join(t.dir, "catalog", "map.json"), JSON.stringify([{ tag: "a", type: "float32", address: 0 }]));
        fs.writeFileSync(path.join(t.dir, "manifest.json"), JSON.stringify({ manifestVersion: 1 }));
        fs.copyFileSync(fixture("bad-structure.json"), path.join(t.dir, "flow.json"));
        const r = otbridge(["lint", "--format", "json", t.dir]);
        const out = JSON.parse(r.stdout) as { files: string[] };
        assert.deepEqual(out.files, [path.join(t.dir, "flow.json")]);
      } finally {
        t.cleanup();
      }
    });

    it("honours --config and lists the rules", () => {
      const t = tempDir();
      try {
        const rc = path.join(t.dir, "rc.json");
        fs.writeFileSync(rc, JSON.stringify({ rules: { "duplicate-id": "off", "unknown-type": "off", "missing-config": "off", "dangling-wire": "off", "node-config": "off" } }));
        assert.equal(otbridge(["lint", "--config", rc, "--quiet", "test/fixtures/flows/bad-structure.json"]).status, 0);
        assert.equal(otbridge(["lint", "--config", path.join(t.dir, "none.json"), "x.json"]).status, 2);
      } finally {
        t.cleanup();
      }
      const rules = otbridge(["lint", "--rules"]).stdout;
      for (const id of ["no-secrets", "conduit-zones", "conduit-tls", "publish-conduit", "model-pinned", "unknown-type", "missing-config", "dangling-wire", "duplicate-id", "node-config"]) {
        assert.match(rules, new RegExp(`^${id} `, "m"));
      }
      assert.match(otbridge(["lint", "--help"]).stdout, /Usage: otbridge lint/);
    });

    it("keeps the JSON report's finding count equal to the text report's lines", () => {
      const text = otbridge(["lint", "test/fixtures/flows/bad-security.json"]).stdout.trim().split("\n");
      const json = JSON.parse(otbridge(["lint", "--format", "json", "test/fixtures/flows/bad-security.json"]).stdout) as { findings: unknown[] };
      assert.equal(json.findings.length, text.length);
    });
  });
});
