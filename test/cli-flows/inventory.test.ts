/** `otbridge inventory`: which data leaves which zone, to which broker and topic, how protected. */
import * as assert from "node:assert/strict";
import { parseFlow, readFlow, type FlowNode } from "../../cli/flows/flow-file";
import { inventory } from "../../cli/flows/zone-inventory";
import { fixture, otbridge } from "./cli-run";

describe("otbridge inventory", () => {
  it("follows the wires from each otb-publish back to its sources", () => {
    const inv = inventory(readFlow(fixture("pilot.json")));
    assert.equal(inv.routes.length, 2);
    const [dmz, ent] = inv.routes;
    assert.deepEqual(
      { from: dmz.from, to: dmz.to, broker: dmz.broker, protection: dmz.protection, kinds: dmz.kinds, allowed: dmz.allowedKinds, allowlist: dmz.allowlist },
      {
        from: "L3", to: "DMZ", broker: "mqtts://dmz-broker.plant1.example:8883", protection: "mqtts, TLS, server verified, MQTT 5",
        kinds: ["context events", "signals (contextualised)"], allowed: ["signals", "events", "alarms", "kpi"], allowlist: ["acme/plant1/packaging/line1/#"],
      },
    );
    assert.deepEqual(dmz.tags, [
      "pump1.discharge.pressure", "pump1.flow.rate", "pump1.fluid.temperature",
      "pump1.motor.current", "pump1.motor.temperature", "pump1.motor.voltage",
    ]);
    // The JSON sensor has no mapping rows: its tags are named by the messages, so the list is a lower bound.
    assert.deepEqual(dmz.incomplete, ["otb-mqtt-in 'vibration sensors': no mapping rows, so every scalar field of every message on sensors/pump1/+/vibration becomes a tag (known only at run time)"]);
    assert.deepEqual(dmz.sources, ["otb-modbus-in 'skid registers'", "otb-mqtt-in 'vibration sensors'", "otb-opcua-in 'motor tags'"]);
    assert.equal(dmz.topic, "UNS topic from the message context");
    assert.deepEqual([ent.from, ent.to, ent.kinds, ent.allowedKinds], ["L3", "L4", ["inference"], ["features", "inference"]]);
    assert.deepEqual(inv.egress, []);
    assert.deepEqual(inv.idleConduits, []);
  });

  it("lists publishers without a conduit, unused conduits and core outputs that bypass the conduits", () => {
    const nodes: FlowNode[] = [
      { id: "t", type: "tab", label: "x" },
      { id: "b", type: "mqtt-broker", broker: "10.0.0.9", port: "1883" },
      { id: "c", type: "otb-conduit", name: "unused", broker: "mqtt://x:1883", sourceZone: "L2", targetZone: "L3" },
      { id: "v", type: "otb-validate", z: "t", name: "v", x: 1, y: 1, wires: [[], ["p"], []] },
      { id: "p", type: "otb-publish", z: "t", name: "orphan", conduit: "", topicMode: "template", template: "a/{tag}", x: 1, y: 1, wires: [] },
      { id: "o", type: "mqtt out", z: "t", name: "side door", broker: "b", topic: "raw/all", x: 1, y: 1, wires: [] },
    ];
    const inv = inventory(parseFlow(JSON.stringify(nodes), "f.json"));
    assert.deepEqual([inv.routes[0].protection, inv.routes[0].topic, inv.routes[0].kinds], ["NO CONDUIT", "a/{tag}", ["signals (quarantined)"]]);
    assert.deepEqual(inv.idleConduits, ["otb-conduit 'unused'"]);
    assert.deepEqual(inv.egress.map((e) => `${e.node} -> ${e.destination}`), ["mqtt out 'side door' -> 10.0.0.9:1883 topic raw/all"]);
  });

  it("shows a Sparkplug B conduit's NDATA topic", () => {
    const nodes: FlowNode[] = [
      { id: "c", type: "otb-conduit", name: "spb", broker: "mqtts://h:8883", sourceZone: "L3", targetZone: "DMZ", mode: "sparkplug", spGroup: "plant1", spEdgeNode: "line1" },
      { id: "p", type: "otb-publish", name: "p", conduit: "c", x: 1, y: 1, wires: [] },
    ];
    const [route] = inventory(parseFlow(JSON.stringify(nodes), "f.json")).routes;
    assert.equal(route.topic, "spBv1.0/plant1/NDATA/line1 (Sparkplug B)");
  });

  it("names the ${VARS} that decide a conduit's protection at deploy time", () => {
    const nodes: FlowNode[] = [
      { id: "c", type: "otb-conduit", name: "env", broker: "${OTB_CONDUIT_URL}", protocolVersion: "${OTB_MQTT}", sourceZone: "L2", targetZone: "DMZ" },
      { id: "p", type: "otb-publish", name: "p", conduit: "c", x: 1, y: 1, wires: [] },
    ];
    const [route] = inventory(parseFlow(JSON.stringify(nodes), "f.json")).routes;
    assert.equal(route.protection, "TLS decided by ${OTB_CONDUIT_URL} (server verification on), MQTT version from ${OTB_MQTT}");
  });

  it("prints a Markdown table and JSON, and exits 2 on bad input", () => {
    const md = otbridge(["inventory", "test/fixtures/flows/pilot.json"]);
    assert.equal(md.status, 0, md.stderr);
    assert.match(md.stdout, /^\| flow \| publisher \| from -> to \| broker \| protection \| topic \| kinds \| tags \|$/m);
    assert.match(md.stdout, /\| otb-publish 'scores to enterprise' \| L3 -> L4 \| mqtts:\/\/analytics\.acme\.example:8883 \| mqtts, TLS, server verified, MQTT 5 \|/);
    const json = JSON.parse(otbridge(["inventory", "--format", "json", "test/fixtures/flows/pilot.json"]).stdout) as { routes: unknown[] };
    assert.equal(json.routes.length, 2);
    assert.equal(otbridge(["inventory", "test/fixtures/flows/malformed.json"]).status, 2);
    assert.equal(otbridge(["inventory", "missing.json"]).status, 2);
  });
});
