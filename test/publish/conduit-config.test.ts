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
    assert.throws(() => parse({ targetZone: "L9" }), /^ConfigError: targetZone "L9" is not one of L0, L1, L2, L3, DMZ, L4, L5$/);
    assert.throws(() => parse({ sourceZone: "l3" }), /sourceZone "l3" is not one of/);
  });

  it("needs an allowlist of valid filters, one allowed kind, and both halves of a client certificate", () => {
    assert.throws(() => parse({ allowTopics: [] }), /allowTopics is empty: nothing could be published/);
    assert.throws(() => parse({ allowTopics: ["a/#/b"] }), /not a valid MQTT topic filter/);
    assert.throws(() => parse({ allowSignals: false, allowFeatures: "false", allowInference: false, allowEvents: false }), /no message kind/);
    assert.throws(() => parse({ certFile: "/x.pem" }), /both a client certificate and its key/);
    assert.throws(() => parse({ caFile: "/no/such/ca.pem" }), /cannot read the CA certificate/);
  });

  it("coerces the editor's strings and applies stated defaults", () => {
    const c = parse({ keepalive: "7", commitMs: "", queueMaxMB: "1", inflight: "1000" });
    assert.equal(c.keepaliveS, 7);
    assert.equal(c.queue.commitIntervalMs, 20);
    assert.equal(c.queue.maxBytes, 1024 * 1024);
    assert.equal(c.inflight, 1000);
    assert.equal(c.queue.fullPolicy, "reject-new");
    assert.equal(c.queue.replayOrder, "in-order");
    assert.equal(c.queue.dir, "/tmp/otb-user/otbridge-queue/c1");
    assert.equal(c.tls?.verify, true);
    assert.deepEqual(c.resend, { records: 2000, ms: 10_000, bytes: 16 * 1024 * 1024 }, "the re-send window's defaults");
    assert.deepEqual(parse({ resendRecords: "0", resendSeconds: "2.5" }).resend, { records: 0, ms: 2500, bytes: 16 * 1024 * 1024 });
    assert.throws(() => parse({ resendRecords: -1 }), /resendRecords must be at least 0/);
    assert.throws(() => parse({ resendSeconds: "7200" }), /resendSeconds must be at most 3600/);
  });

  it("bounds the numbers it always bounded, and refuses what the editor refused (issue 16: one verdict)", () => {
    const c = parse({ keepalive: "0", connectTimeout: 500, reconnectMax: "0.1", commitMs: 0, maxMessageBytes: 1, queueMaxMB: 0, rateLimit: -5 });
    assert.deepEqual([c.keepaliveS, c.connectTimeoutMs, c.reconnectMaxMs, c.queue.commitIntervalMs, c.maxMessageBytes, c.queue.maxBytes, c.rateLimit],
      [1, 120_000, 500, 1, 64, 64 * 1024, 0]);
    assert.throws(() => parse({ inflight: "5000" }), /^ConfigError: inflight must be at most 1000 \(got 5000\)$/);
    assert.throws(() => parse({ inflight: 0 }), /inflight must be at least 1/);
    assert.throws(() => parse({ queueMaxAgeS: "-1" }), /queueMaxAgeS must be at least 0/);
    assert.throws(() => parse({ keepalive: "often" }), /keepalive must be a number/);
    assert.throws(() => parse({ replayOrder: "random" }), /replayOrder "random" is not one of in-order, live-first/);
    assert.throws(() => parse({ protocolVersion: "3.1.1" }), /protocolVersion "3.1.1" is not one of 5, 4/);
  });

  it("needs the Sparkplug ids in Sparkplug mode only, free of / + #", () => {
    assert.equal(parse({ spGroup: "a/b" }).sparkplug, null, "plain mode ignores them");
    assert.throws(() => parse({ mode: "sparkplug", spEdgeNode: "line1" }), /^ConfigError: spGroup "" must be non-empty and free of \/ \+ # in Sparkplug mode$/);
    assert.throws(() => parse({ mode: "sparkplug", spGroup: "plant1", spEdgeNode: "line#1" }), /spEdgeNode "line#1" must be/);
    assert.throws(() => parse({ mode: "sparkplug", spGroup: "plant1", spEdgeNode: "line1", spPrimaryHost: "scada/1" }), /spPrimaryHost "scada\/1" must be free of/);
    assert.deepEqual(parse({ mode: "sparkplug", spGroup: " plant1 ", spEdgeNode: "line1" }).sparkplug, { group: "plant1", edgeNode: "line1", primaryHost: "" });
    assert.throws(() => parse({ mode: "mqtt" }), /mode "mqtt" is not one of plain, sparkplug/);
  });

  it("loads a conduit saved before version 2 as it ran then (migration, issue 16)", () => {
    const old = (d: Record<string, unknown>) => parseConduitConfig({ ...base, ...d } as ConduitDef, {}, "/tmp/otb-user");
    // alarms and kpi came after allowEvents: absent, they follow it (an old flow does not widen what leaves).
    assert.deepEqual([...old({ allowEvents: false }).kinds].sort(), ["features", "inference", "signals"]);
    assert.deepEqual([...old({ allowEvents: "true" }).kinds].sort(), ["alarms", "events", "features", "inference", "kpi", "signals"]);
    assert.deepEqual([...old({ allowEvents: false, allowKpi: true }).kinds].sort(), ["features", "inference", "kpi", "signals"]);
    // Saved by this version's editor (version 2, every flag written): the flags as they are.
    assert.deepEqual([...old({ version: 2, allowEvents: false }).kinds].sort(), ["alarms", "features", "inference", "kpi", "signals"]);
    // A broker or a zone left out was refused; it does not now take the editor's default (localhost, L3).
    const { broker: _b, sourceZone: _s, ...noBroker } = base;
    assert.throws(() => parseConduitConfig(noBroker as ConduitDef, {}, "/tmp/otb-user"), /^ConfigError: broker is required$/);
    assert.throws(() => parseConduitConfig({ ...noBroker, broker: "mqtts://dmz:8883" } as ConduitDef, {}, "/tmp/otb-user"), /^ConfigError: sourceZone is required$/);
    // A hand-written number and a one-filter-per-line allowlist, as the parser read them before.
    assert.equal(old({ protocolVersion: 5 }).protocolVersion, 5);
    assert.equal(old({ protocolVersion: 4, targetZone: "DMZ" }).protocolVersion, 4);
    assert.deepEqual(old({ allowTopics: "acme/#\r\n a/+/b \n" }).allowTopics, ["acme/#", "a/+/b"]);
    assert.throws(() => old({ allowTopics: "acme/#\na/#/b" }), /allowTopics entry "a\/#\/b" is not a valid MQTT topic filter/);
  });

  it("keeps the queue in userDir: its own folder by default, a relative folder from there, none without userDir", () => {
    assert.equal(parse({}).queue.dir, "/tmp/otb-user/otbridge-queue/c1");
    assert.equal(parse({ queueDir: "queues/dmz" }).queue.dir, "/tmp/otb-user/queues/dmz");
    assert.equal(parse({ queueDir: "/var/lib/otb/q" }).queue.dir, "/var/lib/otb/q");
    const noUserDir = (d: Partial<ConduitDef>) => parseConduitConfig({ ...base, ...d }, {}, null);
    assert.throws(() => noUserDir({}), /^ConfigError: Node-RED has no userDir, so the conduit's queue has nowhere durable to live/);
    assert.equal(noUserDir({ queueDir: "/var/lib/otb/q" }).queue.dir, "/var/lib/otb/q");
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
