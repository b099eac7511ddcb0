/**
 * otb-conduit's configuration: the fields checked by the schema (schema.ts: editor, runtime and
 * lint), then the zone rules of DESIGN.md "Zones and conduits" that take more than one field's
 * form, before anything connects. A conduit into L4 or L5 without TLS, with server verification
 * off, or on MQTT 3.1.1 is refused at deploy (on 3.1.1 a broker acknowledges publishes its ACL
 * silently drops, so nothing could be trusted as delivered).
 */
import * as fs from "fs";
import { ConfigError } from "../shared/errors";
import { readConfig, type ConfigOf } from "../shared/schema";
import { durableDir, userFile } from "../shared/user-dir";
import { ZONES, type Zone } from "../shared/zones";
import { KIND_CODES, KIND_TABLE, MESSAGE_KINDS, type MessageKindName } from "./kinds";
import type { FullPolicy, ReplayOrder } from "./queue/durable-queue";
import { RESEND_MAX_BYTES, type ResendLimits } from "./resend-window";
import { schema } from "./schema";

export { ZONES, type Zone, KIND_CODES, KIND_TABLE, MESSAGE_KINDS, type MessageKindName };

/** The checked fields of a saved conduit (schema.ts). */
export type ConduitSettings = ConfigOf<typeof schema>;

/** A saved conduit as Node-RED hands it over (the editor's strings, or a hand-written flow's values): schema.ts's fields. */
export type ConduitDef = { id: string; version?: unknown } & Partial<Record<keyof ConduitSettings, unknown>>;

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
  /** The re-send window after a lost link (resend-window.ts). */
  resend: ResendLimits;
  queue: { dir: string; maxBytes: number; commitIntervalMs: number; replayOrder: ReplayOrder; fullPolicy: FullPolicy; maxAgeMs: number };
  sparkplug: { group: string; edgeNode: string; primaryHost: string } | null;
}

const SCHEMES = new Set(["mqtt:", "mqtts:", "ws:", "wss:"]);

/** The fields of a saved conduit, checked and typed (schema.ts); a ConfigError naming the first wrong field. */
export function conduitSettings(def: ConduitDef | Record<string, unknown>): ConduitSettings {
  return readConfig(schema, def as Record<string, unknown>);
}

/**
 * What `otbridge lint` runs after the field checks: the rules of one saved conduit that need no
 * file and no environment variable and are not lint's own contract rules (zones, TLS, MQTT 5).
 */
export function checkConduitPolicy(def: Record<string, unknown>): void {
  const s = conduitSettings(def);
  kindsOf(s);
  clientCertificate(s);
}

/**
 * The runtime's conduit: checked fields, broker list with its ${VAR} entries resolved from `env`,
 * zone rules, TLS files read, the queue folder in userDir (refused without one, unless queueDir
 * names a folder).
 */
export function parseConduitConfig(def: ConduitDef, creds: ConduitCredentials, userDir: string | null, env: NodeJS.ProcessEnv = process.env): ConduitConfig {
  const s = conduitSettings(def);
  const urls = brokerList(s.broker, env);
  const parsedUrls = urls.map(checkUrl);
  const parsed = parsedUrls[0]!;
  const secureOf = (u: URL): boolean => u.protocol === "mqtts:" || u.protocol === "wss:";
  const secure = parsedUrls.some(secureOf);
  const protocolVersion = s.protocolVersion === "4" ? 4 : 5;
  // schema.ts checked both zones and their order.
  const sourceZone = s.sourceZone as Zone;
  const targetZone = s.targetZone as Zone;
  const verify = s.verifyServer;
  if (targetZone === "L4" || targetZone === "L5") {
    // Every member: a failover must never downgrade the link to plaintext.
    const plain = parsedUrls.find((u) => !secureOf(u));
    if (plain) throw new ConfigError(`into ${targetZone} a conduit needs TLS (mqtts:// or wss://), not ${plain.protocol}//${urls.length > 1 ? ` (broker ${plain.href.replace(/\/$/, "")})` : ""}`, { field: "broker" });
    if (!verify) throw new ConfigError(`into ${targetZone} the server certificate must be verified`, { field: "verifyServer" });
    if (protocolVersion !== 5) throw new ConfigError(`into ${targetZone} a conduit needs MQTT 5 (reason codes), not 3.1.1`, { field: "protocolVersion" });
  }
  const allowTopics = (s.allowTopics as unknown[]).map((t) => String(t).trim()).filter((t) => t.length > 0);
  const kinds = kindsOf(s);
  const sparkplug = s.mode === "sparkplug" ? { group: s.spGroup, edgeNode: s.spEdgeNode, primaryHost: s.spPrimaryHost } : null;
  clientCertificate(s);
  const tls = secure
    ? {
        ca: readPem(s.caFile, "CA certificate"),
        cert: readPem(s.certFile, "client certificate"),
        key: readPem(s.keyFile, "client key"),
        passphrase: creds.passphrase || undefined,
        verify,
        servername: s.servername || undefined,
      }
    : null;
  // user-dir.ts resolves both: one place decides where durable files live.
  const settings = { settings: { userDir: userDir ?? undefined } } as Parameters<typeof durableDir>[0];

  return {
    id: def.id,
    name: s.name || parsed.host,
    url: urls[0]!,
    urls,
    protocolVersion,
    clientId: s.clientId || `otb-${def.id.replace(/[^A-Za-z0-9]/g, "").slice(0, 16)}`,
    keepaliveS: bound(s.keepalive, 1, 3600),
    connectTimeoutMs: bound(s.connectTimeout, 1, 120) * 1000,
    reconnectMaxMs: bound(s.reconnectMax, 0.5, 600) * 1000,
    tls,
    username: creds.user || undefined,
    password: creds.password || undefined,
    sourceZone,
    targetZone,
    allowTopics,
    kinds,
    rateLimit: bound(s.rateLimit, 0, Infinity),
    maxMessageBytes: bound(s.maxMessageBytes, 64, 256 * 1024 * 1024),
    inflight: s.inflight,
    resend: { records: s.resendRecords, ms: s.resendSeconds * 1000, bytes: RESEND_MAX_BYTES },
    queue: {
      dir: s.queueDir ? userFile(settings, s.queueDir) : durableDir(settings, "the conduit's queue", "otbridge-queue", def.id),
      maxBytes: bound(s.queueMaxMB, 0.0625, 1024 * 1024) * 1024 * 1024,
      commitIntervalMs: bound(s.commitMs, 1, 1000),
      replayOrder: s.replayOrder as ReplayOrder,
      fullPolicy: s.fullPolicy as FullPolicy,
      maxAgeMs: s.queueMaxAgeS * 1000,
    },
    sparkplug,
  };
}

/** The kinds the conduit lets through; a ConfigError when none is. */
function kindsOf(s: ConduitSettings): Set<MessageKindName> {
  const kinds = new Set<MessageKindName>(KIND_TABLE.filter((k) => s[k.flag]).map((k) => k.name));
  if (kinds.size === 0) throw new ConfigError("no message kind is allowed: nothing could be published", { field: "allowSignals" });
  return kinds;
}

function clientCertificate(s: ConduitSettings): void {
  if (Boolean(s.certFile) !== Boolean(s.keyFile)) throw new ConfigError("mutual TLS needs both a client certificate and its key", { field: s.certFile ? "keyFile" : "certFile" });
}

/** Numbers the conduit has always bounded rather than refused (flows saved with them keep running). */
function bound(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
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

function readPem(file: string | undefined, what: string): Buffer | undefined {
  const f = file?.trim();
  if (!f) return undefined;
  try {
    return fs.readFileSync(f);
  } catch (err) {
    throw new ConfigError(`cannot read the ${what} file ${f}: ${(err as Error).message}`);
  }
}
