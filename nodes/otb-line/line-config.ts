/** Parsing and validation of an otb-line's configuration, shared by the node and by `otbridge lint`. */
import { ConfigError, isSafeTopicLevel, ShiftCalendar, type Context, type ShiftAt, type ShiftDef } from "../shared";
import type { Node, NodeDef } from "../shared/red";

export interface OtbLineDef extends NodeDef {
  enterprise: string;
  site: string;
  area: string;
  line: string;
  timeZone: string;
  shifts: ShiftDef[] | string;
  defaultProduct?: string;
}

export interface OtbLineNode extends Node {
  /** Set when the configuration is unusable; users show it and refuse to run. */
  configError: string | null;
  users: Record<string, Node>;
  identity(): Context;
  shiftAt(ts: number): ShiftAt | null;
  timeZone: string;
  /** The parsed shift calendar (with planned stops), null when the config is unusable; otb-oee reads it. */
  calendar: ShiftCalendar | null;
}

const IDENTITY_FIELDS = ["enterprise", "site", "area", "line"] as const;

/** Parses the editor's config into a line, or throws a ConfigError naming the field. */
export function parseLineConfig(def: Partial<OtbLineDef>): { identity: Context; calendar: ShiftCalendar } {
  const identity = {} as Context;
  for (const field of IDENTITY_FIELDS) {
    const value = String(def[field] ?? "").trim();
    if (!value) throw new ConfigError(`${field} is required`);
    if (!isSafeTopicLevel(value)) throw new ConfigError(`${field} "${value}" cannot be a topic level (no / + # or leading $)`);
    identity[field] = value;
  }
  if (def.defaultProduct) identity.product = String(def.defaultProduct);
  let shifts: ShiftDef[] = [];
  if (typeof def.shifts === "string") {
    try {
      shifts = def.shifts.trim() ? (JSON.parse(def.shifts) as ShiftDef[]) : [];
    } catch (err) {
      throw new ConfigError(`shifts is not valid JSON: ${(err as Error).message}`);
    }
  } else if (Array.isArray(def.shifts)) {
    shifts = def.shifts;
  }
  const calendar = new ShiftCalendar(String(def.timeZone || "UTC"), shifts);
  return { identity, calendar };
}
