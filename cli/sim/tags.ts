/**
 * The simulated line's tags: one table that the OPC UA server, the MQTT sensors, the tag
 * catalog (flows/catalog/simulator-opcua-tags.json) and the tests all read, so a tag's name,
 * unit and range are written down once.
 *
 * Tag ids follow DESIGN.md ("<asset>.<tag>", e.g. "pump1.motor.current"). On OPC UA a tag is
 * `ns=1;s=<line>.<asset>.<tag>` and browsable as Objects/<line>/<asset>/<tag>.
 */
export const LINE_NAME = "line1";

export type TagType = "Double" | "UInt32" | "UInt16" | "String" | "Boolean";

export interface TagDef {
  /** Stable id within the line (the Signal tag). */
  tag: string;
  asset: string;
  /** Name under the asset (browse name), e.g. "motor.current". */
  name: string;
  type: TagType;
  unit?: string;
  /** Engineering range (OPC UA EURange): the instrument's span, not the normal band. */
  range?: { low: number; high: number };
  description: string;
}

function t(asset: string, name: string, type: TagType, description: string, unit?: string, low?: number, high?: number): TagDef {
  return { tag: `${asset}.${name}`, asset, name, type, unit, range: low !== undefined && high !== undefined ? { low, high } : undefined, description };
}

/** Tags served by the OPC UA server (the line PLC). */
export const OPCUA_TAGS: readonly TagDef[] = [
  t("pump1", "motor.current", "Double", "Motor phase current", "A", 0, 10),
  t("pump1", "motor.voltage", "Double", "Motor supply voltage", "V", 0, 400),
  t("pump1", "motor.temperature", "Double", "Motor winding temperature", "°C", -20, 150),
  t("pump1", "discharge.pressure", "Double", "Pump discharge pressure (gauge)", "bar", -2, 10),
  t("pump1", "flow", "Double", "Volume flow rate", "l/min", 0, 200),
  t("pump1", "fluid.temperature", "Double", "Process fluid temperature", "°C", -20, 120),
  t("pump1", "valve.position", "Double", "Discharge throttle valve opening", "%", 0, 100),
  t("line", "state", "String", "Line state: running, idle, changeover or maintenance"),
  t("line", "state_code", "UInt16", "Line state as a number: 1 running, 2 idle, 3 changeover, 4 maintenance"),
  t("line", "part_count", "UInt32", "Good parts produced since start", "parts", 0, 4294967295),
  t("line", "product", "String", "Product being made"),
  t("line", "batch", "String", "Current batch id"),
  t("line", "order", "String", "Current production order"),
];

/** Retrofit vibration sensors on MQTT (JSON and Sparkplug B). */
export const VIBRATION_TAGS: readonly TagDef[] = [
  t("pump1", "vibration.de_rms", "Double", "Vibration RMS, drive end bearing", "g", 0, 2),
  t("pump1", "vibration.nde_rms", "Double", "Vibration RMS, non-drive end bearing", "g", 0, 2),
];

export const ALL_PHYSICAL_TAGS: readonly TagDef[] = [...OPCUA_TAGS, ...VIBRATION_TAGS];

export function findTag(tag: string): TagDef | undefined {
  return ALL_PHYSICAL_TAGS.find((d) => d.tag === tag);
}

export function opcuaNodeId(def: TagDef, line = LINE_NAME): string {
  return `ns=1;s=${line}.${def.tag}`;
}

export const STATE_CODES = { running: 1, idle: 2, changeover: 3, maintenance: 4 } as const;
export type LineState = keyof typeof STATE_CODES;
