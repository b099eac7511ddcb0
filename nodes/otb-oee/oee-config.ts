/** Reading otb-oee's editor configuration; shared by the node, its tests and lint. */
import { bool, ConfigError, num, type NodeDef } from "../shared";
import { parseBusinessCase, type BusinessCase } from "../shared/outcomes/business-case";
import type { Counting } from "../shared/outcomes/oee";
import { readJsonFile } from "../shared/outcomes/state-file";

export interface OtbOeeDef extends NodeDef {
  line: string;
  stateFrom?: "context" | "tag";
  stateTag?: string;
  faultTag?: string;
  totalTag?: string;
  goodTag?: string;
  rejectTag?: string;
  energyTag?: string;
  /** Unit of the energy register: "kWh" (default) or "Wh" (e.g. the simulator's meter1.energy_total). */
  energyUnit?: string;
  counting?: string;
  idealCycleSec?: string | number;
  idealCycles?: string | Record<string, number>;
  microStopSec?: string | number;
  maxGapSec?: string | number;
  counterMax?: string | number;
  energyWrap?: string | number;
  startupSec?: string | number;
  windowMin?: string | number;
  windowEverySec?: string | number;
  followClock?: string | boolean;
  persist?: string | boolean;
  businessCaseFile?: string;
}

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

const COUNTINGS: Counting[] = ["total-reject", "total-good", "good-reject"];

export function readOeeConfig(def: OtbOeeDef, userDir: string | undefined): OeeSettings {
  const counting = COUNTINGS.includes(def.counting as Counting) ? (def.counting as Counting) : "total-reject";
  const tags = {
    state: String(def.stateTag ?? "").trim(), fault: String(def.faultTag ?? "").trim(), total: String(def.totalTag ?? "").trim(),
    good: String(def.goodTag ?? "").trim(), reject: String(def.rejectTag ?? "").trim(), energy: String(def.energyTag ?? "").trim(),
  };
  const stateFrom = def.stateFrom === "tag" ? "tag" : "context";
  if (stateFrom === "tag" && !tags.state) throw new ConfigError("a state tag is required when the state comes from a tag");
  const need: Record<Counting, Array<keyof typeof tags>> = { "total-reject": ["total", "reject"], "total-good": ["total", "good"], "good-reject": ["good", "reject"] };
  for (const k of need[counting]) if (!tags[k]) throw new ConfigError(`counting "${counting}" needs the ${k} counter tag`);
  const idealCycleSec = num(def.idealCycleSec, NaN, 0);
  if (!(idealCycleSec > 0)) throw new ConfigError("the ideal cycle time must be a positive number of seconds");
  let idealCycleByProduct: Record<string, number> = {};
  const raw = def.idealCycles;
  if (typeof raw === "string" && raw.trim()) {
    try {
      idealCycleByProduct = JSON.parse(raw) as Record<string, number>;
    } catch (err) {
      throw new ConfigError(`ideal cycle times per product are not valid JSON: ${(err as Error).message}`);
    }
  } else if (raw && typeof raw === "object") idealCycleByProduct = raw;
  for (const [p, s] of Object.entries(idealCycleByProduct)) {
    if (typeof s !== "number" || !(s > 0)) throw new ConfigError(`ideal cycle time of product "${p}" must be a positive number of seconds`);
  }
  let businessCase: BusinessCase | null = null;
  const bcFile = String(def.businessCaseFile ?? "").trim();
  if (bcFile) {
    try {
      businessCase = parseBusinessCase(readJsonFile(bcFile, userDir, "business case"));
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  const optional = (v: unknown): number | undefined => {
    const n = num(v, NaN, 1);
    return Number.isFinite(n) ? n : undefined;
  };
  return {
    stateFrom, tags, counting, idealCycleSec, idealCycleByProduct,
    microStopSec: num(def.microStopSec, 120, 0, 86_400),
    maxGapSec: num(def.maxGapSec, 60, 1, 86_400),
    counterMax: optional(def.counterMax),
    energyWrap: optional(def.energyWrap),
    energyScale: def.energyUnit === "Wh" ? 0.001 : 1,
    startupSec: num(def.startupSec, 0, 0, 86_400),
    windowMin: num(def.windowMin, 60, 1, 7 * 1440),
    windowEverySec: num(def.windowEverySec, 60, 0, 86_400),
    followClock: bool(def.followClock, true),
    persist: bool(def.persist, true),
    businessCase,
  };
}
