/**
 * An otb-opcua-endpoint's settings: the checked configuration (schema.ts) plus what the schema
 * cannot judge (credentials, which lint never sees). Pure: no node-opcua, no Node-RED, so the
 * runtime and `otbridge lint` run the same code and it is unit-testable.
 */
import { ConfigError } from "../shared/errors";
import { num } from "../shared/node-kit";
import type { Node, NodeDef } from "../shared/red";
import { readConfig, type ConfigOf } from "../shared/schema";
import { schema, type AUTH_KINDS, type SECURITY_MODES, type SECURITY_POLICIES } from "./schema";

export { AUTH_KINDS, SECURITY_MODES, SECURITY_POLICIES } from "./schema";

export type SecurityModeName = (typeof SECURITY_MODES)[number];
export type SecurityPolicyName = (typeof SECURITY_POLICIES)[number];
export type AuthKind = (typeof AUTH_KINDS)[number];
export type EndpointFields = ConfigOf<typeof schema>;
export type OpcuaEndpointDef = NodeDef & Partial<Record<keyof EndpointFields, unknown>>;

export interface EndpointCredentials {
  username?: string;
  password?: string;
  /** X.509 user identity: certificate and private key, PEM. */
  userCertificate?: string;
  userPrivateKey?: string;
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

const URL_RE = new RegExp(schema.fields.endpointUrl.pattern!);

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

/**
 * The settings of a saved endpoint, or a ConfigError naming the field. `credentials` null: not
 * known (lint reads flows without their credentials file), so the identity is not checked.
 */
export function parseEndpointConfig(def: Record<string, unknown>, credentials: EndpointCredentials | null = {}): EndpointSettings {
  return endpointFromConfig(readConfig(schema, def), credentials);
}

export function endpointFromConfig(c: EndpointFields, credentials: EndpointCredentials | null): EndpointSettings {
  const securityMode = c.securityMode as SecurityModeName;
  const auth = c.auth;
  const creds = credentials ?? {};
  const warnings: string[] = [];
  if (auth === "username") {
    if (credentials && !creds.username) throw new ConfigError("auth username needs a username");
    if (securityMode === "None") warnings.push("username and password over security mode None: the password is protected only if the server's user token policy encrypts it");
  }
  if (auth === "certificate" && credentials) {
    if (!creds.userCertificate || !creds.userPrivateKey) throw new ConfigError("auth certificate (X.509 user) needs a user certificate and private key (PEM)");
    if (!/-----BEGIN CERTIFICATE-----/.test(creds.userCertificate)) throw new ConfigError("auth certificate: the user certificate must be PEM (-----BEGIN CERTIFICATE-----)");
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(creds.userPrivateKey)) throw new ConfigError("auth certificate: the user private key must be PEM (-----BEGIN PRIVATE KEY-----)");
  }
  const pinnedFingerprints = c.pinnedFingerprints
    .split(/[,;\n]/)
    .map((part) => normalizeFingerprint(part))
    .filter((fp): fp is string => fp !== null);
  if (securityMode === "None") warnings.push("security mode None: traffic is neither signed nor encrypted and the server is not authenticated");
  return {
    endpointUrl: c.endpointUrl,
    securityMode,
    securityPolicy: c.securityPolicy as SecurityPolicyName,
    auth,
    credentials: creds,
    pinnedFingerprints,
    // Brought into range as they always were (schema.ts says why).
    sessionTimeoutMs: num(c.sessionTimeout, 60_000, 10_000, 3_600_000),
    keepAliveMs: num(c.keepAliveInterval, 5_000, 500, 60_000),
    requestTimeoutMs: num(c.requestTimeout, 10_000, 1_000, 120_000),
    reconnectMaxDelayMs: num(c.reconnectMaxDelay, 10_000, 500, 300_000),
    applicationName: c.applicationName || "otbridge",
    warnings,
  };
}

/** What an otb-opcua-in sees of its endpoint config node. */
export interface OpcuaEndpointNode extends Node {
  users: Record<string, Node>;
  configError: string | null;
  endpoint: import("./opcua-endpoint").OpcuaEndpoint | null;
}
