/**
 * Where a register map comes from: the editor's table, or a JSON tag catalog file kept in the
 * repo so that IT reviews register maps as data. A relative file is looked up in the Node-RED
 * user folder (ctx.userFile), then in this pack: the shipped examples and the pilot flow name
 * `flows/catalog/simulator-modbus-map.json`, which lives in the pack, not in the user's folder.
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../shared/errors";
import { num } from "../shared/node-kit";
import { parseRegisterMap, type Order, type RegisterMap } from "./register-map";
import { readConfig } from "../shared/schema";
import { schema, type ModbusInFields } from "./schema";

export type DeviceOrder = { byteOrder?: Order; wordOrder?: Order };

const PACK_ROOT = path.resolve(__dirname, "..", "..", "..");

/** The file to read: `userFile(file)` when it exists, else the pack's copy when that exists, else `userFile(file)` (the error names it). */
export function resolveMapFile(file: string, userFile: (file: string) => string = (f) => path.resolve(f)): string {
  const inUserDir = userFile(file);
  if (path.isAbsolute(file) || fs.existsSync(inUserDir)) return inUserDir;
  const inPack = path.resolve(PACK_ROOT, file);
  return fs.existsSync(inPack) ? inPack : inUserDir;
}

export function loadMapFile(file: string, userFile?: (file: string) => string, deviceOrder: DeviceOrder = {}): RegisterMap {
  const resolved = resolveMapFile(file, userFile);
  let text: string;
  try {
    text = fs.readFileSync(resolved, "utf8");
  } catch (err) {
    throw new ConfigError(`mapFile ${resolved}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`mapFile ${resolved} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseRegisterMap(json, deviceOrder);
  } catch (err) {
    throw new ConfigError(`mapFile ${resolved}: ${(err as Error).message}`);
  }
}

export interface ResolvedMap extends RegisterMap {
  /** Poll period of every group that has tags, ms; 0 = only on an input message. */
  periods: Record<string, number>;
}

/** The table's map (pure: lint runs it), or a ConfigError naming the row. */
export function tableMap(config: Pick<ModbusInFields, "tags">, deviceOrder: DeviceOrder = {}): RegisterMap {
  try {
    return parseRegisterMap(config.tags ?? [], deviceOrder);
  } catch (err) {
    throw new ConfigError(`tags: ${(err as Error).message}`);
  }
}

/** The map to poll: table or file, with periods from the form, else the file, else the node default. */
export function resolveMap(config: ModbusInFields, userFile: (file: string) => string, deviceOrder: DeviceOrder = {}): ResolvedMap {
  const map = config.mapSource === "file" ? loadMapFile(config.mapFile, userFile, deviceOrder) : tableMap(config, deviceOrder);
  if (map.tags.length === 0) throw new ConfigError("the register map has no tags");
  const formGroups: Record<string, number> = {};
  if (Array.isArray(config.groups)) {
    for (const g of config.groups as Array<{ name?: string; periodMs?: unknown }>) {
      const name = String(g?.name ?? "").trim();
      if (name) formGroups[name] = num(g.periodMs, NaN, 0);
    }
  }
  const fallback = config.periodMs;
  const periods: Record<string, number> = {};
  for (const t of map.tags) {
    if (periods[t.group] !== undefined) continue;
    const p = [formGroups[t.group], map.groupPeriods[t.group], fallback].find((v) => v !== undefined && Number.isFinite(v));
    periods[t.group] = p ?? fallback;
  }
  return { ...map, periods };
}

/** A saved otb-modbus-in as lint reads it (pure: a map file is not read, the table is). */
export function parseModbusInConfig(def: Record<string, unknown>): RegisterMap | null {
  const config = readConfig(schema, def);
  return config.mapSource === "file" ? null : tableMap({ tags: rowsKnownNow(config.tags) });
}

/** Table rows without a whole ${VAR} value: Node-RED substitutes those at deploy, lint cannot judge them. */
function rowsKnownNow(rows: unknown): unknown {
  if (!Array.isArray(rows)) return rows;
  const env = (v: unknown): boolean => typeof v === "string" && /^\$\{[^}]+\}$/.test(v.trim());
  return rows.filter((row) => !(row && typeof row === "object" && Object.values(row as Record<string, unknown>).some(env)));
}
