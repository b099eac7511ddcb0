/**
 * Parsing and validation of an otb-opcua-endpoint's configuration. Pure: no node-opcua, no
 * Node-RED, so the editor rules, the runtime and `otbridge lint` agree and it is unit-testable.
 */
import { ConfigError, num } from "../shared";
import type { Node, NodeDef } from "../shared/red";

export const SECURITY_MODES = ["None", "Sign", "SignAndEncrypt"] as const;
export const SECURITY_POLICIES = ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] as const;
export const AUTH_KINDS = ["anonymous", "username", "certificate"] as const;

export type SecurityModeName = (typeof SECURITY_MODES)[number];
export type SecurityPolicyName = (typeof SECURITY_POLICIES)[number];
export type AuthKind = (typeof AUTH_KINDS)[number];

export interface EndpointCredentials {
  username?: string;
  password?: string;
  /** X.509 user identity: certificate and private key, PEM. */
  userCertificate?: string;
  userPrivateKey?: string;
}

export interface OpcuaEndpointDef extends NodeDef {
  endpointUrl: string;
  securityMode: string;
  securityPolicy: string;
  auth: string;
  /** Pinned server certificate fingerprints (SHA-1 or SHA-256 hex), comma or newline separated. */
  pinnedFingerprints?: string;
  sessionTimeout?: string | number;
  keepAliveInterval?: string | number;
  requestTimeout?: string | number;
  reconnectMaxDelay?: string | number;
  applicationName?: string;
}

export interface EndpointSettings {
  endpointUrl: string;
  securityMode: SecurityModeName;
  securityPolicy: SecurityPolicyName;
  auth: AuthKind;
  credentials: EndpointCredentials;
  pinnedFingerprints: string[];
  sessionTimeoutMs: number;
  keepAliveMs: number;
  requestTimeoutMs: number;
  reconnectMaxDelayMs: number;
  applicationName: string;
  /** Things that work but that a security reviewer should hear about. */
  warnings: string[];
}

const URL_RE = /^opc\.tcp:\/\/[^\s/:]+(:\d{1,5})?(\/\S*)?$/;

export function isEndpointUrl(url: string): boolean {
  return URL_RE.test(url.trim());
}

/** Upper-case hex without separators; null when it is not a SHA-1 (40) or SHA-256 (64) fingerprint. */
export function normalizeFingerprint(text: string): string | null {
  const hex = text.replace(/[\s:]/g, "").toUpperCase();
  return /^[0-9A-F]{40}$/.test(hex) || /^[0-9A-F]{64}$/.test(hex) ? hex : null;
}

/** "AB:CD:..." for display, as the editor and error messages show it. */
export function formatFingerprint(hex: string): string {
  return hex.toUpperCase().replace(/(..)(?!$)/g, "$1:");
}

export function parseEndpointConfig(def: Partial<OpcuaEndpointDef>, credentials: EndpointCredentials = {}): EndpointSettings {
  const endpointUrl = String(def.endpointUrl ?? "").trim();
  if (!isEndpointUrl(endpointUrl)) throw new ConfigError(`endpoint URL "${endpointUrl}" must look like opc.tcp://host:4840`);
  // The editor's default: a flow file that omits the mode does not silently get no security.
  const securityMode = pick(def.securityMode, SECURITY_MODES, "SignAndEncrypt", "security mode");
  const securityPolicy = pick(def.securityPolicy, SECURITY_POLICIES, securityMode === "None" ? "None" : "Basic256Sha256", "security policy");
  if (securityMode === "None" && securityPolicy !== "None") throw new ConfigError(`security mode None needs policy None, not ${securityPolicy}`);
  if (securityMode !== "None" && securityPolicy === "None") throw new ConfigError(`security mode ${securityMode} needs a policy other than None`);
  const auth = pick(def.auth, AUTH_KINDS, "anonymous", "authentication");
  const warnings: string[] = [];
  if (auth === "username") {
    if (!credentials.username) throw new ConfigError("username authentication needs a username");
    if (securityMode === "None") warnings.push("username and password over security mode None: the password is protected only if the server's user token policy encrypts it");
  }
  if (auth === "certificate") {
    if (!credentials.userCertificate || !credentials.userPrivateKey) throw new ConfigError("X.509 user authentication needs a user certificate and private key (PEM)");
    if (!/-----BEGIN CERTIFICATE-----/.test(credentials.userCertificate)) throw new ConfigError("the user certificate must be PEM (-----BEGIN CERTIFICATE-----)");
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(credentials.userPrivateKey)) throw new ConfigError("the user private key must be PEM (-----BEGIN PRIVATE KEY-----)");
  }
  const pinnedFingerprints: string[] = [];
  for (const part of String(def.pinnedFingerprints ?? "").split(/[,;\n]/)) {
    if (!part.trim()) continue;
    const fp = normalizeFingerprint(part);
    if (!fp) throw new ConfigError(`pinned fingerprint "${part.trim()}" is not a SHA-1 or SHA-256 hex fingerprint`);
    pinnedFingerprints.push(fp);
  }
  if (securityMode === "None") warnings.push("security mode None: traffic is neither signed nor encrypted and the server is not authenticated");
  return {
    endpointUrl,
    securityMode,
    securityPolicy,
    auth,
    credentials,
    pinnedFingerprints,
    sessionTimeoutMs: num(def.sessionTimeout, 60_000, 10_000, 3_600_000),
    keepAliveMs: num(def.keepAliveInterval, 5_000, 500, 60_000),
    requestTimeoutMs: num(def.requestTimeout, 10_000, 1_000, 120_000),
    reconnectMaxDelayMs: num(def.reconnectMaxDelay, 10_000, 500, 300_000),
    applicationName: String(def.applicationName || "otbridge").trim() || "otbridge",
    warnings,
  };
}

function pick<T extends string>(value: unknown, allowed: readonly T[], fallback: T, what: string): T {
  if (value === undefined || value === null || value === "") return fallback;
  const v = String(value) as T;
  if (!allowed.includes(v)) throw new ConfigError(`${what} "${v}" is not one of ${allowed.join(", ")}`);
  return v;
}

/** What an otb-opcua-in sees of its endpoint config node. */
export interface OpcuaEndpointNode extends Node {
  users: Record<string, Node>;
  configError: string | null;
  endpoint: import("./opcua-endpoint").OpcuaEndpoint | null;
}
