/** Parsing of an otb-modbus-device's editor config into typed, bounded options. */
import { ConfigError, num } from "../shared";
import type { Node, NodeDef } from "../shared/red";

export type Transport = "tcp" | "rtu" | "rtu-tcp";
export type Parity = "none" | "even" | "odd";
export type Order = "big" | "little";

export interface DeviceOptions {
  transport: Transport;
  host: string;
  port: number;
  serialPath: string;
  baudRate: number;
  parity: Parity;
  dataBits: 7 | 8;
  stopBits: 1 | 2;
  unitId: number;
  /** Defaults for register map rows that state no order (big = AB / high word first). */
  byteOrder: Order;
  wordOrder: Order;
  /** Per request; modbus-serial has none unless set, so a silent device would hang a poll forever. */
  timeoutMs: number;
  /** Extra attempts after a timeout or a busy (code 5/6) reply, within the poll timeout. */
  retries: number;
  /**
   * The longest one poll of a reader may take, queueing, retries and reconnecting included;
   * requests still unanswered then end as comm_lost. Default: the request timeout, so a
   * device that accepts TCP but never answers costs a poll one timeout, not timeout x attempts.
   */
  pollTimeoutMs: number;
  maxRegisters: number;
  maxGap: number;
  /** Silence between requests; slow RS-485 devices and gateways need it. */
  interRequestDelayMs: number;
  /** Consecutive timeouts after which the link is treated as dead and reopened. */
  timeoutsBeforeReconnect: number;
  connectTimeoutMs: number;
  /** Requests waiting in the queue at most; more are refused with a reason, never buffered. */
  maxQueue: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
}

export interface OtbModbusDeviceDef extends NodeDef {
  transport: string;
  host: string;
  port: string | number;
  serialPath: string;
  baudRate: string | number;
  parity: string;
  dataBits: string | number;
  stopBits: string | number;
  unitId: string | number;
  byteOrder?: string;
  wordOrder?: string;
  timeoutMs: string | number;
  retries: string | number;
  maxRegisters: string | number;
  maxGap: string | number;
  interRequestDelayMs: string | number;
  timeoutsBeforeReconnect?: string | number;
  maxQueue?: string | number;
  pollTimeoutMs?: string | number;
  reconnectInitialMs?: string | number;
  reconnectMaxMs?: string | number;
}

/**
 * An integer setting: empty means the default, anything else must be an integer in range. A
 * bad value is refused with its name rather than clamped, so a typo is not silently replaced.
 */
function intSetting(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || String(value).trim() === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} "${String(value)}" must be an integer ${min}..${max}`);
  return n;
}

export function parseDeviceConfig(def: Partial<OtbModbusDeviceDef>): DeviceOptions {
  const transport = String(def.transport || "tcp") as Transport;
  if (!["tcp", "rtu", "rtu-tcp"].includes(transport)) throw new ConfigError(`transport "${transport}" must be tcp, rtu or rtu-tcp`);
  const host = String(def.host ?? "").trim();
  const serialPath = String(def.serialPath ?? "").trim();
  if (transport !== "rtu" && !host) throw new ConfigError("host is required for Modbus TCP");
  if (transport === "rtu" && !serialPath) throw new ConfigError("serial port is required for Modbus RTU");
  const parity = String(def.parity || "none") as Parity;
  if (!["none", "even", "odd"].includes(parity)) throw new ConfigError(`parity "${parity}" must be none, even or odd`);
  const unitId = num(def.unitId, NaN);
  if (!Number.isInteger(unitId) || unitId < 0 || unitId > 255) throw new ConfigError(`unit id "${String(def.unitId)}" must be 0..255`);
  const port = num(def.port, 502);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`port "${String(def.port)}" must be 1..65535`);
  const timeoutMs = num(def.timeoutMs, 1000, 10, 60_000);
  const reconnectInitialMs = intSetting(def.reconnectInitialMs, "first reconnect delay", 1_000, 100, 60_000);
  const reconnectMaxMs = intSetting(def.reconnectMaxMs, "reconnect backoff cap", 30_000, 1_000, 3_600_000);
  if (reconnectMaxMs < reconnectInitialMs) throw new ConfigError(`reconnect backoff cap ${reconnectMaxMs} ms is below the first delay ${reconnectInitialMs} ms`);
  return {
    transport,
    host,
    port,
    serialPath,
    baudRate: num(def.baudRate, 9600, 300, 921600),
    parity,
    dataBits: num(def.dataBits, 8) === 7 ? 7 : 8,
    stopBits: num(def.stopBits, 1) === 2 ? 2 : 1,
    unitId,
    byteOrder: def.byteOrder === "little" ? "little" : "big",
    wordOrder: def.wordOrder === "little" ? "little" : "big",
    timeoutMs,
    retries: intSetting(def.retries, "retries", 1, 0, 10),
    pollTimeoutMs: intSetting(def.pollTimeoutMs, "poll timeout", timeoutMs, 10, 600_000),
    maxRegisters: Math.round(num(def.maxRegisters, 125, 1, 125)),
    maxGap: Math.round(num(def.maxGap, 10, 0, 124)),
    interRequestDelayMs: num(def.interRequestDelayMs, 0, 0, 10_000),
    timeoutsBeforeReconnect: Math.round(num(def.timeoutsBeforeReconnect, 3, 1, 100)),
    connectTimeoutMs: 5_000,
    maxQueue: Math.round(num(def.maxQueue, 1000, 1, 100_000)),
    reconnectInitialMs,
    reconnectMaxMs,
  };
}

/** Where a device is, for Signal.source.device and status text. */
export function describeDevice(o: DeviceOptions): string {
  return o.transport === "rtu" ? `${o.serialPath}#${o.unitId}` : `${o.host}:${o.port}#${o.unitId}`;
}

export interface OtbModbusDeviceNode extends Node {
  users: Record<string, Node>;
  configError: string | null;
  device: import("./modbus-device").ModbusDevice | null;
}
