/** otb-modbus-device's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type ConfigOf, type FieldCheck } from "../shared/schema";

export const TRANSPORTS = ["tcp", "rtu", "rtu-tcp"] as const;

/**
 * RTU (serial) needs the serial port its choice shows in the form, empty at first: the select is
 * marked too, so the user sees why. Only that conflict: the runtime names the first field in
 * schema order that is wrong, and a blank host under TCP (the default transport) is the host's to
 * name (tcpHost), not the transport's, which comes first.
 */
const transport: FieldCheck = (value, node) => {
  if (String(value).trim() !== "rtu") return null;
  return String(node.serialPath ?? "").trim() ? null : "is rtu, so serialPath is required (the serial port, e.g. /dev/ttyUSB0)";
};

/** TCP and RTU over TCP need a host; RTU (serial) does not use it. */
const tcpHost: FieldCheck = (value, node) => {
  const transport = String(node.transport ?? "").trim() || "tcp";
  if (transport === "rtu" || /^\$\{[^}]+\}$/.test(transport)) return null;
  return String(value ?? "").trim() ? null : `is required for Modbus ${transport === "tcp" ? "TCP" : "RTU over TCP"}`;
};

/** RTU needs the serial port it talks on. */
const serialPort: FieldCheck = (value, node) => {
  if (String(node.transport ?? "").trim() !== "rtu") return null;
  return String(value ?? "").trim() ? null : "is required for Modbus RTU (e.g. /dev/ttyUSB0)";
};

/**
 * More than one request on the wire needs the MBAP transaction id of Modbus TCP to match replies
 * (modbus-device.ts, inFlightLimit); RTU has none, and request spacing means one at a time.
 */
const pipelining: FieldCheck = (value, node) => {
  if (!(Number(value) > 1)) return null;
  const transport = String(node.transport ?? "").trim() || "tcp";
  if (transport !== "tcp" && !/^\$\{[^}]+\}$/.test(transport)) return `is ${value}, but only Modbus TCP can have more than one request on the wire (RTU replies carry no transaction id): set 1`;
  return Number(node.interRequestDelayMs) > 0 ? `is ${value}, but a request spacing (interRequestDelayMs) means one request at a time: set 1 or the spacing to 0` : null;
};

const int = (defaultValue: number | "", min: number, max: number, extra: { required?: boolean; check?: string } = {}): ReturnType<typeof field.number> =>
  field.number(defaultValue, { integer: true, min, max, ...extra });

export const schema = defineSchema({
  type: "otb-modbus-device",
  version: 1,
  fields: {
    name: field.text(),
    transport: field.oneOf(TRANSPORTS, "tcp", { check: "transport", samples: { valid: ["rtu-tcp"], invalid: ["udp", "RTU"] } }),
    host: field.text({ check: "tcpHost", checkBlank: true, samples: { valid: ["127.0.0.1", "meter1.plant.local"], invalid: [""] } }),
    port: int(502, 1, 65535),
    serialPath: field.text({ check: "serialPort", checkBlank: true }),
    /** The serial line (RTU only); brought into 300..921600 as it always was (a select in the form). */
    baudRate: field.number(9600),
    parity: field.oneOf(["none", "even", "odd"] as const, "none"),
    dataBits: int(8, 7, 8),
    stopBits: int(1, 1, 2),
    unitId: int(1, 0, 255, { required: true }),
    /** Defaults for register map rows that state no order (big = AB / high word first). */
    byteOrder: field.oneOf(["big", "little"] as const, "big"),
    wordOrder: field.oneOf(["big", "little"] as const, "big"),
    /** Per request, ms; modbus-serial has none unless set, so a silent device would hang a poll forever. */
    timeoutMs: int(1000, 10, 60_000, { required: true }),
    retries: int(1, 0, 10),
    maxRegisters: int(125, 1, 125),
    maxGap: int(10, 0, 124),
    interRequestDelayMs: int(0, 0, 10_000),
    /** Requests on the wire at once (Modbus TCP); 1 for devices and gateways that serve one transaction at a time. */
    maxInFlight: int(1, 1, 16, { check: "pipelining" }),
    timeoutsBeforeReconnect: int(3, 1, 100),
    maxQueue: int(1000, 1, 100_000),
    /** Blank: the request timeout. */
    pollTimeoutMs: int("", 10, 600_000),
    reconnectInitialMs: int(1000, 100, 60_000),
    reconnectMaxMs: int(30_000, 1000, 3_600_000),
  },
  checks: { transport, tcpHost, serialPort, pipelining },
});

export type DeviceFields = ConfigOf<typeof schema>;
