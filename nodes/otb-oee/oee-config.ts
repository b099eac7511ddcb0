/** otb-oee's checked configuration (schema.ts) as engine settings; shared by the node, its tests and lint. */
import { ConfigError } from "../shared/errors";
import { parseBusinessCase, type BusinessCase } from "../shared/outcomes/business-case";
import type { Counting } from "../shared/outcomes/oee";
import { readJsonFile } from "../shared/outcomes/state-file";
import { readConfig, type ConfigOf } from "../shared/schema";
import { schema } from "./schema";

export type OeeFields = ConfigOf<typeof schema>;

export interface OeeSettings {
  stateFrom: "context" | "tag";
  tags: { state: string; fault: string; total: string; good: string; reject: string; energy: string };
  counting: Counting;
  idealCycleSec: number;
  idealCycleByProduct: Record<string, number>;
  microStopSec: number;
  maxGapSec: number;
  counterMax?: number;
  energyWrap?: number;
  /** Factor from the register's unit to kWh. */
  energyScale: number;
  startupSec: number;
  windowMin: number;
  windowEverySec: number;
  followClock: boolean;
  persist: boolean;
  businessCase: BusinessCase | null;
}

/** As lint runs it: the fields and the tags they need (the business case file is read at deploy). */
export function parseOeeConfig(def: Record<string, unknown>): OeeSettings {
  return oeeSettings(readConfig(schema, def), null);
}

/** `readFile` reads the business case file (relative to userDir); null leaves it unread. */
export function oeeSettings(c: OeeFields, readFile: ((file: string) => unknown) | null): OeeSettings {
  const tags = { state: c.stateTag, fault: c.faultTag, total: c.totalTag, good: c.goodTag, reject: c.rejectTag, energy: c.energyTag };
  // schema.ts refuses a missing stateTag (state from a tag) and a missing tag of the two counters counting names.
  let businessCase: BusinessCase | null = null;
  if (c.businessCaseFile && readFile) {
    try {
      businessCase = parseBusinessCase(readFile(c.businessCaseFile));
    } catch (err) {
      throw new ConfigError((err as Error).message, { field: "businessCaseFile" });
    }
  }
  const optional = (n: number): number | undefined => (Number.isFinite(n) ? n : undefined);
  return {
    stateFrom: c.stateFrom,
    tags,
    counting: c.counting,
    idealCycleSec: c.idealCycleSec,
    // A blank field takes the default, which is the form's JSON text.
    idealCycleByProduct: (typeof c.idealCycles === "string" ? JSON.parse(c.idealCycles) : c.idealCycles) as Record<string, number>,
    microStopSec: c.microStopSec,
    maxGapSec: c.maxGapSec,
    counterMax: optional(c.counterMax),
    energyWrap: optional(c.energyWrap),
    energyScale: c.energyUnit === "Wh" ? 0.001 : 1,
    startupSec: c.startupSec,
    windowMin: c.windowMin,
    windowEverySec: c.windowEverySec,
    followClock: c.followClock,
    persist: c.persist,
    businessCase,
  };
}

/** The business case file of a node, read as JSON; `resolve` gives its path (relative to userDir). */
export function businessCaseReader(resolve: (file: string) => string): (file: string) => unknown {
  return (file) => readJsonFile(resolve(file), undefined, "business case");
}
