/**
 * An otb-mqtt-broker's checked configuration (schema.ts) as typed options, and the same options
 * built from an otb-mqtt-in saved before the broker node existed (its own `broker` URL, clientId,
 * protocolVersion, tls and credentials), so such a flow runs unchanged. Lint runs the same.
 */
import { num } from "../shared/node-kit";
import { readConfig } from "../shared/schema";
import { LEGACY_BROKER_VALUE, schema, type BrokerFields } from "./schema";

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

const LEGACY = new RegExp(LEGACY_BROKER_VALUE);

/** True when an otb-mqtt-in's `broker` holds a URL (a flow saved before otb-mqtt-broker), not a config node id. */
export function isLegacyBrokerValue(value: unknown): boolean {
  return LEGACY.test(String(value ?? ""));
}

/** The options of a saved broker node (as the runtime and `otbridge lint` read it), or a ConfigError naming the field. */
export function parseBrokerConfig(def: Record<string, unknown>, creds: BrokerCredentials = {}, tls: Record<string, unknown> | null = null): BrokerOptions {
  return brokerFromConfig(readConfig(schema, def), creds, tls);
}

export function brokerFromConfig(c: BrokerFields, creds: BrokerCredentials, tls: Record<string, unknown> | null): BrokerOptions {
  const reconnectMaxMs = c.reconnectMax * 1000;
  return {
    url: c.broker,
    clientId: c.clientId,
    protocolVersion: c.protocolVersion === "5" ? 5 : 4,
    keepaliveS: c.keepalive,
    clean: c.cleanSession,
    connectTimeoutMs: c.connectTimeout * 1000,
    reconnectInitialMs: Math.min(1000, reconnectMaxMs),
    reconnectMaxMs,
    username: creds.username || undefined,
    password: creds.password || undefined,
    tls,
  };
}

/**
 * An otb-mqtt-in saved before otb-mqtt-broker: the options its own fields describe, with the
 * defaults that node used (keepalive 30 s, clean session, reconnect 1 s doubling to 30 s). Its
 * protocolVersion was read as "5 or else 3.1.1", so it still is.
 */
export function legacyBrokerOptions(def: { broker?: unknown; clientId?: unknown; protocolVersion?: unknown }, creds: BrokerCredentials, tls: Record<string, unknown> | null): BrokerOptions {
  const protocolVersion = num(def.protocolVersion, 4) === 5 ? "5" : "4";
  return parseBrokerConfig({ broker: String(def.broker ?? ""), clientId: String(def.clientId ?? ""), protocolVersion }, creds, tls);
}
