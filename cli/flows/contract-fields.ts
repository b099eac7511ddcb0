/**
 * Where the contract-level facts live inside otb node configs. The node forms were written in
 * parallel with this tool, so each fact is looked up under a short list of candidate field
 * names, first match wins. When a node's fields settle, this table is the one place to update;
 * config-node references are also discovered from the editor's `defaults` (`type: "otb-..."`).
 */
import type { Flow, FlowNode } from "./flow-file";
import { configRefs } from "./config-refs";

export const ZONES = ["L0", "L1", "L2", "L3", "DMZ", "L4", "L5"] as const;
export type Zone = (typeof ZONES)[number];

/** "l3", "L3", "L3.5" (the DMZ's Purdue number) -> canonical zone, or null. */
export function parseZone(value: unknown): Zone | null {
  const text = String(value ?? "").trim().toUpperCase();
  if (text === "L3.5" || text === "IDMZ") return "DMZ";
  return (ZONES as readonly string[]).includes(text) ? (text as Zone) : null;
}

export function zoneRank(zone: Zone): number {
  return ZONES.indexOf(zone);
}

/** Candidate field names per fact, most likely first. */
export const FIELD_CANDIDATES = {
  conduitBroker: ["broker", "brokerUrl", "url", "server"],
  conduitSourceZone: ["sourceZone", "fromZone", "zoneFrom", "source"],
  conduitTargetZone: ["targetZone", "toZone", "zoneTo", "target"],
  conduitProtocol: ["protocolVersion", "mqttVersion", "protocol"],
  conduitTls: ["tls", "useTls", "usetls"],
  conduitVerify: ["verifyServer", "verifyServerCert", "rejectUnauthorized", "verifyservercert", "tlsVerify", "verify"],
  conduitAllowlist: ["allowTopics", "allowlist", "topicAllowlist", "allowedTopics", "topics"],
  conduitKinds: ["kinds", "allowedKinds", "allow"],
  conduitMode: ["mode", "payloadFormat", "format"],
  publishTopic: ["template", "topic", "topicTemplate"],
  inferModel: ["modelPath", "model", "modelFile", "file", "path"],
  inferCard: ["cardPath", "card"],
  catalogFile: ["catalogFile", "mapFile", "tagFile", "tagsFile", "catalogPath"],
  catalogMode: ["rulesFrom", "mapSource", "tagSource", "tagsFrom"],
  inferSha256: ["sha256", "modelSha256", "pinnedSha256", "pin", "hash"],
} as const;

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
}

/** How a conduit protects what it carries. A tls-config reference (core) counts as TLS. */
export function conduitProtection(flow: Flow, node: FlowNode): Protection {
  const url = fact(node, "conduitBroker")?.[1];
  const urlText = typeof url === "string" ? url : null;
  const fromEnv = urlText !== null && WHOLE_ENV.test(urlText.trim());
  const scheme = urlText ? (/^([a-z]+):\/\//i.exec(urlText)?.[1] ?? "").toLowerCase() : "";
  const tlsField = fact(node, "conduitTls")?.[1];
  const tlsConfig = typeof tlsField === "string" ? flow.byId.get(tlsField) : undefined;
  const tlsSaid = scheme === "mqtts" || scheme === "wss" || scheme === "ssl" || scheme === "tls" || truthy(tlsField) || tlsConfig?.type === "tls-config";
  const tls = tlsSaid ? true : fromEnv ? null : false;
  const verifyField = fact(node, "conduitVerify") ?? (tlsConfig ? fact(tlsConfig, "conduitVerify") : null);
  const verifySaid = verifyField ? truthy(verifyField[1]) : true;
  const verify = tls === false ? false : tls === null ? (verifySaid ? null : false) : verifySaid;
  const protocol = conduitProtocol(node);
  const parts = [
    ...(fromEnv ? [] : [scheme || "unknown scheme"]),
    tls === true ? (verify ? "TLS, server verified" : "TLS, server NOT verified") : tls === null ? `TLS decided by ${urlText}${verifySaid ? " (server verification on)" : ", server NOT verified"}` : "no TLS",
    protocol === null ? `MQTT version from ${String(fact(node, "conduitProtocol")?.[1])}` : `MQTT ${protocol === 4 ? "3.1.1" : protocol}`,
  ];
  return { url: urlText, tls, verify, protocol, summary: parts.join(", ") };
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
