/** An otb-mqtt-in's checked configuration (schema.ts) as typed options; lint runs the same. */
import { num } from "../shared/node-kit";
import { readConfig } from "../shared/schema";
import type { JsonMappingRow } from "./json-decoder";
import { schema, type MqttInFields } from "./schema";

export type PayloadFormat = "auto" | "json" | "sparkplug";

export interface MqttInOptions {
  subscriptions: Array<{ topic: string; qos: 0 | 1 | 2 }>;
  format: PayloadFormat;
  mapping: JsonMappingRow[];
  /** 0 = one Signal[] per MQTT message, or per burst that arrives in one socket read; otherwise values are batched for this many ms. */
  batchMs: number;
  maxBatch: number;
  /** Ask an edge node for a BIRTH (NCMD Node Control/Rebirth) when its DATA comes first. Off by default: this node only listens unless told otherwise. */
  requestRebirth: boolean;
}

/** The options of a saved node (as the runtime and `otbridge lint` read it), or a ConfigError naming the field. */
export function parseMqttInConfig(def: Record<string, unknown>): MqttInOptions {
  return mqttInFromConfig(readConfig(schema, def));
}

export function mqttInFromConfig(c: MqttInFields): MqttInOptions {
  // schema.ts checked the filters and rows; a QoS outside 0..2 is brought into range, as it always was.
  const subscriptions = (c.topics as Array<{ topic?: unknown; qos?: unknown }>).map((t) => {
    const qos = num(t?.qos, 1, 0, 2);
    return { topic: String(t?.topic ?? "").trim(), qos: (qos === 0 ? 0 : qos === 2 ? 2 : 1) as 0 | 1 | 2 };
  });
  const mapping = (c.mapping as Array<Record<string, unknown>>).map((r) => {
    const row: JsonMappingRow = { field: String(r.field).trim() };
    const topic = String(r.topic ?? "").trim();
    if (topic) row.topic = topic;
    if (r.tag) row.tag = String(r.tag).trim();
    if (r.unit) row.unit = String(r.unit);
    if (r.tsField) row.tsField = String(r.tsField).trim();
    const scale = num(r.scale, 1);
    const offset = num(r.offset, 0);
    if (scale !== 1) row.scale = scale;
    if (offset !== 0) row.offset = offset;
    return row;
  });
  return { subscriptions, format: c.format, mapping, batchMs: c.batchMs, maxBatch: 10_000, requestRebirth: c.requestRebirth };
}
