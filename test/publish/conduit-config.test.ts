import { strict as assert } from "assert";
import { parseConduitConfig, type ConduitDef } from "../../nodes/otb-conduit/conduit-config";
import { TopicPolicy, isValidFilter, matchesFilter } from "../../nodes/otb-conduit/topic-policy";
import { Publisher, isValidTemplate } from "../../nodes/otb-publish/publish-logic";

const base: ConduitDef = { id: "c1", broker: "mqtts://dmz:8883", sourceZone: "L3", targetZone: "L4", allowTopics: ["acme/#"] };
const parse = (d: Partial<ConduitDef>) => parseConduitConfig({ ...base, ...d }, {}, "/tmp/otb-user");

describe("otb-conduit configuration and policy", () => {
  it("enforces the zone rules at deploy: up only; into L4/L5 only TLS, verified, MQTT 5", () => {
    assert.equal(parse({}).targetZone, "L4");
    assert.throws(() => parse({ sourceZone: "L4", targetZone: "L3" }), /goes up only/);
    assert.throws(() => parse({ sourceZone: "DMZ", targetZone: "DMZ" }), /goes up only/);
    assert.throws(() => parse({ broker: "mqtt://dmz:1883" }), /needs TLS/);
    assert.throws(() => parse({ broker: "ws://dmz:80" }), /needs TLS/);
    assert.throws(() => parse({ verifyServer: "false" }), /must be verified/);
    assert.throws(() => parse({ protocolVersion: "4", targetZone: "L5" }), /MQTT 5/);
    assert.equal(parse({ broker: "mqtt://dmz:1883", targetZone: "DMZ", protocolVersion: "4" }).protocolVersion, 4);
    assert.throws(() => parse({ broker: "http://x" }), /scheme/);
    assert.throws(() => parse({ targetZone: "L9" }), /target zone/);
  });

  it("needs an allowlist of valid filters, one allowed kind, and both halves of a client certificate", () => {
    assert.throws(() => parse({ allowTopics: [] }), /allowlist is empty/);
    assert.throws(() => parse({ allowTopics: ["a/#/b"] }), /not a valid MQTT topic filter/);
    assert.throws(() => parse({ allowSignals: false, allowFeatures: "false", allowInference: false, allowEvents: false }), /no message kind/);
    assert.throws(() => parse({ certFile: "/x.pem" }), /both a client certificate and its key/);
    assert.throws(() => parse({ caFile: "/no/such/ca.pem" }), /cannot read the CA certificate/);
  });

  it("coerces the editor's strings and applies stated defaults", () => {
    const c = parse({ keepalive: "7", commitMs: "", queueMaxMB: "1", inflight: "5000" });
    assert.equal(c.keepaliveS, 7);
    assert.equal(c.queue.commitIntervalMs, 20);
    assert.equal(c.queue.maxBytes, 1024 * 1024);
    assert.equal(c.inflight, 1000, "bounded in flight");
    assert.equal(c.queue.fullPolicy, "reject-new");
    assert.equal(c.queue.replayOrder, "in-order");
    assert.equal(c.queue.dir, "/tmp/otb-user/otbridge-queue/c1");
    assert.equal(c.tls?.verify, true);
  });

  it("matches topics against MQTT filters and refuses wildcards, system topics and empty levels", () => {
    assert.ok(matchesFilter("acme/+/a1/#", "acme/s1/a1/l1/tag"));
    assert.ok(matchesFilter("acme/#", "acme"));
    assert.ok(!matchesFilter("acme/+", "acme/s1/x"));
    assert.ok(isValidFilter("+/x/#") && !isValidFilter("a+/b") && !isValidFilter("#/a"));
    const p = new TopicPolicy(["acme/#"], new Set(["signals"]), 1000);
    assert.equal(p.check("acme/s/a/l/t", "signals", 10), null);
    for (const t of ["acme/+/x", "acme/#", "$SYS/x", "acme//x", "acme/$x"]) assert.equal(p.check(t, "signals", 10), "topic_injection", t);
    assert.equal(p.check("other/x", "signals", 10), "not_allowlisted");
    assert.equal(p.check("acme/x", "inference", 10), "kind_not_allowed");
    assert.equal(p.check("acme/x", "signals", 2000), "too_large");
  });

  it("fills topic templates only with safe levels, and accounts for every item of a batch", () => {
    assert.ok(isValidTemplate("plant/{site}/{line}/{tag}"));
    assert.ok(!isValidTemplate("plant/#/{tag}") && !isValidTemplate("$SYS/{tag}") && !isValidTemplate("plant/{nope}"));
    const publisher = new Publisher({ topicMode: "template", template: "plant/{site}/{tag}", rbe: false, deadband: 0, sparkplugTopic: null },
      new TopicPolicy(["plant/#"], new Set(["signals"]), 10_000));
    const ctx = { enterprise: "e", site: "s1", area: "a", line: "l" };
    const sig = (tag: string, site = "s1") => ({ tag, value: 1, ts: 1, quality: "good", source: { protocol: "sim", address: "x" }, context: { ...ctx, site } });
    const out = publisher.prepare([sig("ok"), sig("a#"), sig("b", "+"), { junk: true }, sig("c", "$x")], { line: null });
    assert.deepEqual(out.records.map((r) => r.topic), ["plant/s1/ok"]);
    assert.deepEqual(out.refused.map((r) => r.reason).sort(), ["invalid", "topic_injection", "topic_injection", "topic_injection"]);
    assert.equal(out.records.length + out.refused.length + out.suppressed, 5, "nothing unaccounted for");
  });

  it("report-by-exception forgets a value the queue refused, so the next equal value still goes", () => {
    const publisher = new Publisher({ topicMode: "uns", template: "", rbe: true, deadband: 0.5, sparkplugTopic: null },
      new TopicPolicy(["e/#"], new Set(["signals"]), 10_000));
    const sig = (value: number) => ({ tag: "x", value, ts: 1, quality: "good", source: { protocol: "sim", address: "x" },
      context: { enterprise: "e", site: "s", area: "a", line: "l" } });
    assert.equal(publisher.prepare(sig(1), { line: null }).records.length, 1);
    const refused = publisher.prepare(sig(5), { line: null });
    assert.equal(refused.records.length, 1);
    assert.equal(publisher.prepare(sig(5.2), { line: null }).suppressed, 1, "within the deadband of 5");
    publisher.forget(refused, [0]);
    assert.equal(publisher.prepare(sig(5.2), { line: null }).records.length, 1, "5 never left: 5.2 is a change from 1");
  });
});
