/**
 * The Modbus register map of the simulated energy meter (unit 1) and legacy machine (unit 2),
 * and its encoder. flows/catalog/simulator-modbus-map.json is this table as data (a test keeps
 * the two equal), in the format otb-modbus-in loads: engineering value = raw * scale + offset;
 * byteOrder is the order of the two bytes inside each register, wordOrder the order of the
 * registers of a 32/64-bit value ("BE" = most significant word first, "ABCD"; "LE" = "CDAB").
 */
export type Area = "coil" | "discrete" | "holding" | "input";
export type RegType = "bool" | "int16" | "uint16" | "int32" | "uint32" | "float32" | "float64" | "string";
export type Order = "BE" | "LE";

export interface RegisterDef {
  tag: string;
  area: Area;
  address: number;
  type: RegType;
  /** Registers of a string (2 chars each). */
  length?: number;
  byteOrder?: Order;
  wordOrder?: Order;
  scale?: number;
  offset?: number;
  unit?: string;
  pollGroup?: string;
  /**
   * "clock": the unit's real-time clock, Unix time in whole seconds (scale 1000 turns it into
   * epoch ms). The simulator serves the timestamp of the sample the other registers hold, so a
   * poll stamped with it (otb-modbus-in does, for rows with this role) sits on the simulator's
   * one time line at any speed.
   */
  role?: "clock";
  description: string;
}

export interface DeviceMap {
  name: string;
  unitId: number;
  description: string;
  /** Addresses at or above this answer exception 2 (illegal data address); below it, unmapped registers read 0. */
  addressLimit: number;
  registers: RegisterDef[];
}

export interface RegisterMap {
  $comment: string;
  version: 1;
  devices: DeviceMap[];
}

export const MODBUS_MAP: RegisterMap = {
  $comment:
    "Register map of the otbridge line simulator (cli/sim). value = raw * scale + offset. wordOrder BE = high word first (ABCD), LE = low word first (CDAB). byteOrder is within each register.",
  version: 1,
  devices: [
    {
      name: "meter1",
      unitId: 1,
      description: "Single-phase energy meter on the pump motor feeder",
      addressLimit: 100,
      registers: [
        { tag: "meter1.voltage", area: "input", address: 0, type: "float32", byteOrder: "BE", wordOrder: "BE", unit: "V", pollGroup: "fast", description: "Voltage L-N" },
        { tag: "meter1.current", area: "input", address: 2, type: "float32", byteOrder: "BE", wordOrder: "LE", unit: "A", pollGroup: "fast", description: "Current L1" },
        { tag: "meter1.active_power", area: "input", address: 4, type: "int32", byteOrder: "BE", wordOrder: "BE", unit: "W", pollGroup: "fast", description: "Active power (signed: negative = export)" },
        { tag: "meter1.energy_total", area: "input", address: 6, type: "uint32", byteOrder: "BE", wordOrder: "LE", unit: "Wh", pollGroup: "slow", description: "Imported active energy counter" },
        { tag: "meter1.frequency", area: "input", address: 8, type: "uint16", scale: 0.01, offset: 0, unit: "Hz", pollGroup: "fast", description: "Grid frequency, 0.01 Hz per count" },
        { tag: "meter1.power_factor", area: "input", address: 9, type: "int16", scale: 0.001, offset: 0, pollGroup: "fast", description: "Power factor, 0.001 per count (signed)" },
        { tag: "meter1.ct_ratio", area: "holding", address: 0, type: "uint16", pollGroup: "slow", description: "Current transformer ratio (configuration)" },
        { tag: "meter1.clock", area: "input", address: 90, type: "uint32", byteOrder: "BE", wordOrder: "BE", scale: 1000, offset: 0, unit: "ms", pollGroup: "fast", role: "clock", description: "Real-time clock, Unix seconds (of the values served); stamps every poll of this unit" },
      ],
    },
    {
      name: "legacy1",
      unitId: 2,
      description: "Legacy filling machine downstream of the pump (PLC from the 2000s)",
      addressLimit: 100,
      registers: [
        { tag: "legacy1.running", area: "coil", address: 0, type: "bool", pollGroup: "fast", description: "Machine running" },
        { tag: "legacy1.fault", area: "coil", address: 1, type: "bool", pollGroup: "fast", description: "Machine fault lamp" },
        { tag: "legacy1.door_closed", area: "discrete", address: 0, type: "bool", pollGroup: "fast", description: "Guard door closed" },
        { tag: "legacy1.state_code", area: "holding", address: 0, type: "uint16", pollGroup: "fast", description: "1 running, 2 idle, 3 changeover, 4 maintenance" },
        { tag: "legacy1.part_count", area: "holding", address: 1, type: "uint32", byteOrder: "BE", wordOrder: "BE", unit: "parts", pollGroup: "fast", description: "Parts filled" },
        { tag: "legacy1.motor_temperature", area: "holding", address: 3, type: "int16", scale: 0.1, offset: 0, unit: "°C", pollGroup: "fast", description: "Conveyor motor temperature, 0.1 °C per count" },
        { tag: "legacy1.cycle_time", area: "holding", address: 4, type: "float32", byteOrder: "BE", wordOrder: "LE", unit: "s", pollGroup: "fast", description: "Last cycle time" },
        { tag: "legacy1.flow_setpoint", area: "holding", address: 6, type: "float32", byteOrder: "BE", wordOrder: "BE", unit: "l/min", pollGroup: "slow", description: "Flow set point" },
        { tag: "legacy1.run_hours", area: "holding", address: 8, type: "float64", byteOrder: "BE", wordOrder: "BE", unit: "h", pollGroup: "slow", description: "Running hours" },
        { tag: "legacy1.offset_temp", area: "holding", address: 12, type: "int16", scale: 0.1, offset: 0, unit: "°C", pollGroup: "slow", description: "Calibration offset, 0.1 °C per count (negative)" },
        { tag: "legacy1.product", area: "holding", address: 20, type: "string", length: 8, byteOrder: "BE", pollGroup: "slow", description: "Product code, ASCII, 2 chars per register, NUL padded" },
        { tag: "legacy1.clock", area: "input", address: 90, type: "uint32", byteOrder: "BE", wordOrder: "BE", scale: 1000, offset: 0, unit: "ms", pollGroup: "fast", role: "clock", description: "PLC real-time clock, Unix seconds (of the values served); stamps every poll of this unit" },
      ],
    },
  ],
};

/** Registers a definition occupies. */
export function registerCount(def: RegisterDef): number {
  switch (def.type) {
    case "bool":
    case "int16":
    case "uint16":
      return 1;
    case "int32":
    case "uint32":
    case "float32":
      return 2;
    case "float64":
      return 4;
    case "string":
      return def.length ?? 1;
  }
}

/**
 * Encodes an engineering value to register words (uint16 each) per the definition. Integers are
 * rounded and clamped to the type's range (a real device saturates, it does not wrap).
 */
export function encodeRegisters(def: RegisterDef, value: number | string | boolean): number[] {
  const words = registerCount(def);
  const buf = Buffer.alloc(words * 2);
  if (def.type === "string") {
    buf.write(String(value).slice(0, words * 2), "latin1");
  } else {
    const num = typeof value === "number" ? value : Number(value);
    const raw = (num - (def.offset ?? 0)) / (def.scale ?? 1);
    const int = (lo: number, hi: number): number => Math.min(hi, Math.max(lo, Math.round(raw)));
    switch (def.type) {
      case "bool":
      case "uint16":
        buf.writeUInt16BE(int(0, 0xffff));
        break;
      case "int16":
        buf.writeInt16BE(int(-0x8000, 0x7fff));
        break;
      case "int32":
        buf.writeInt32BE(int(-0x80000000, 0x7fffffff));
        break;
      case "uint32":
        buf.writeUInt32BE(int(0, 0xffffffff));
        break;
      case "float32":
        buf.writeFloatBE(raw);
        break;
      case "float64":
        buf.writeDoubleBE(raw);
        break;
    }
  }
  const out: number[] = [];
  for (let i = 0; i < words; i++) out.push(buf.readUInt16BE(i * 2));
  if (def.wordOrder === "LE" && def.type !== "string") out.reverse();
  if (def.byteOrder === "LE") return out.map((w) => ((w & 0xff) << 8) | (w >> 8));
  return out;
}

/** The inverse of encodeRegisters, for tests and tools. */
export function decodeRegisters(def: RegisterDef, words: number[]): number | string | boolean {
  let ws = def.byteOrder === "LE" ? words.map((w) => ((w & 0xff) << 8) | (w >> 8)) : [...words];
  if (def.wordOrder === "LE" && def.type !== "string") ws = ws.reverse();
  const buf = Buffer.alloc(ws.length * 2);
  ws.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  const scaled = (raw: number): number => raw * (def.scale ?? 1) + (def.offset ?? 0);
  switch (def.type) {
    case "bool":
      return buf.readUInt16BE(0) !== 0;
    case "uint16":
      return scaled(buf.readUInt16BE(0));
    case "int16":
      return scaled(buf.readInt16BE(0));
    case "int32":
      return scaled(buf.readInt32BE(0));
    case "uint32":
      return scaled(buf.readUInt32BE(0));
    case "float32":
      return scaled(buf.readFloatBE(0));
    case "float64":
      return scaled(buf.readDoubleBE(0));
    case "string":
      return buf.toString("latin1").replace(/\0+$/, "");
  }
}
