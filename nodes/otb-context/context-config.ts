/** otb-context's checked configuration (schema.ts) as the mode source; pure, so lint runs it too. */
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

// schema.ts refuses a state or threshold mode without its tag, and a threshold mode without its threshold.
function readMode(c: ContextFields): ModeSourceConfig {
  if (c.modeSource === "none") return { kind: "none" };
  if (c.modeSource === "state") return { kind: "state", tag: c.modeTag, map: stateMapOf(c.stateMap) };
  return { kind: "threshold", tag: c.modeTag, threshold: c.threshold, hysteresis: c.hysteresis };
}

/** Rows or an object, as schema.ts checked them. */
function stateMapOf(raw: unknown): Record<string, Mode> {
  const map: Record<string, Mode> = Object.create(null);
  if (Array.isArray(raw)) for (const row of raw as Array<{ value: unknown; mode: Mode }>) map[String(row.value).trim()] = row.mode;
  else if (raw && typeof raw === "object") Object.assign(map, raw);
  return map;
}
