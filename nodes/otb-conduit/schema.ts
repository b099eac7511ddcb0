/**
 * otb-conduit's configuration: the one definition editor, runtime and lint read (issue 16).
 * Left to the runtime parser (conduit-config.ts): the rules into L4/L5 that weigh the brokers'
 * schemes, server verification and protocol together (also lint's contract rules), and what needs
 * a file (PEM) or the environment (a ${VAR} inside the broker list).
 *
 * Zones and the payload mode are text fields checked against their `values`, not enums: a zone
 * is right or wrong only beside the other zone, and Sparkplug mode needs its ids, so the field's
 * own check decides and the editor's select still lists the values.
 */
import { defineSchema, field, type FieldCheck, type Migration } from "../shared/schema";
import { ZONES } from "../shared/zones";
import { KIND_TABLE } from "./kinds";

/** One member of the field's `values` (a zone, a mode). */
const oneOf: FieldCheck = (value, _node, spec) => {
  const values = (spec.values ?? []) as readonly string[];
  const v = String(value).trim();
  return values.includes(v) ? null : `"${v}" is not one of ${values.join(", ")}`;
};

/** A conduit goes up only (DESIGN.md "Zones and conduits"): the target above the source. */
const targetZone: FieldCheck = (value, node, spec) => {
  const zones = (spec.values ?? []) as readonly string[];
  const to = String(value).trim();
  if (!zones.includes(to)) return `"${to}" is not one of ${zones.join(", ")}`;
  const from = String(node.sourceZone ?? "").trim();
  return zones.includes(from) && zones.indexOf(to) <= zones.indexOf(from) ? `${to} must be higher than the source zone ${from}: a conduit goes up only` : null;
};

/**
 * One broker URL, or several (the members of a cluster), one per line or comma-separated; an
 * entry that is exactly one ${VAR} is resolved at deploy (conduit-config.ts brokerList).
 */
const brokers: FieldCheck = (value) => {
  const list = String(value).split(/[\r\n,]+/).map((u) => u.trim()).filter((u) => u.length > 0);
  if (list.length === 0) return "has no URL: give one (mqtts://host:8883), or several, one per line";
  for (let i = 0; i < list.length; i++) {
    const u = list[i] as string;
    if (/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(u)) continue;
    // scheme://[user@]host[:port][/path]; a pattern, not URL: the editor's copy runs where URL may not exist.
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^\s/?#@]*@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.~%-]+)(:\d{1,5})?([/?#]\S*)?$/.exec(u);
    if (!m) return `"${u}" is not a URL (mqtt://, mqtts://, ws:// or wss://)`;
    const scheme = (m[1] as string).toLowerCase();
    if (!["mqtt", "mqtts", "ws", "wss"].includes(scheme)) return `"${u}": scheme ${scheme}: is not one of mqtt, mqtts, ws, wss`;
    if (list.indexOf(u) !== i) return `${u} is listed twice`;
  }
  return null;
};

/** MQTT topic filters the conduit lets through: at least one; `+` a whole level, `#` the whole last level, no `$` topic. */
const allowList: FieldCheck = (value) => {
  const parsed: unknown = typeof value === "string" ? JSON.parse(value) : value;
  if (!Array.isArray(parsed)) return "must be a list of MQTT topic filters";
  const list = parsed.map((f) => String(f).trim()).filter((f) => f.length > 0);
  if (list.length === 0) return "is empty: nothing could be published";
  for (const f of list) {
    if (/^\$\{[^}]+\}$/.test(f)) continue;
    if (f.startsWith("$")) return `entry "${f}" targets a $ system topic`;
    const levels = f.split("/");
    const ok = !f.includes("\u0000") && levels.every((l, i) => (l === "#" && i === levels.length - 1) || l === "+" || (!l.includes("+") && !l.includes("#")));
    if (!ok) return `entry "${f}" is not a valid MQTT topic filter`;
  }
  return null;
};

/** A Sparkplug group or edge node id: needed in Sparkplug mode, free of / + # (Sparkplug B 3.0 §4.1.1). */
const sparkplugId: FieldCheck = (value, node) => {
  if (node.mode !== "sparkplug") return null;
  const id = String(value ?? "").trim();
  return /^[^/+#]+$/.test(id) ? null : `"${id}" must be non-empty and free of / + # in Sparkplug mode`;
};

const primaryHost: FieldCheck = (value) => (/^[^/+#]+$/.test(String(value).trim()) ? null : `"${String(value).trim()}" must be free of / + #`);

/**
 * Version 2 (issue 16): what the parser used to decide from a field's absence or its type is
 * written into the saved node, so the schema's plain checks and defaults give the same result.
 * Each step only fills what is absent or converts what has the old type: applying it twice
 * changes nothing.
 */
const migrations: Migration[] = [
  {
    to: 2,
    describe: "kinds added after conduits were first saved (alarms, kpi) follow allowEvents when absent, so an old flow does not widen what leaves the plant",
    up(def) {
      for (const k of KIND_TABLE) if (k.absentFollows && !(k.flag in def) && k.absentFollows in def) def[k.flag] = def[k.absentFollows];
      return def;
    },
  },
  {
    to: 2,
    describe: "a conduit saved without a broker or a zone was refused; it must not now take the editor's default (localhost, L3 -> DMZ)",
    up(def) {
      for (const f of ["broker", "sourceZone", "targetZone"]) if (!(f in def)) def[f] = "";
      return def;
    },
  },
  {
    to: 2,
    describe: "protocolVersion written as a number (a hand-written flow) becomes the string the editor saves; allowTopics as text, one filter per line, becomes a list",
    up(def) {
      if (typeof def.protocolVersion === "number") def.protocolVersion = String(def.protocolVersion);
      if (typeof def.allowTopics === "string" && !/^\s*($|\[|\{)/.test(def.allowTopics)) {
        def.allowTopics = def.allowTopics.split(/\r?\n/).map((t) => t.trim()).filter((t) => t.length > 0);
      }
      return def;
    },
  },
];

/** A number the runtime bounds (as it always has): out of range is taken as the bound, not refused. */
const bounded = (value: number): ReturnType<typeof field.number> => field.number(value);

export const schema = defineSchema({
  type: "otb-conduit",
  version: 2,
  fields: {
    name: field.text(),
    broker: field.text({
      default: "mqtts://localhost:8883",
      required: true,
      check: "brokers",
      samples: {
        valid: ["mqtt://a:1883\nmqtt://b:1883", "mqtts://a:8883, ${DMZ_B}", "wss://b.example:443/mqtt"],
        invalid: ["http://x", "not a url", "mqtts://a:8883\nmqtts://a:8883", " , ", "${not a var}\nmqtt://a:1883"],
      },
    }),
    protocolVersion: field.oneOf(["5", "4"] as const, "5"),
    /** Empty: otb-<node id>. */
    clientId: field.text(),
    /** Seconds, bounded 1..3600. */
    keepalive: bounded(15),
    /** Seconds, bounded 1..120. */
    connectTimeout: bounded(5),
    /** Seconds, bounded 0.5..600. */
    reconnectMax: bounded(5),
    caFile: field.text(),
    certFile: field.text(),
    keyFile: field.text(),
    verifyServer: field.boolean(true),
    servername: field.text(),
    sourceZone: field.text({ default: "L3", required: true, values: ZONES, check: "oneOf", samples: { valid: ["L0", "L2"], invalid: ["L3.5", "l3", "L9"] } }),
    targetZone: field.text({ default: "DMZ", required: true, values: ZONES, check: "targetZone", samples: { valid: ["L4", "L5"], invalid: ["L3", "L0", "dmz", "L3.5"] } }),
    allowTopics: field.json([], {
      json: "array",
      required: true,
      check: "allowList",
      samples: { valid: [["acme/#"], ["acme/+/+/line1/#", "${OTB_TOPICS}"], '["acme/#"]'], invalid: [[], ["a/#/b"], ["$SYS/#"], ["acme/pump+"]] },
    }),
    allowSignals: field.boolean(true),
    allowFeatures: field.boolean(true),
    allowInference: field.boolean(true),
    allowEvents: field.boolean(true),
    /** otb-infer's Alarm messages (issue 18). */
    allowAlarms: field.boolean(true),
    /** KPIs (OEE, SPC, energy, value). */
    allowKpi: field.boolean(true),
    /** Messages per second, 0: unlimited. */
    rateLimit: bounded(0),
    /** Bytes, bounded 64..256 MiB. */
    maxMessageBytes: bounded(256 * 1024),
    inflight: field.number(500, { min: 1, max: 1000 }),
    /**
     * After a lost link, re-send at most this many of the last acknowledged records (resend-window.ts);
     * 0: never (no duplicates, but what a broker that went down had acknowledged and lost stays lost).
     */
    resendRecords: field.number(2000, { min: 0, max: 100_000 }),
    /** Seconds before the loss within which an acknowledged record is re-sent. */
    resendSeconds: field.number(10, { min: 0, max: 3600 }),
    /** Empty: <userDir>/otbridge-queue/<node id>; a relative folder is taken from userDir. */
    queueDir: field.text(),
    /** MiB, bounded 1/16..1 TiB. */
    queueMaxMB: bounded(512),
    /** Milliseconds, bounded 1..1000. */
    commitMs: bounded(20),
    /** Seconds a queued record may wait; 0: no limit. */
    queueMaxAgeS: field.number(0, { min: 0 }),
    replayOrder: field.oneOf(["in-order", "live-first"] as const, "in-order"),
    fullPolicy: field.oneOf(["reject-new", "drop-oldest"] as const, "reject-new"),
    mode: field.text({ default: "plain", required: true, values: ["plain", "sparkplug"], check: "oneOf", samples: { valid: ["plain"], invalid: ["mqtt", "Sparkplug"] } }),
    spGroup: field.text({ check: "sparkplugId", checkBlank: true, samples: { valid: ["plant1"] } }),
    spEdgeNode: field.text({ check: "sparkplugId", checkBlank: true, samples: { valid: ["line1"] } }),
    spPrimaryHost: field.text({ check: "primaryHost", samples: { valid: ["scada-1"], invalid: ["a/b", "host#1"] } }),
  },
  credentials: { user: { type: "text" }, password: { type: "password" }, passphrase: { type: "password" } },
  checks: { oneOf, targetZone, brokers, allowList, sparkplugId, primaryHost },
  migrations,
});
