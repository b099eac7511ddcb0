/**
 * otb-spc's characteristics: one from the editor form, or many from a catalog file reviewed in
 * git. Each names the Signal tag, the chart, subgroup or sample size, the rules, the
 * specification (LSL, USL, target) and optionally fixed limits (then there is no phase I).
 */
import { ConfigError } from "../shared/errors";
import { num } from "../shared/node-kit";
import { CHART_TYPES, isAttributeChart, type ChartType, type Limits } from "../shared/outcomes/spc-chart";
import { ALL_RULES, isRuleId, type RuleId } from "../shared/outcomes/spc-rules";
import type { Spec } from "../shared/outcomes/capability";
import { readConfig, type ConfigOf } from "../shared/schema";
import { schema } from "./schema";

export type SpcFields = ConfigOf<typeof schema>;

export interface Characteristic {
  tag: string;
  name: string;
  chart: ChartType;
  /** Subgroup size (X-bar) or constant sample size (p, np); inspection units per sample (u). */
  n: number;
  baselinePoints: number;
  rules: RuleId[];
  spec: Spec;
  limits?: Limits;
}

export interface SpcSettings {
  characteristics: Characteristic[];
  origin: string;
  capabilityEvery: number;
  persist: boolean;
}

const DEFAULT_RULES: RuleId[] = ["nelson1", "nelson2", "nelson3", "nelson5", "nelson6"];

function optNum(v: unknown): number | undefined {
  if (v === undefined || v === null || (typeof v === "string" && v.trim() === "")) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function parseCharacteristic(raw: Record<string, unknown>, where: string): Characteristic {
  const tag = String(raw.tag ?? "").trim();
  if (!tag) throw new ConfigError(`${where}: tag is required`);
  const chart = String(raw.chart ?? "imr") as ChartType;
  if (!CHART_TYPES.includes(chart)) throw new ConfigError(`${where}: chart "${chart}" is not one of ${CHART_TYPES.join(", ")}`);
  const n = Math.trunc(num(raw.n, chart === "imr" || chart === "c" ? 1 : 5, 1, 1e9));
  if ((chart === "xbar-r" || chart === "xbar-s") && (n < 2 || n > 25)) throw new ConfigError(`${where}: subgroup size ${n} must be 2..25 for ${chart}`);
  let rules: RuleId[] = DEFAULT_RULES;
  if (raw.rules !== undefined) {
    const list = Array.isArray(raw.rules) ? raw.rules : String(raw.rules).split(/[\s,]+/).filter(Boolean);
    const bad = list.find((r) => !isRuleId(r));
    if (bad !== undefined) throw new ConfigError(`${where}: rule "${bad}" is not one of ${ALL_RULES.join(", ")}`);
    rules = list as RuleId[];
  }
  const spec: Spec = { lsl: optNum((raw.spec as Record<string, unknown> | undefined)?.lsl ?? raw.lsl), usl: optNum((raw.spec as Record<string, unknown> | undefined)?.usl ?? raw.usl), target: optNum((raw.spec as Record<string, unknown> | undefined)?.target ?? raw.target) };
  if (spec.lsl !== undefined && spec.usl !== undefined && spec.lsl >= spec.usl) throw new ConfigError(`${where}: LSL ${spec.lsl} must be below USL ${spec.usl}`);
  let limits: Limits | undefined;
  if (raw.limits !== undefined) {
    const l = raw.limits as Record<string, unknown>;
    const center = optNum(l.center);
    const sigma = optNum(l.sigma);
    if (center === undefined || (sigma === undefined && !isAttributeChart(chart))) throw new ConfigError(`${where}: fixed limits need center and sigma`);
    limits = { center, sigma: sigma ?? Math.sqrt(Math.abs(center)), ...(optNum(l.dispersion) !== undefined ? { dispersion: optNum(l.dispersion) } : {}), ...(chart === "np" ? { n } : {}) };
  }
  return { tag, name: String(raw.name ?? tag), chart, n, baselinePoints: Math.trunc(num(raw.baselinePoints, 25, 2, 10_000)), rules, spec, ...(limits ? { limits } : {}) };
}

/** As lint runs it: the fields and the form's characteristic (a catalog file is read only at deploy). */
export function parseSpcConfig(def: Record<string, unknown>): SpcSettings {
  return spcSettings(readConfig(schema, def), def, null);
}

/**
 * The settings of a checked config. `saved` is the saved node: a rules field saved blank means
 * no rules (every box unticked), where readConfig would give the default. `readCatalog` reads the
 * catalog file (relative to userDir); null leaves a file's characteristics out.
 */
export function spcSettings(c: SpcFields, saved: Record<string, unknown>, readCatalog: ((file: string) => unknown) | null): SpcSettings {
  let characteristics: Characteristic[] = [];
  let origin = "form";
  if (c.source === "file") {
    origin = c.catalogFile;
    if (readCatalog) {
      let doc: unknown;
      try {
        doc = readCatalog(c.catalogFile);
      } catch (err) {
        throw new ConfigError((err as Error).message, { field: "catalogFile" });
      }
      const list = (doc as { characteristics?: unknown })?.characteristics;
      if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`SPC catalog ${c.catalogFile}: "characteristics" must be a non-empty array`, { field: "catalogFile" });
      characteristics = list.map((item, i) => parseCharacteristic(item as Record<string, unknown>, `${c.catalogFile} characteristics[${i}]`));
    }
  } else {
    const opt = (n: number): number | undefined => (Number.isFinite(n) ? n : undefined);
    const rules = saved.rules === undefined || saved.rules === null ? undefined : String(saved.rules).trim() === "" ? "" : c.rules;
    characteristics = [parseCharacteristic({ tag: c.tag, chart: c.chart, n: opt(c.n), baselinePoints: c.baselinePoints, rules, lsl: opt(c.lsl), usl: opt(c.usl), target: opt(c.target) }, "form")];
  }
  const tags = new Set<string>();
  for (const ch of characteristics) {
    if (tags.has(ch.tag)) throw new ConfigError(`tag "${ch.tag}" has two characteristics`);
    tags.add(ch.tag);
  }
  return { characteristics, origin, capabilityEvery: c.capabilityEvery, persist: c.persist };
}
