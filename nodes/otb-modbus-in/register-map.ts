/**
 * The typed register map of otb-modbus-in: one row per tag (area, address, data type, byte and
 * word order, scale/offset, unit, poll group). Rows come from the editor's table or from a JSON
 * tag catalog in the repo; parseRegisterMap() normalises both, and is deliberately tolerant of
 * the spellings a catalog may use (the simulator's `flows/catalog/simulator-modbus-map.json`
 * loads as is), but strict about meaning: an unknown type or an address out of range is a
 * ConfigError naming the row, never a silent default.
 */
import { ConfigError } from "../shared";

export type Area = "coil" | "discrete" | "holding" | "input";
export type DataType = "bool" | "int16" | "uint16" | "int32" | "uint32" | "float32" | "float64" | "string";
export type Order = "big" | "little";

export const AREAS: readonly Area[] = ["coil", "discrete", "holding", "input"];
export const DATA_TYPES: readonly DataType[] = ["bool", "int16", "uint16", "int32", "uint32", "float32", "float64", "string"];

export interface TagDef {
  tag: string;
  area: Area;
  /** Zero-based protocol address (the number on the wire, not a 4xxxx reference). */
  address: number;
  type: DataType;
  /** Registers a string occupies (2 characters each); 1 for other types' own width. */
  length: number;
  /** Byte order inside each 16-bit register: big = AB (Modbus standard), little = BA. */
  byteOrder: Order;
  /** Register order of 32/64-bit values: big = high word first (ABCD), little = low word first (CDAB). */
  wordOrder: Order;
  /** Bit of a holding/input register read as bool (0 = least significant); absent = register != 0. */
  bit?: number;
  scale: number;
  offset: number;
  unit?: string;
  group: string;
  /** Overrides the device's unit id (several slaves on one RS-485 wire). */
  unitId?: number;
  /** "clock": the unit's real-time clock (epoch ms after scale/offset) stamps its polls (device-clock.ts). */
  role?: "clock";
}

export const DEFAULT_GROUP = "default";

/** Registers (or bits, for coil/discrete) a tag occupies on the wire. */
export function tagWidth(t: Pick<TagDef, "area" | "type" | "length">): number {
  if (t.area === "coil" || t.area === "discrete") return 1;
  switch (t.type) {
    case "int32":
    case "uint32":
    case "float32":
      return 2;
    case "float64":
      return 4;
    case "string":
      return t.length;
    default:
      return 1;
  }
}

const AREA_ALIASES: Record<string, Area> = {
  coil: "coil", coils: "coil", co: "coil", "0x": "coil",
  discrete: "discrete", "discrete-input": "discrete", discreteinput: "discrete", "discrete input": "discrete", discreteinputs: "discrete", di: "discrete", "1x": "discrete",
  holding: "holding", "holding-register": "holding", holdingregister: "holding", "holding register": "holding", holdingregisters: "holding", hr: "holding", "4x": "holding",
  input: "input", "input-register": "input", inputregister: "input", "input register": "input", inputregisters: "input", ir: "input", "3x": "input",
};

const TYPE_ALIASES: Record<string, DataType> = {
  bool: "bool", boolean: "bool", bit: "bool",
  int16: "int16", short: "int16", int: "int16", uint16: "uint16", word: "uint16", ushort: "uint16",
  int32: "int32", dint: "int32", long: "int32", uint32: "uint32", udint: "uint32", dword: "uint32",
  float32: "float32", float: "float32", real: "float32", float64: "float64", double: "float64", lreal: "float64",
  string: "string", str: "string", ascii: "string",
};

/** "ABCD" style orders, as many device manuals print them, mapped to byte/word order. */
const COMBINED_ORDERS: Record<string, { byteOrder: Order; wordOrder: Order }> = {
  ABCD: { byteOrder: "big", wordOrder: "big" },
  CDAB: { byteOrder: "big", wordOrder: "little" },
  BADC: { byteOrder: "little", wordOrder: "big" },
  DCBA: { byteOrder: "little", wordOrder: "little" },
};

function pick(row: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (row[n] !== undefined && row[n] !== null && row[n] !== "") return row[n];
  return undefined;
}

function order(value: unknown, what: string, where: string): Order | undefined {
  if (value === undefined) return undefined;
  const v = String(value).trim().toLowerCase();
  if (v === "big" || v === "be" || v === "msb" || v === "high") return "big";
  if (v === "little" || v === "le" || v === "lsb" || v === "low" || v === "swap" || v === "swapped") return "little";
  throw new ConfigError(`${where}: ${what} "${String(value)}" must be big or little`);
}

function finite(value: unknown, fallback: number, what: string, where: string): number {
  if (value === undefined) return fallback;
  const n = typeof value === "number" ? value : Number(String(value).trim());
  if (!Number.isFinite(n)) throw new ConfigError(`${where}: ${what} "${String(value)}" is not a number`);
  return n;
}

/** One row (from the editor table or a catalog) to a TagDef; throws a ConfigError naming the row. */
export function parseTagRow(raw: unknown, index: number, defaults: { group?: string; byteOrder?: Order; wordOrder?: Order } = {}): TagDef {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`row ${index + 1}: not an object`);
  const row = raw as Record<string, unknown>;
  const tag = String(pick(row, "tag", "name", "id") ?? "").trim();
  const where = `row ${index + 1}${tag ? ` (${tag})` : ""}`;
  if (!tag) throw new ConfigError(`${where}: tag is required`);

  const areaRaw = String(pick(row, "area", "table", "register", "registerType", "kind", "fc") ?? "holding").trim().toLowerCase();
  const area = AREA_ALIASES[areaRaw] ?? ({ "1": "coil", "2": "discrete", "3": "holding", "4": "input" } as Record<string, Area>)[areaRaw];
  if (!area) throw new ConfigError(`${where}: area "${areaRaw}" must be one of ${AREAS.join(", ")}`);

  const address = finite(pick(row, "address", "addr", "register_address"), NaN, "address", where);
  if (!Number.isInteger(address) || address < 0 || address > 65535) throw new ConfigError(`${where}: address must be a whole number 0..65535`);

  const bitArea = area === "coil" || area === "discrete";
  const typeRaw = String(pick(row, "type", "dataType", "datatype") ?? (bitArea ? "bool" : "uint16")).trim().toLowerCase();
  const type = TYPE_ALIASES[typeRaw];
  if (!type) throw new ConfigError(`${where}: type "${typeRaw}" must be one of ${DATA_TYPES.join(", ")}`);
  if (bitArea && type !== "bool") throw new ConfigError(`${where}: a ${area} is a single bit, so its type must be bool`);

  let length = 1;
  if (type === "string") {
    length = finite(pick(row, "length", "registers", "count", "words", "size"), NaN, "length", where);
    if (!Number.isInteger(length) || length < 1 || length > 125) throw new ConfigError(`${where}: a string needs length 1..125 registers`);
  }

  let byteOrder = order(pick(row, "byteOrder", "byte_order", "byteorder"), "byte order", where);
  let wordOrder = order(pick(row, "wordOrder", "word_order", "wordorder"), "word order", where);
  const combined = pick(row, "order", "endianness", "endian");
  if (combined !== undefined) {
    const c = COMBINED_ORDERS[String(combined).trim().toUpperCase()];
    if (c) {
      byteOrder ??= c.byteOrder;
      wordOrder ??= c.wordOrder;
    } else {
      const o = order(combined, "order", where);
      byteOrder ??= o;
      wordOrder ??= o;
    }
  }

  const bitRaw = pick(row, "bit");
  let bit: number | undefined;
  if (bitRaw !== undefined) {
    bit = finite(bitRaw, NaN, "bit", where);
    if (!Number.isInteger(bit) || bit < 0 || bit > 15) throw new ConfigError(`${where}: bit must be 0..15`);
    if (type !== "bool" || bitArea) throw new ConfigError(`${where}: bit applies only to a bool read from a holding or input register`);
  }

  const unitIdRaw = pick(row, "unitId", "unit_id", "slave", "slaveId");
  let unitId: number | undefined;
  if (unitIdRaw !== undefined) {
    unitId = finite(unitIdRaw, NaN, "unit id", where);
    if (!Number.isInteger(unitId) || unitId < 0 || unitId > 255) throw new ConfigError(`${where}: unit id must be 0..255`);
  }

  const def: TagDef = {
    tag,
    area,
    address,
    type,
    length,
    byteOrder: byteOrder ?? defaults.byteOrder ?? "big",
    wordOrder: wordOrder ?? defaults.wordOrder ?? "big",
    scale: finite(pick(row, "scale", "gain", "factor"), 1, "scale", where),
    offset: finite(pick(row, "offset"), 0, "offset", where),
    group: String(pick(row, "group", "pollGroup", "poll_group") ?? defaults.group ?? DEFAULT_GROUP).trim() || DEFAULT_GROUP,
  };
  const unit = pick(row, "unit", "units", "engineeringUnit", "eu");
  if (unit !== undefined) def.unit = String(unit);
  if (bit !== undefined) def.bit = bit;
  if (unitId !== undefined) def.unitId = unitId;
  const role = pick(row, "role");
  if (role !== undefined) {
    if (String(role).trim().toLowerCase() !== "clock") throw new ConfigError(`${where}: role "${String(role)}" must be clock (or absent)`);
    if (type === "bool" || type === "string") throw new ConfigError(`${where}: a clock must be a number (Unix time), not ${type}`);
    def.role = "clock";
  }
  if (def.address + tagWidth(def) - 1 > 65535) throw new ConfigError(`${where}: runs past address 65535`);
  return def;
}

export interface RegisterMap {
  tags: TagDef[];
  /** Poll period per group, ms, where the map or the form states one. */
  groupPeriods: Record<string, number>;
}

/**
 * `deviceOrder` is the otb-modbus-device's default byte/word order, for rows and files that
 * state none. Accepts an array of rows, or an object holding one under tags/registers/points/map (a
 * catalog file), optionally with `groups` ({name: periodMs} or [{name, periodMs|period|interval}])
 * and file-wide `byteOrder`/`wordOrder` defaults. Duplicate tag names are refused: two values
 * under one name would be indistinguishable downstream.
 */
export function parseRegisterMap(input: unknown, deviceOrder: { byteOrder?: Order; wordOrder?: Order } = {}): RegisterMap {
  let rows: unknown;
  let groupsRaw: unknown;
  const defaults: { byteOrder?: Order; wordOrder?: Order; group?: string } = {};
  if (Array.isArray(input)) rows = input;
  else if (typeof input === "object" && input !== null) {
    const o = input as Record<string, unknown>;
    rows = o.tags ?? o.registers ?? o.points ?? o.map ?? o.signals;
    // A gateway catalog ({devices: [{unitId, registers: [...]}]}, as the simulator's map is):
    // each device's rows read from that unit id unless a row names its own.
    if (rows === undefined && Array.isArray(o.devices)) {
      rows = (o.devices as Array<Record<string, unknown>>).flatMap((d) => {
        const list = (d?.registers ?? d?.tags ?? []) as unknown[];
        if (!Array.isArray(list)) throw new ConfigError(`register map: device ${JSON.stringify(d?.name)} has no registers array`);
        const unitId = d.unitId ?? d.unit_id ?? d.slave;
        return list.map((r) => (unitId !== undefined && typeof r === "object" && r !== null && !("unitId" in r) ? { unitId, ...r } : r));
      });
    }
    groupsRaw = o.groups ?? o.pollGroups;
    defaults.byteOrder = order(o.byteOrder, "byte order", "map");
    defaults.wordOrder = order(o.wordOrder, "word order", "map");
    const combined = o.order !== undefined ? COMBINED_ORDERS[String(o.order).toUpperCase()] : undefined;
    if (combined) {
      defaults.byteOrder ??= combined.byteOrder;
      defaults.wordOrder ??= combined.wordOrder;
    }
    if (typeof o.group === "string") defaults.group = o.group;
  }
  if (!Array.isArray(rows)) throw new ConfigError("register map: expected an array of tags, or an object with a tags or devices array");
  // Order precedence: the row, then the map file, then the device, then the Modbus standard.
  defaults.byteOrder ??= deviceOrder.byteOrder;
  defaults.wordOrder ??= deviceOrder.wordOrder;
  const tags = rows.map((r, i) => parseTagRow(r, i, defaults));
  const seen = new Set<string>();
  for (const t of tags) {
    if (seen.has(t.tag)) throw new ConfigError(`register map: tag "${t.tag}" appears twice`);
    seen.add(t.tag);
  }
  return { tags, groupPeriods: parseGroups(groupsRaw) };
}

function parseGroups(raw: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (name: unknown, period: unknown): void => {
    const ms = Number(period);
    if (typeof name === "string" && name.trim() && Number.isFinite(ms) && ms >= 0) out[name.trim()] = ms;
    else throw new ConfigError(`poll group ${JSON.stringify(name)}: period ${JSON.stringify(period)} must be a number of ms >= 0`);
  };
  if (Array.isArray(raw)) {
    for (const g of raw as Array<Record<string, unknown>>) add(g?.name, g?.periodMs ?? g?.period ?? g?.intervalMs ?? g?.interval);
  } else if (typeof raw === "object" && raw !== null) {
    for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
      add(name, typeof v === "object" && v !== null ? ((v as Record<string, unknown>).periodMs ?? (v as Record<string, unknown>).period) : v);
    }
  }
  return out;
}
