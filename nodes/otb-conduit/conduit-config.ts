/**
 * otb-conduit's configuration: the editor's strings coerced and checked, and the zone rules of
 * DESIGN.md "Zones and conduits" enforced before anything connects. A conduit into L4 or L5
 * without TLS, with server verification off, or on MQTT 3.1.1 is refused at deploy (on 3.1.1 a
 * broker acknowledges publishes its ACL silently drops, so nothing could be trusted as delivered).
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError, bool, num, type MessageKind } from "../shared";
import type { FullPolicy, ReplayOrder } from "./queue/durable-queue";
import { isValidFilter } from "./topic-policy";

import { ZONES, type Zone } from "../shared/zones";
export { ZONES, type Zone };
export type MessageKindName = MessageKind;
/**
 * The message kinds a conduit can carry: one row each, with the byte stored in queue records
 * (never reuse or renumber a code: queued records outlive a software update) and the editor
 * flag that allows it. An absent flag is on, except for kinds added after conduits were first
 * saved (alarms, kpi): absent, they follow `allowEvents`, so an old flow does not silently widen
 * what leaves the plant. A new kind is one row here, one checkbox in otb-conduit.html.
 */
export const KIND_TABLE: ReadonlyArray<{ name: MessageKindName; code: number; flag: keyof ConduitDef; absentFollows?: keyof ConduitDef }> = [
  { name: "signals", code: 0, flag: "allowSignals" },
  { name: "features", code: 1, flag: "allowFeatures" },
  { name: "inference", code: 2, flag: "allowInference" },
  { name: "events", code: 3, flag: "allowEvents" },
  { name: "alarms", code: 4, flag: "allowAlarms", absentFollows: "allowEvents" },
  { name: "kpi", code: 5, flag: "allowKpi", absentFollows: "allowEvents" },
];
export const MESSAGE_KINDS: readonly MessageKindName[] = KIND_TABLE.map((k) => k.name);
/** Record kind codes stored in the queue (one byte per record). */
export const KIND_CODES = Object.fromEntries(KIND_TABLE.map((k) => [k.name, k.code])) as Record<MessageKindName, number>;

export interface ConduitDef {
  id: string;
  name?: string;
  broker?: string;
  protocolVersion?: string | number;
  clientId?: string;
  keepalive?: string | number;
  connectTimeout?: string | number;
  reconnectMax?: string | number;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  verifyServer?: string | boolean;
  servername?: string;
  sourceZone?: string;
  targetZone?: string;
  allowTopics?: string[] | string;
  allowSignals?: string | boolean;
  allowFeatures?: string | boolean;
  allowInference?: string | boolean;
  allowEvents?: string | boolean;
  /** otb-infer's Alarm messages (issue 18). Absent (a conduit saved before alarms existed): as allowEvents. */
  allowAlarms?: string | boolean;
  /** KPIs (OEE, SPC, energy, value); absent (a conduit saved before the kind existed), it follows allowEvents. */
  allowKpi?: string | boolean;
  rateLimit?: string | number;
  maxMessageBytes?: string | number;
  inflight?: string | number;
  queueDir?: string;
  queueMaxMB?: string | number;
  commitMs?: string | number;
  replayOrder?: string;
  fullPolicy?: string;
  /** Max age of a queued record, in seconds (0 or empty: no limit); older ones are expired, never published. */
  queueMaxAgeS?: string | number;
  mode?: string;
  spGroup?: string;
  spEdgeNode?: string;
  spPrimaryHost?: string;
}

export interface ConduitCredentials {
  user?: string;
  password?: string;
  passphrase?: string;
}

export interface ConduitConfig {
  id: string;
  name: string;
  /** The first broker: the only one for a conduit that names one (every flow saved before lists). */
  url: string;
  /**
   * Every broker the conduit may use, in the order given (the members of a cluster such as EMQX
   * or HiveMQ, or an active/standby pair); mqtt-link.ts moves round robin to the next on a loss.
   */
  urls: string[];
  protocolVersion: 4 | 5;
  clientId: string;
  keepaliveS: number;
  connectTimeoutMs: number;
  reconnectMaxMs: number;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; passphrase?: string; verify: boolean; servername?: string } | null;
  username?: string;
  password?: string;
  sourceZone: Zone;
  targetZone: Zone;
  allowTopics: string[];
  kinds: Set<MessageKindName>;
  rateLimit: number;
  maxMessageBytes: number;
  inflight: number;
  queue: { dir: string; maxBytes: number; commitIntervalMs: number; replayOrder: ReplayOrder; fullPolicy: FullPolicy; maxAgeMs: number };
  sparkplug: { group: string; edgeNode: string; primaryHost: string } | null;
}

const SCHEMES = new Set(["mqtt:", "mqtts:", "ws:", "wss:"]);

export function parseConduitConfig(def: ConduitDef, creds: ConduitCredentials, userDir: string, env: NodeJS.ProcessEnv = process.env): ConduitConfig {
  const urls = brokerList(def.broker, env);
  const parsedUrls = urls.map(checkUrl);
  const parsed = parsedUrls[0]!;
  const secureOf = (u: URL): boolean => u.protocol === "mqtts:" || u.protocol === "wss:";
  const secure = parsedUrls.some(secureOf);
  const protocolVersion = String(def.protocolVersion ?? "5") === "4" ? 4 : 5;
  const sourceZone = zone(def.sourceZone, "source zone");
  const targetZone = zone(def.targetZone, "target zone");
  if (ZONES.indexOf(targetZone) <= ZONES.indexOf(sourceZone)) {
    throw new ConfigError(`a conduit goes up only: target zone ${targetZone} must be higher than source zone ${sourceZone}`);
  }
  const verify = bool(def.verifyServer, true);
  if (targetZone === "L4" || targetZone === "L5") {
    // Every member: a failover must never downgrade the link to plaintext.
    const plain = parsedUrls.find((u) => !secureOf(u));
    if (plain) throw new ConfigError(`into ${targetZone} a conduit needs TLS (mqtts:// or wss://), not ${plain.protocol}//${urls.length > 1 ? ` (broker ${plain.href.replace(/\/$/, "")})` : ""}`);
    if (!verify) throw new ConfigError(`into ${targetZone} the server certificate must be verified`);
    if (protocolVersion !== 5) throw new ConfigError(`into ${targetZone} a conduit needs MQTT 5 (reason codes), not 3.1.1`);
  }
  const allowTopics = (Array.isArray(def.allowTopics) ? def.allowTopics : String(def.allowTopics ?? "").split(/\r?\n/))
    .map((t) => String(t).trim()).filter((t) => t.length > 0);
  if (allowTopics.length === 0) throw new ConfigError("the topic allowlist is empty: nothing could be published");
  const badFilter = allowTopics.find((t) => !isValidFilter(t));
  if (badFilter !== undefined) throw new ConfigError(`allowlist entry "${badFilter}" is not a valid MQTT topic filter`);
  const allowed = (k: (typeof KIND_TABLE)[number]): boolean => bool(def[k.flag], k.absentFollows ? bool(def[k.absentFollows], true) : true);
  const kinds = new Set<MessageKindName>(KIND_TABLE.filter(allowed).map((k) => k.name));
  if (kinds.size === 0) throw new ConfigError("no message kind is allowed: nothing could be published");

  const mode = def.mode === "sparkplug" ? "sparkplug" : "plain";
  let sparkplug: ConduitConfig["sparkplug"] = null;
  if (mode === "sparkplug") {
    const group = (def.spGroup ?? "").trim();
    const edgeNode = (def.spEdgeNode ?? "").trim();
    for (const [what, id] of [["group id", group], ["edge node id", edgeNode]]) {
      if (!/^[^/+#]+$/.test(id)) throw new ConfigError(`Sparkplug ${what} "${id}" must be non-empty and free of / + #`);
    }
    const primaryHost = (def.spPrimaryHost ?? "").trim();
    if (primaryHost && !/^[^/+#]+$/.test(primaryHost)) throw new ConfigError(`Sparkplug primary host id "${primaryHost}" is invalid`);
    sparkplug = { group, edgeNode, primaryHost };
  }

  const tlsFiles = { ca: def.caFile, cert: def.certFile, key: def.keyFile };
  if (Boolean(tlsFiles.cert?.trim()) !== Boolean(tlsFiles.key?.trim())) {
    throw new ConfigError("mutual TLS needs both a client certificate and its key");
  }
  const tls = secure
    ? {
        ca: readPem(tlsFiles.ca, "CA certificate"),
        cert: readPem(tlsFiles.cert, "client certificate"),
        key: readPem(tlsFiles.key, "client key"),
        passphrase: creds.passphrase || undefined,
        verify,
        servername: def.servername?.trim() || undefined,
      }
    : null;

  return {
    id: def.id,
    name: def.name || parsed.host,
    url: urls[0]!,
    urls,
    protocolVersion,
    clientId: (def.clientId ?? "").trim() || `otb-${def.id.replace(/[^A-Za-z0-9]/g, "").slice(0, 16)}`,
    keepaliveS: num(def.keepalive, 15, 1, 3600),
    connectTimeoutMs: num(def.connectTimeout, 5, 1, 120) * 1000,
    reconnectMaxMs: num(def.reconnectMax, 5, 0.5, 600) * 1000,
    tls,
    username: creds.user || undefined,
    password: creds.password || undefined,
    sourceZone,
    targetZone,
    allowTopics,
    kinds,
    rateLimit: num(def.rateLimit, 0, 0),
    maxMessageBytes: num(def.maxMessageBytes, 256 * 1024, 64, 256 * 1024 * 1024),
    inflight: num(def.inflight, 500, 1, 1000),
    queue: {
      dir: (def.queueDir ?? "").trim() || path.join(userDir, "otbridge-queue", def.id),
      maxBytes: num(def.queueMaxMB, 512, 0.0625, 1024 * 1024) * 1024 * 1024,
      commitIntervalMs: num(def.commitMs, 20, 1, 1000),
      replayOrder: def.replayOrder === "live-first" ? "live-first" : "in-order",
      fullPolicy: def.fullPolicy === "drop-oldest" ? "drop-oldest" : "reject-new",
      maxAgeMs: num(def.queueMaxAgeS, 0, 0) * 1000,
    },
    sparkplug,
  };
}

/**
 * The broker field: one URL (every flow saved before lists), or several, one per line or
 * separated by commas. Node-RED substitutes a field that is exactly one ${VAR} before the node
 * sees it (flows/util.js mapEnvVarProperties), never a ${VAR} inside a longer text, so each
 * entry's ${VAR} is resolved here; a variable may itself hold a list.
 */
export function brokerList(field: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const split = (s: string): string[] => s.split(/[\r\n,]+/).map((u) => u.trim()).filter((u) => u.length > 0);
  const urls = split(String(field ?? "")).flatMap((entry) => {
    const ref = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(entry);
    if (!ref) return [entry];
    const value = env[ref[1]!];
    if (value === undefined || value.trim() === "") throw new ConfigError(`broker ${entry}: environment variable ${ref[1]} is not set`);
    return split(value);
  });
  if (urls.length === 0) throw new ConfigError("no broker URL: give one (mqtts://host:8883), or several, one per line");
  const twice = urls.find((u, i) => urls.indexOf(u) !== i);
  if (twice !== undefined) throw new ConfigError(`broker ${twice} is listed twice`);
  return urls;
}

function checkUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`broker URL "${url}" is not a URL (mqtt://, mqtts://, ws:// or wss://)`);
  }
  if (!SCHEMES.has(parsed.protocol)) throw new ConfigError(`broker URL scheme ${parsed.protocol} is not one of mqtt, mqtts, ws, wss`);
  return parsed;
}

function zone(value: string | undefined, what: string): Zone {
  const z = (value ?? "").trim().toUpperCase();
  if (!(ZONES as readonly string[]).includes(z)) throw new ConfigError(`${what} "${value ?? ""}" is not one of ${ZONES.join(", ")}`);
  return z as Zone;
}

function readPem(file: string | undefined, what: string): Buffer | undefined {
  const f = file?.trim();
  if (!f) return undefined;
  try {
    return fs.readFileSync(f);
  } catch (err) {
    throw new ConfigError(`cannot read the ${what} file ${f}: ${(err as Error).message}`);
  }
}
