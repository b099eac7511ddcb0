/** Reading otb-context's editor configuration; pure, so that tests and `otbridge lint` can share it. */
import { bool, ConfigError, num, type Mode, type NodeDef } from "../shared";
import { isMode, type ModeSourceConfig } from "./mode";

export interface OtbContextDef extends NodeDef {
  line?: string;
  cell?: string;
  asset?: string;
  modeSource?: string;
  modeTag?: string;
  /** State tag value -> mode, as rows [{value, mode}] (or their JSON). */
  stateMap?: unknown;
  threshold?: string | number;
  hysteresis?: string | number;
  contextTopic?: string;
  persist?: string | boolean;
}

export interface ContextSettings {
  lineId: string;
  cell?: string;
  asset?: string;
  mode: ModeSourceConfig;
  /** msg.topic that marks a context update (product/batch/order/mode). */
  contextTopic: string;
  persist: boolean;
}

export function readContextConfig(def: OtbContextDef): ContextSettings {
  const lineId = String(def.line ?? "").trim();
  if (!lineId) throw new ConfigError("choose an otb-line");
  const settings: ContextSettings = {
    lineId,
    mode: readMode(def),
    contextTopic: String(def.contextTopic ?? "").trim() || "context",
    persist: bool(def.persist, true),
  };
  const cell = String(def.cell ?? "").trim();
  const asset = String(def.asset ?? "").trim();
  if (cell) settings.cell = cell;
  if (asset) settings.asset = asset;
  return settings;
}

function readMode(def: OtbContextDef): ModeSourceConfig {
  const source = def.modeSource || "none";
  if (source === "none") return { kind: "none" };
  const tag = String(def.modeTag ?? "").trim();
  if (!tag) throw new ConfigError(`the ${source === "state" ? "state" : "threshold"} mode needs a tag`);
  if (source === "state") return { kind: "state", tag, map: readStateMap(def.stateMap) };
  if (source === "threshold") {
    const threshold = num(def.threshold, NaN);
    if (!Number.isFinite(threshold)) throw new ConfigError("the idle threshold must be a number");
    return { kind: "threshold", tag, threshold, hysteresis: num(def.hysteresis, 0, 0) };
  }
  throw new ConfigError(`unknown mode source "${source}"`);
}

function readStateMap(raw: unknown): Record<string, Mode> {
  let rows = raw ?? [];
  if (typeof rows === "string") {
    try {
      rows = rows.trim() ? JSON.parse(rows) : [];
    } catch (err) {
      throw new ConfigError(`state map is not valid JSON: ${(err as Error).message}`);
    }
  }
  const map: Record<string, Mode> = Object.create(null);
  if (Array.isArray(rows)) {
    for (const row of rows as Array<{ value?: unknown; mode?: unknown }>) {
      const key = String(row?.value ?? "").trim();
      if (!key) throw new ConfigError("every state map row needs a value");
      if (!isMode(row.mode)) throw new ConfigError(`state value "${key}" maps to unknown mode "${String(row.mode)}"`);
      map[key] = row.mode;
    }
  } else if (typeof rows === "object" && rows !== null) {
    for (const [key, mode] of Object.entries(rows)) {
      if (!isMode(mode)) throw new ConfigError(`state value "${key}" maps to unknown mode "${String(mode)}"`);
      map[key] = mode;
    }
  } else {
    throw new ConfigError("state map must be a list of {value, mode} rows");
  }
  return map;
}
