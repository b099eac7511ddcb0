import { strict as assert } from "assert";
import { parseConduitConfig } from "../../nodes/otb-conduit/conduit-config";
import { TopicPolicy } from "../../nodes/otb-conduit/topic-policy";
import { Publisher } from "../../nodes/otb-publish/publish-logic";
import { kpiSchema, validateKpi, type Kpi } from "../../nodes/shared";
import { parseBusinessCase, businessCaseSchema } from "../../nodes/shared/outcomes/business-case";
import * as fs from "fs";
import { parseFlow, type FlowNode } from "../../cli/flows/flow-file";
import { inventory } from "../../cli/flows/zone-inventory";
import * as path from "path";

const CTX = { enterprise: "acme", site: "plant1", area: "packaging", line: "line1" };
const KPI: Kpi = { kind: "kpi", ts: 1, name: "oee", scope: "shift", period: { from: 0, to: 1, label: "2026-06-10/early" }, values: { oee: 0.75, teep: null }, quality: "good", context: CTX };
const ROOT = path.resolve(__dirname, "../../..");

describe("KPI message kind", () => {
  it("has a schema that accepts a KPI and refuses a malformed one", () => {
    assert.ok(validateKpi(KPI));
    assert.ok(!validateKpi({ ...KPI, scope: "year" }));
    assert.ok(!validateKpi({ ...KPI, values: { oee: "75%" } }));
    assert.equal(kpiSchema.$id, "otb:kpi");
  });

  it("is published by otb-publish under <line>/_kpi/<name>/<scope> when the conduit allows KPIs, refused when it does not", () => {
    const allow = new Publisher({ topicMode: "uns", template: "", rbe: true, deadband: 0, sparkplugTopic: null }, new TopicPolicy(["acme/#"], new Set(["kpi"]), 100_000));
    const out = allow.prepare(KPI, { line: null });
    assert.equal(out.kind, "kpi");
    assert.deepEqual(out.records.map((r) => r.topic), ["acme/plant1/packaging/line1/_kpi/oee/shift"]);
    assert.deepEqual(JSON.parse(out.records[0].payload.toString()), KPI);
    const again = allow.prepare(KPI, { line: null });
    assert.equal(again.records.length, 1, "KPIs are never suppressed by report-by-exception");
    const deny = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic: null }, new TopicPolicy(["acme/#"], new Set(["signals", "events"]), 100_000));
    const refused = deny.prepare(KPI, { line: null });
    assert.deepEqual(refused.refused.map((r) => r.reason), ["kind_not_allowed"]);
    const bad = allow.prepare({ ...KPI, values: { oee: "x" } }, { line: null });
    assert.deepEqual(bad.refused.map((r) => r.reason), ["invalid"]);
  });

  it("conduits allow KPIs by their own flag; one saved before the flag existed follows allowEvents", () => {
    const base = { id: "c1", broker: "mqtts://dmz:8883", sourceZone: "L3", targetZone: "L4", allowTopics: ["acme/#"] };
    const kinds = (extra: Record<string, unknown>): string[] => [...parseConduitConfig({ ...base, ...extra } as never, {}, "/tmp").kinds].sort();
    assert.ok(kinds({}).includes("kpi"));
    assert.ok(!kinds({ allowKpi: false }).includes("kpi"));
    assert.ok(!kinds({ allowEvents: false }).includes("kpi"));
    assert.ok(kinds({ allowEvents: false, allowKpi: true }).includes("kpi"));
  });
});

describe("otbridge inventory with outcomes", () => {
  it("names KPIs and SPC events as what leaves the zone, and kpi among the conduit's allowed kinds", () => {
    const nodes: FlowNode[] = [
      { id: "t", type: "tab", label: "x" },
      { id: "c", type: "otb-conduit", name: "to dmz", broker: "mqtts://dmz:8883", sourceZone: "L3", targetZone: "DMZ", allowTopics: ["acme/#"], allowEvents: true },
      { id: "in", type: "otb-mqtt-in", z: "t", name: "filler", topics: [{ topic: "otbridge/line1/filler/#" }], x: 1, y: 1, wires: [["oee", "spc"], []] },
      { id: "oee", type: "otb-oee", z: "t", name: "oee", x: 1, y: 1, wires: [["p"], []] },
      { id: "spc", type: "otb-spc", z: "t", name: "spc", x: 1, y: 1, wires: [["p"], ["p"], []] },
      { id: "p", type: "otb-publish", z: "t", name: "kpis", conduit: "c", x: 1, y: 1, wires: [] },
    ];
    const inv = inventory(parseFlow(JSON.stringify(nodes), "f.json"));
    assert.deepEqual(inv.routes[0].kinds, ["KPIs (OEE, value)", "KPIs (SPC points, capability)", "SPC rule events"].sort());
    assert.ok(inv.routes[0].allowedKinds.includes("kpi"));
    assert.deepEqual(inv.routes[0].sources, ["otb-mqtt-in 'filler'"]);
  });
});

describe("business case file", () => {
  it("the shipped schema file is the node's schema, and the example case validates", () => {
    const file = JSON.parse(fs.readFileSync(path.join(ROOT, "flows/catalog/business-case.schema.json"), "utf8"));
    const { $id, ...rest } = businessCaseSchema as unknown as Record<string, unknown>;
    assert.equal($id, "otb:business-case");
    assert.deepEqual({ ...file, $schema: undefined, title: undefined, description: undefined }, { ...rest, $schema: undefined, title: undefined, description: undefined });
    const bc = parseBusinessCase(JSON.parse(fs.readFileSync(path.join(ROOT, "flows/catalog/business-case-line1.json"), "utf8")));
    assert.equal(bc.line, "line1");
  });
});
