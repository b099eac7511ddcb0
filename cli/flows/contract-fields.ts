/**
 * Where the contract-level facts live inside otb node configs: the exact field names the nodes'
 * schemas and forms save (a fact may live in different fields of different node types, e.g. a
 * catalog file). Config-node references come from the schemas' `ref` fields (config-refs.ts).
 */
import type { Flow, FlowNode } from "./flow-file";
import { configRefs } from "./config-refs";

import { ZONES, type Zone } from "../../nodes/shared/zones";

export { ZONES, type Zone };

/** A zone exactly as the conduit's runtime accepts it (no "L3.5" or lower case: the runtime refuses those), or null. */
export function parseZone(value: unknown): Zone | null {
  const text = String(value ?? "").trim();
  return (ZONES as readonly string[]).includes(text) ? (text as Zone) : null;
}

export function zoneRank(zone: Zone): number {
  return ZONES.indexOf(zone);
}

/**
 * The field(s) holding each fact. Two entries only where two node types name the same fact
 * differently (otb-validate catalogFile, otb-modbus-in mapFile, otb-opcua-in catalogPath).
 * TLS has no field of its own: the broker URL's scheme (mqtts, wss) and the CA/cert files say it.
 */
export const FIELD_CANDIDATES = {
  conduitBroker: ["broker"],
  conduitSourceZone: ["sourceZone"],
  conduitTargetZone: ["targetZone"],
  conduitProtocol: ["protocolVersion"],
  conduitTls: [],
  conduitVerify: ["verifyServer"],
  conduitAllowlist: ["allowTopics"],
  conduitKinds: [],
  conduitMode: ["mode"],
  publishTopic: ["template"],
  inferModel: ["modelPath"],
  inferCard: ["cardPath"],
  catalogFile: ["catalogFile", "mapFile", "catalogPath"],
  catalogMode: ["rulesFrom", "mapSource"],
  inferSha256: ["sha256"],
} as const satisfies Record<string, readonly string[]>;

export type Fact = keyof typeof FIELD_CANDIDATES;

/** The first candidate field that is present and not blank: [field, value] or null. */
export function fact(node: FlowNode, name: Fact): [string, unknown] | null {
  for (const field of FIELD_CANDIDATES[name]) {
    const v = node[field];
    if (v !== undefined && v !== null && v !== "") return [field, v];
  }
  return null;
}

/** The config nodes of `configType` this node refers to (missing ids are left out). */
export function referenced(flow: Flow, node: FlowNode, configType: string): FlowNode[] {
  const out: FlowNode[] = [];
  for (const { field } of configRefs(node).filter((r) => r.type === configType)) {
    const target = typeof node[field] === "string" ? flow.byId.get(node[field] as string) : undefined;
    if (target && target.type === configType) out.push(target);
  }
  return out;
}

const WHOLE_ENV = /^\$\{[^}]+\}$/;

/** MQTT protocol version of a conduit: 5 unless it says otherwise (DESIGN.md: MQTT 5 by default); null when a ${VAR} decides. */
export function conduitProtocol(node: FlowNode): number | null {
  const f = fact(node, "conduitProtocol");
  if (!f) return 5;
  const text = String(f[1]).trim();
  if (WHOLE_ENV.test(text)) return null;
  if (text === "3.1.1" || text === "4") return 4;
  const m = /^v?(\d)(?:\.\d)*$/i.exec(text);
  return m ? Number(m[1]) : NaN;
}

export interface Protection {
  url: string | null;
  /** null: a ${VAR} broker URL decides at deploy time. */
  tls: boolean | null;
  verify: boolean | null;
  protocol: number | null;
  /** Human summary used by inventory and review: "mqtts, TLS, server verified, MQTT 5". */
  summary: string;
  /** Members without TLS (named in lint's message). */
  plain: string[];
  /** "mqtts://a:8883", or "2 brokers". */
  shown: string;
}

/** The entries of a conduit's broker field: one URL per line or comma-separated (conduit-config.ts brokerList). */
export function brokerEntries(value: unknown): string[] {
  return typeof value === "string" ? value.split(/[\r\n,]+/).map((u) => u.trim()).filter((u) => u.length > 0) : [];
}

const SECURE_SCHEMES = new Set(["mqtts", "wss", "ssl", "tls"]);

/**
 * How a conduit protects what it carries. With several brokers (a cluster, or active and
 * standby), TLS holds only when every member is mqtts/wss; one plaintext member is no TLS, and a
 * ${VAR} member (or a whole-field ${VAR}, which may hold a list) leaves it to the runtime.
 */
export function conduitProtection(flow: Flow, node: FlowNode): Protection {
  const url = fact(node, "conduitBroker")?.[1];
  const urlText = typeof url === "string" ? url.trim() : null;
  const entries = brokerEntries(urlText);
  const scheme = (u: string): string => (/^([a-z]+):\/\//i.exec(u)?.[1] ?? "").toLowerCase();
  const fromEnv = entries.filter((u) => WHOLE_ENV.test(u));
  const plain = entries.filter((u) => !WHOLE_ENV.test(u) && !SECURE_SCHEMES.has(scheme(u)));
  const tlsField = fact(node, "conduitTls")?.[1];
  const tlsConfig = typeof tlsField === "string" ? flow.byId.get(tlsField) : undefined;
  const tls = entries.length === 0 ? false : plain.length > 0 ? false : fromEnv.length > 0 ? null : true;
  const verifyField = fact(node, "conduitVerify") ?? (tlsConfig ? fact(tlsConfig, "conduitVerify") : null);
  const verifySaid = verifyField ? truthy(verifyField[1]) : true;
  const verify = tls === false ? false : tls === null ? (verifySaid ? null : false) : verifySaid;
  const protocol = conduitProtocol(node);
  const shown = entries.length > 1 ? `${entries.length} brokers` : (entries[0] ?? "no broker");
  const parts = [
    ...(fromEnv.length === entries.length ? [] : [entries.length > 1 ? [...new Set(entries.filter((u) => !WHOLE_ENV.test(u)).map(scheme))].join("+") : scheme(entries[0] ?? "") || "unknown scheme"]),
    tls === true
      ? verify ? "TLS, server verified" : "TLS, server NOT verified"
      : tls === null
        ? `TLS decided by ${fromEnv.join(", ")}${verifySaid ? " (server verification on)" : ", server NOT verified"}`
        : plain.length > 0 && entries.length > 1 ? `no TLS on ${plain.join(", ")}` : "no TLS",
    protocol === null ? `MQTT version from ${String(fact(node, "conduitProtocol")?.[1])}` : `MQTT ${protocol === 4 ? "3.1.1" : protocol}`,
  ];
  return { url: urlText === null ? null : entries.length > 1 ? entries.join(", ") : urlText, tls, verify, protocol, summary: parts.join(", "), plain, shown };
}

/** Editor values arrive as strings: "false", "0" and "" are false. */
export function truthy(v: unknown): boolean {
  if (typeof v === "string") return !["", "false", "0", "no", "off"].includes(v.trim().toLowerCase());
  return Boolean(v);
}

/** Message kinds a conduit's policy lets through: allowSignals/allowFeatures/... flags (default on), or a list. */
export function conduitKinds(node: FlowNode): string[] {
  const flags: Array<[string, string]> = [["allowSignals", "signals"], ["allowFeatures", "features"], ["allowInference", "inference"], ["allowEvents", "events"], ["allowAlarms", "alarms"], ["allowKpi", "kpi"]];
  // allowAlarms / allowKpi absent: a conduit saved before that kind existed, which follows allowEvents (as the runtime does).
  const on = (f: string): boolean => (f in node ? truthy(node[f]) : f === "allowAlarms" || f === "allowKpi" ? ("allowEvents" in node ? truthy(node.allowEvents) : true) : true);
  if (flags.some(([f]) => f in node)) return flags.filter(([f]) => on(f)).map(([, k]) => k);
  const listed = fact(node, "conduitKinds")?.[1];
  return Array.isArray(listed) ? listed.map(String) : typeof listed === "string" ? listed.split(/[\s,]+/).filter(Boolean) : [];
}

/** The topic an otb-publish uses: its template in template mode, else the UNS path from the message context. */
export function publishTopic(node: FlowNode): string {
  const uns = "UNS topic from the message context";
  if (node.topicMode !== undefined && node.topicMode !== "template") return uns;
  const t = fact(node, "publishTopic")?.[1];
  return typeof t === "string" && t.trim() ? t : uns;
}
