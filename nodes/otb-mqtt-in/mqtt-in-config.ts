/** Parsing of an otb-mqtt-in's editor config (strings from the form) into typed options. */
import { bool, ConfigError, num } from "../shared";
import type { NodeDef } from "../shared/red";
import type { JsonMappingRow } from "./json-decoder";

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

export interface OtbMqttInDef extends NodeDef {
  /**
   * The otb-mqtt-broker config node's id; in a flow saved before that node existed, the broker
   * URL itself, with clientId, protocolVersion, tls and the node's own credentials beside it
   * (read by ../otb-mqtt-broker/broker-config.ts legacyBrokerOptions).
   */
  broker: string;
  clientId?: string;
  protocolVersion?: string | number;
  tls?: string;
  topics: unknown;
  format?: string;
  mapping?: unknown;
  batchMs?: string | number;
  requestRebirth?: boolean | string;
}

export function isValidFilter(filter: string): boolean {
  if (!filter || filter.length > 65535 || filter.includes("\u0000")) return false;
  const levels = filter.split("/");
  return levels.every((l, i) => (l === "#" ? i === levels.length - 1 : l === "+" || !/[+#]/.test(l)));
}

export function parseMqttInConfig(def: Partial<OtbMqttInDef>): MqttInOptions {
  let topicsRaw = def.topics;
  if (typeof topicsRaw === "string") topicsRaw = topicsRaw.split(/[\n,]/).map((t) => ({ topic: t.trim() })).filter((t) => t.topic);
  if (!Array.isArray(topicsRaw) || topicsRaw.length === 0) throw new ConfigError("at least one topic to subscribe to is required");
  const subscriptions = (topicsRaw as Array<{ topic?: unknown; qos?: unknown }>).map((t, i) => {
    const topic = String(t?.topic ?? "").trim();
    if (!isValidFilter(topic)) throw new ConfigError(`topic ${i + 1} "${topic}" is not a valid MQTT topic filter`);
    const qos = num(t?.qos, 1, 0, 2);
    return { topic, qos: (qos === 0 ? 0 : qos === 2 ? 2 : 1) as 0 | 1 | 2 };
  });
  const format = String(def.format || "auto") as PayloadFormat;
  if (!["auto", "json", "sparkplug"].includes(format)) throw new ConfigError(`format "${format}" must be auto, json or sparkplug`);
  let mappingRaw = def.mapping ?? [];
  if (typeof mappingRaw === "string") {
    try {
      mappingRaw = mappingRaw.trim() ? JSON.parse(mappingRaw) : [];
    } catch (err) {
      throw new ConfigError(`mapping is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (!Array.isArray(mappingRaw)) throw new ConfigError("mapping must be a list of rows");
  const mapping = (mappingRaw as Array<Record<string, unknown>>).map((r, i) => {
    const field = String(r?.field ?? "").trim();
    if (!field) throw new ConfigError(`mapping row ${i + 1}: field is required`);
    const topic = String(r.topic ?? "").trim();
    if (topic && !isValidFilter(topic)) throw new ConfigError(`mapping row ${i + 1}: "${topic}" is not a valid topic filter`);
    const row: JsonMappingRow = { field };
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
  return {
    subscriptions,
    format,
    mapping,
    batchMs: num(def.batchMs, 0, 0, 60_000),
    maxBatch: 10_000,
    requestRebirth: bool(def.requestRebirth, false),
  };
}
