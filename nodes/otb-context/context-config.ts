/** otb-context's checked configuration (schema.ts) as the mode source; pure, so lint runs it too. */
import { ConfigError } from "../shared/errors";
import { readConfig, type ConfigOf } from "../shared/schema";
import type { Mode } from "../shared/types";
import type { ModeSourceConfig } from "./mode";
import { schema } from "./schema";

export type ContextFields = ConfigOf<typeof schema>;

export interface ContextSettings {
  cell?: string;
  asset?: string;
  mode: ModeSourceConfig;
  /** msg.topic that marks a context update (product/batch/order/mode). */
  contextTopic: string;
  persist: boolean;
}

/** As lint runs it (the line is resolved at deploy). */
export function parseContextConfig(def: Record<string, unknown>): ContextSettings {
  return contextSettings(readConfig(schema, def));
}

export function contextSettings(c: ContextFields): ContextSettings {
  return {
    mode: readMode(c),
    contextTopic: c.contextTopic,
    persist: c.persist,
    ...(c.cell ? { cell: c.cell } : {}),
    ...(c.asset ? { asset: c.asset } : {}),
  };
}

// The tag and threshold a mode needs are checked here rather than in the schema, so that every
// modeSource stays valid on its own (the editor and the agreement test judge one field at a time).
function readMode(c: ContextFields): ModeSourceConfig {
  if (c.modeSource === "none") return { kind: "none" };
  if (!c.modeTag) throw new ConfigError(`modeTag is required: the ${c.modeSource} mode needs the tag it reads`, { field: "modeTag" });
  if (c.modeSource === "state") return { kind: "state", tag: c.modeTag, map: stateMapOf(c.stateMap) };
  if (!Number.isFinite(c.threshold)) throw new ConfigError("threshold is required: the threshold mode needs the value below which the line is idle", { field: "threshold" });
  return { kind: "threshold", tag: c.modeTag, threshold: c.threshold, hysteresis: c.hysteresis };
}

/** Rows or an object, as schema.ts checked them. */
function stateMapOf(raw: unknown): Record<string, Mode> {
  const map: Record<string, Mode> = Object.create(null);
  if (Array.isArray(raw)) for (const row of raw as Array<{ value: unknown; mode: Mode }>) map[String(row.value).trim()] = row.mode;
  else if (raw && typeof raw === "object") Object.assign(map, raw);
  return map;
}
