/**
 * Parsing of an otb-mqtt-broker's editor config (strings from the form) into typed options, and
 * the same options built from an otb-mqtt-in saved before the broker node existed (its own
 * `broker` URL, clientId, protocolVersion, tls and credentials), so such a flow runs unchanged.
 */
import { bool, ConfigError, num } from "../shared";
import type { NodeDef } from "../shared/red";

export interface BrokerCredentials {
  username?: string;
  password?: string;
}

export interface BrokerOptions {
  url: string;
  /** Empty: one is generated per config node. */
  clientId: string;
  protocolVersion: 4 | 5;
  keepaliveS: number;
  /** Clean session (3.1.1) / clean start with session expiry 0 (5). */
  clean: boolean;
  connectTimeoutMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  username?: string;
  password?: string;
  /** TLS options from a core tls-config node (ca, cert, key, rejectUnauthorized...), or null. */
  tls: Record<string, unknown> | null;
}

export interface OtbMqttBrokerDef extends NodeDef {
  broker?: string;
  clientId?: string;
  protocolVersion?: string | number;
  keepalive?: string | number;
  cleanSession?: boolean | string;
  connectTimeout?: string | number;
  reconnectMax?: string | number;
  tls?: string;
}

const URL_RE = /^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/;

/** True when an otb-mqtt-in's `broker` holds a URL (a flow saved before otb-mqtt-broker), not a config node id. */
export function isLegacyBrokerValue(value: unknown): boolean {
  const v = String(value ?? "").trim();
  return URL_RE.test(v) || /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(v);
}

export function parseBrokerConfig(def: Partial<OtbMqttBrokerDef>, creds: BrokerCredentials, tls: Record<string, unknown> | null): BrokerOptions {
  const url = String(def.broker ?? "").trim();
  if (!URL_RE.test(url)) throw new ConfigError(`broker "${url}" must be a URL such as mqtt://127.0.0.1:1883 or mqtts://broker:8883`);
  const clientId = String(def.clientId ?? "").trim();
  if (clientId.length > 65535) throw new ConfigError("client id is longer than 65535 characters");
  const reconnectMaxMs = num(def.reconnectMax, 30, 1, 600) * 1000;
  return {
    url,
    clientId,
    protocolVersion: num(def.protocolVersion, 4) === 5 ? 5 : 4,
    keepaliveS: num(def.keepalive, 30, 1, 3600),
    clean: bool(def.cleanSession, true),
    connectTimeoutMs: num(def.connectTimeout, 10, 1, 120) * 1000,
    reconnectInitialMs: Math.min(1000, reconnectMaxMs),
    reconnectMaxMs,
    username: creds.username || undefined,
    password: creds.password || undefined,
    tls,
  };
}

/**
 * An otb-mqtt-in saved before otb-mqtt-broker: the options its own fields describe, with the
 * defaults that node used (keepalive 30 s, clean session, reconnect 1 s doubling to 30 s).
 */
export function legacyBrokerOptions(def: { broker?: unknown; clientId?: unknown; protocolVersion?: unknown }, creds: BrokerCredentials, tls: Record<string, unknown> | null): BrokerOptions {
  return parseBrokerConfig({ broker: String(def.broker ?? ""), clientId: String(def.clientId ?? ""), protocolVersion: def.protocolVersion as string }, creds, tls);
}
