/** otb-modbus-device's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type ConfigOf, type FieldCheck } from "../shared/schema";

export const TRANSPORTS = ["tcp", "rtu", "rtu-tcp"] as const;

/**
 * transport is a text field with `values` (the form's select), not an enum: host and serial
 * port are judged by it, so "rtu" alone is not valid whatever the serial port says.
 */
const member: FieldCheck = (value, _node, spec) => {
  const values = (spec.values ?? []) as readonly string[];
  return values.includes(String(value).trim()) ? null : `"${String(value)}" is not one of ${values.join(", ")}`;
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

const int = (defaultValue: number | "", min: number, max: number, extra: { required?: boolean } = {}): ReturnType<typeof field.number> =>
  field.number(defaultValue, { integer: true, min, max, ...extra });

export const schema = defineSchema({
  type: "otb-modbus-device",
  version: 1,
  fields: {
    name: field.text(),
    transport: field.text({ default: "tcp", values: TRANSPORTS, check: "member", samples: { valid: ["rtu-tcp"], invalid: ["udp", "RTU"] } }),
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
    timeoutsBeforeReconnect: int(3, 1, 100),
    maxQueue: int(1000, 1, 100_000),
    /** Blank: the request timeout. */
    pollTimeoutMs: int("", 10, 600_000),
    reconnectInitialMs: int(1000, 100, 60_000),
    reconnectMaxMs: int(30_000, 1000, 3_600_000),
  },
  checks: { member, tcpHost, serialPort },
});

export type DeviceFields = ConfigOf<typeof schema>;
