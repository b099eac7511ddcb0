/** The line an otb-line describes, from its checked configuration (schema.ts); lint runs the same. */
import { ConfigError } from "../shared/errors";
import { ShiftCalendar, type ShiftAt, type ShiftDef } from "../shared/shift-calendar";
import type { Context } from "../shared/types";
import type { Node, NodeDef } from "../shared/red";
import { readConfig, type ConfigOf } from "../shared/schema";
import { schema } from "./schema";

export type LineConfig = ConfigOf<typeof schema>;
export type OtbLineDef = NodeDef & Partial<Record<keyof LineConfig, unknown>>;

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

/** Identity and calendar of a checked config; a ConfigError when the shifts do not make a calendar. */
export function lineFromConfig(config: LineConfig): { identity: Context; calendar: ShiftCalendar } {
  const identity: Context = { enterprise: config.enterprise, site: config.site, area: config.area, line: config.line };
  if (config.defaultProduct) identity.product = config.defaultProduct;
  let calendar: ShiftCalendar;
  try {
    calendar = new ShiftCalendar(config.timeZone, config.shifts as ShiftDef[]);
  } catch (err) {
    throw new ConfigError(`shifts: ${(err as Error).message}`);
  }
  return { identity, calendar };
}

/** Parses a saved otb-line (as the runtime and `otbridge lint` do), or throws a ConfigError naming the field. */
export function parseLineConfig(def: Record<string, unknown>): { identity: Context; calendar: ShiftCalendar } {
  return lineFromConfig(readConfig(schema, def));
}
