/** otb-mqtt-in's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type ConfigOf, type FieldCheck } from "../shared/schema";
import { LEGACY_BROKER_VALUE } from "../otb-mqtt-broker/schema";

/**
 * The subscriptions: [{topic, qos}], at least one. MQTT 3.1.1 §4.7.1: `+` a whole level, `#`
 * the whole last level. `$` topics are allowed (a node may read a broker's $SYS statistics).
 */
const topics: FieldCheck = (value) => {
  let list: unknown = value ?? [];
  if (typeof value === "string") list = value.trim() ? JSON.parse(value) : [];
  if (!Array.isArray(list) || list.length === 0) return "needs at least one topic to subscribe to";
  for (let i = 0; i < list.length; i++) {
    const f = String((list[i] ?? {}).topic ?? "").trim();
    const levels = f.split("/");
    const ok = f !== "" && f.length <= 65535 && !f.includes("\u0000") && levels.every((l, j) => (l === "#" ? j === levels.length - 1 : l === "+" || !/[+#]/.test(l)));
    if (!ok) return `row ${i + 1}: "${f}" is not a valid MQTT topic filter`;
  }
  return null;
};

/** JSON mapping rows: a field path each; a topic filter, when given, must be valid (json-decoder.ts reads the rest). */
const mapping: FieldCheck = (value) => {
  let list: unknown = value;
  if (typeof value === "string") list = JSON.parse(value);
  if (!Array.isArray(list)) return "must be a list of rows";
  for (let i = 0; i < list.length; i++) {
    const row = (list[i] ?? {}) as { field?: unknown; topic?: unknown };
    if (!String(row.field ?? "").trim()) return `row ${i + 1}: field is required`;
    const f = String(row.topic ?? "").trim();
    const levels = f.split("/");
    if (f && (f.includes("\u0000") || !levels.every((l, j) => (l === "#" ? j === levels.length - 1 : l === "+" || !/[+#]/.test(l))))) {
      return `row ${i + 1}: "${f}" is not a valid topic filter`;
    }
  }
  return null;
};

export const schema = defineSchema({
  type: "otb-mqtt-in",
  version: 2,
  fields: {
    name: field.text(),
    /** An otb-mqtt-broker; a flow saved before that node holds the broker URL itself (see legacyValue). */
    broker: field.ref("otb-mqtt-broker", {
      required: true,
      legacyValue: LEGACY_BROKER_VALUE,
      // Legacy values (the node's own URL) and values that are config node ids (none deployed).
      samples: { valid: ["mqtt://broker:1883", " mqtts://broker.example:8883 ", "ws://b/mqtt", "tcp://10.0.0.5:1883", "${MQTT_URL}"], invalid: ["broker:1883", "http://broker", "mqtt://", "a1b2c3d4e5f60718"] },
    }),
    // Read only when `broker` holds a URL (a flow saved before otb-mqtt-broker): that node's own
    // connection, as it always read them (broker-config.ts legacyBrokerOptions).
    clientId: field.text(),
    protocolVersion: field.text({ default: "4" }),
    tls: field.ref("tls-config"),
    topics: field.json([{ topic: "sensors/#", qos: 1 }], {
      json: "array",
      required: true,
      check: "topics",
      samples: { valid: [[{ topic: "spBv1.0/plant/#", qos: 0 }], '[{"topic":"sensors/+/telemetry","qos":1}]'], invalid: [[{ topic: "a/#/b", qos: 1 }], [], [{ topic: "" }]] },
    }),
    format: field.oneOf(["auto", "json", "sparkplug"] as const, "auto"),
    mapping: field.json([], {
      json: "array",
      check: "mapping",
      samples: { valid: [[{ field: "temp", topic: "sensors/+/telemetry", tag: "{1}.temperature", unit: "°C" }]], invalid: [[{ field: "" }], [{ field: "v", topic: "a/#/b" }]] },
    }),
    /** ms; 0 = one Signal[] per MQTT message, or per burst that arrives in one socket read. */
    batchMs: field.number(0, { min: 0, max: 60_000 }),
    requestRebirth: field.boolean(false),
  },
  credentials: { username: { type: "text" }, password: { type: "password" } },
  checks: { topics, mapping },
  migrations: [
    {
      to: 2,
      // The form always saved a list; hand-written flows may hold text (tag-sources.ts reads it too).
      describe: "topics given as text (filters one per line or comma-separated, QoS 1), as the runtime always read them, become the form's list",
      up(def) {
        const raw = def.topics;
        // JSON text (a list, or not JSON at all: "{...") and a whole ${VAR} stay for the field check.
        if (typeof raw !== "string" || raw.trim() === "" || /^\s*(\[|\{|\$\{)/.test(raw)) return def;
        return { ...def, topics: raw.split(/[\n,]/).map((t) => t.trim()).filter(Boolean).map((topic) => ({ topic, qos: 1 })) };
      },
    },
  ],
});

export type MqttInFields = ConfigOf<typeof schema>;
