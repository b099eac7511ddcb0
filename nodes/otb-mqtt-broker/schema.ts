/** otb-mqtt-broker's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type ConfigOf, type FieldCheck } from "../shared/schema";

/** The URL schemes mqtt.js connects with; also what isLegacyBrokerValue (broker-config.ts) recognises. */
export const BROKER_URL = "^\\s*(mqtts?|wss?|tcp|ssl)://\\S+\\s*$";

/**
 * What an otb-mqtt-in saved before otb-mqtt-broker holds in its `broker` field: the URL itself, or
 * a whole ${VAR} naming it (Node-RED substitutes that at start; lint and the editor see the name).
 */
export const LEGACY_BROKER_VALUE = "^\\s*((mqtts?|wss?|tcp|ssl)://\\S+|\\$\\{[A-Za-z_][A-Za-z0-9_]*\\})\\s*$";

/** protocolVersion is the form's select: "4" (MQTT 3.1.1) or "5"; a flow may hold the number. */
const member: FieldCheck = (value, _node, spec) => {
  const values = (spec.values ?? []) as readonly string[];
  return values.includes(String(value).trim()) ? null : `"${String(value)}" is not one of ${values.join(", ")}`;
};

const int = (defaultValue: number, min: number, max: number): ReturnType<typeof field.number> => field.number(defaultValue, { integer: true, min, max });

export const schema = defineSchema({
  type: "otb-mqtt-broker",
  version: 1,
  fields: {
    name: field.text(),
    broker: field.text({
      default: "mqtt://127.0.0.1:1883",
      required: true,
      pattern: BROKER_URL,
      patternMessage: "must be a URL such as mqtt://127.0.0.1:1883 or mqtts://broker:8883",
      samples: { valid: ["mqtts://broker.plant.local:8883", "ws://127.0.0.1:9001/mqtt"], invalid: ["127.0.0.1:1883", "http://broker", "mqtt://"] },
    }),
    /** Blank: one is generated per config node. MQTT 3.1.1 §1.5.3: a UTF-8 string of at most 65535 bytes. */
    clientId: field.text({ pattern: "^[\\s\\S]{0,65535}$", patternMessage: "is longer than 65535 characters" }),
    protocolVersion: field.text({ default: "4", values: ["4", "5"], check: "member", samples: { valid: ["5", 5], invalid: ["3", "mqtt5"] } }),
    /** Seconds. */
    keepalive: int(30, 1, 3600),
    /** Clean session (3.1.1) / clean start with session expiry 0 (5). */
    cleanSession: field.boolean(true),
    /** Seconds. */
    connectTimeout: int(10, 1, 120),
    /** Seconds: the reconnect delay doubles from 1 s up to this. */
    reconnectMax: int(30, 1, 600),
    tls: field.ref("tls-config"),
  },
  credentials: { username: { type: "text" }, password: { type: "password" } },
  checks: { member },
});

export type BrokerFields = ConfigOf<typeof schema>;
