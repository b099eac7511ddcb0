/** An otb-modbus-device's checked configuration (schema.ts) as typed options; lint runs the same. */
import { ConfigError } from "../shared/errors";
import { num } from "../shared/node-kit";
import type { Node, NodeDef } from "../shared/red";
import { readConfig } from "../shared/schema";
import { schema, type DeviceFields } from "./schema";

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
  /** Requests on the wire at once, Modbus TCP only (modbus-device.ts, inFlightLimit). */
  maxInFlight: number;
  /** Consecutive timeouts after which the link is treated as dead and reopened. */
  timeoutsBeforeReconnect: number;
  connectTimeoutMs: number;
  /** Requests waiting in the queue at most; more are refused with a reason, never buffered. */
  maxQueue: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
}

export type OtbModbusDeviceDef = NodeDef & Partial<Record<keyof DeviceFields, unknown>>;

/** The options of a saved device (as the runtime and `otbridge lint` read it), or a ConfigError naming the field. */
export function parseDeviceConfig(def: Record<string, unknown>): DeviceOptions {
  return deviceFromConfig(readConfig(schema, def));
}

export function deviceFromConfig(c: DeviceFields): DeviceOptions {
  // Across two fields, so not a field check: each alone is judged by schema.ts.
  if (c.reconnectMaxMs < c.reconnectInitialMs) {
    throw new ConfigError(`reconnectMaxMs (${c.reconnectMaxMs} ms) is below the first delay, reconnectInitialMs (${c.reconnectInitialMs} ms)`);
  }
  return {
    transport: c.transport as Transport,
    host: c.host,
    port: c.port,
    serialPath: c.serialPath,
    // Brought into range as it always was (the form offers 1200..115200).
    baudRate: num(c.baudRate, 9600, 300, 921600),
    parity: c.parity,
    dataBits: c.dataBits === 7 ? 7 : 8,
    stopBits: c.stopBits === 2 ? 2 : 1,
    unitId: c.unitId,
    byteOrder: c.byteOrder,
    wordOrder: c.wordOrder,
    timeoutMs: c.timeoutMs,
    retries: c.retries,
    pollTimeoutMs: Number.isFinite(c.pollTimeoutMs) ? c.pollTimeoutMs : c.timeoutMs,
    maxRegisters: c.maxRegisters,
    maxGap: c.maxGap,
    interRequestDelayMs: c.interRequestDelayMs,
    maxInFlight: c.maxInFlight,
    timeoutsBeforeReconnect: c.timeoutsBeforeReconnect,
    connectTimeoutMs: 5_000,
    maxQueue: c.maxQueue,
    reconnectInitialMs: c.reconnectInitialMs,
    reconnectMaxMs: c.reconnectMaxMs,
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
