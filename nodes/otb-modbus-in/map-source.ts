/**
 * Where a register map comes from: the editor's table, or a JSON tag catalog file kept in the
 * repo so that IT reviews register maps as data. Relative paths resolve against the Node-RED
 * user directory, then the working directory, then the pack (so the shipped
 * `flows/catalog/simulator-modbus-map.json` loads by that name).
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError, num } from "../shared";
import { parseRegisterMap, type Order, type RegisterMap } from "./register-map";

export type DeviceOrder = { byteOrder?: Order; wordOrder?: Order };

const PACK_ROOT = path.resolve(__dirname, "..", "..", "..");

export function resolveMapFile(file: string, userDir?: string): string {
  if (path.isAbsolute(file)) return file;
  const candidates = [userDir, process.cwd(), PACK_ROOT].filter((d): d is string => !!d).map((d) => path.resolve(d, file));
  return candidates.find((c) => fs.existsSync(c)) ?? candidates[0];
}

export function loadMapFile(file: string, userDir?: string, deviceOrder: DeviceOrder = {}): RegisterMap {
  const resolved = resolveMapFile(file, userDir);
  let text: string;
  try {
    text = fs.readFileSync(resolved, "utf8");
  } catch (err) {
    throw new ConfigError(`register map file ${resolved}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`register map file ${resolved} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseRegisterMap(json, deviceOrder);
  } catch (err) {
    throw new ConfigError(`register map file ${resolved}: ${(err as Error).message}`);
  }
}

export interface MapSourceDef {
  mapSource?: string;
  mapFile?: string;
  tags?: unknown;
  groups?: unknown;
  periodMs?: string | number;
}

export interface ResolvedMap extends RegisterMap {
  /** Poll period of every group that has tags, ms; 0 = only on an input message. */
  periods: Record<string, number>;
}

/** The map to poll: table or file, with periods from the form, else the file, else the node default. */
export function resolveMap(def: MapSourceDef, userDir?: string, deviceOrder: DeviceOrder = {}): ResolvedMap {
  const map = def.mapSource === "file"
    ? (() => {
        if (!def.mapFile || !String(def.mapFile).trim()) throw new ConfigError("register map file is required");
        return loadMapFile(String(def.mapFile).trim(), userDir, deviceOrder);
      })()
    : parseRegisterMap(typeof def.tags === "string" ? JSON.parse(def.tags || "[]") : (def.tags ?? []), deviceOrder);
  if (map.tags.length === 0) throw new ConfigError("the register map has no tags");
  const formGroups: Record<string, number> = {};
  if (Array.isArray(def.groups)) {
    for (const g of def.groups as Array<{ name?: string; periodMs?: unknown }>) {
      const name = String(g?.name ?? "").trim();
      if (name) formGroups[name] = num(g.periodMs, NaN, 0);
    }
  }
  const fallback = num(def.periodMs, 1000, 0);
  const periods: Record<string, number> = {};
  for (const t of map.tags) {
    if (periods[t.group] !== undefined) continue;
    const p = [formGroups[t.group], map.groupPeriods[t.group], fallback].find((v) => v !== undefined && Number.isFinite(v));
    periods[t.group] = p ?? fallback;
  }
  return { ...map, periods };
}
