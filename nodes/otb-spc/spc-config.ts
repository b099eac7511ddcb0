/**
 * otb-spc's characteristics: one from the editor form, or many from a catalog file reviewed in
 * git. Each names the Signal tag, the chart, subgroup or sample size, the rules, the
 * specification (LSL, USL, target) and optionally fixed limits (then there is no phase I).
 */
import { bool, ConfigError, num, type NodeDef } from "../shared";
import { CHART_TYPES, isAttributeChart, type ChartType, type Limits } from "../shared/outcomes/spc-chart";
import { ALL_RULES, isRuleId, type RuleId } from "../shared/outcomes/spc-rules";
import { readJsonFile } from "../shared/outcomes/state-file";
import type { Spec } from "../shared/outcomes/capability";

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

export interface OtbSpcDef extends NodeDef {
  line?: string;
  source?: "form" | "file";
  catalogFile?: string;
  tag?: string;
  chart?: string;
  n?: string | number;
  baselinePoints?: string | number;
  rules?: string | string[];
  lsl?: string | number;
  usl?: string | number;
  target?: string | number;
  capabilityEvery?: string | number;
  persist?: string | boolean;
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

export function readSpcConfig(def: OtbSpcDef, userDir: string | undefined): SpcSettings {
  let characteristics: Characteristic[];
  let origin: string;
  if (def.source === "file") {
    const file = String(def.catalogFile ?? "").trim();
    if (!file) throw new ConfigError("a characteristics catalog file is required when characteristics come from a file");
    let doc: unknown;
    try {
      doc = readJsonFile(file, userDir, "SPC catalog");
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    const list = (doc as { characteristics?: unknown })?.characteristics;
    if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`SPC catalog ${file}: "characteristics" must be a non-empty array`);
    characteristics = list.map((c, i) => parseCharacteristic(c as Record<string, unknown>, `${file} characteristics[${i}]`));
    origin = file;
  } else {
    characteristics = [parseCharacteristic({ tag: def.tag, chart: def.chart, n: def.n, baselinePoints: def.baselinePoints, rules: def.rules, lsl: def.lsl, usl: def.usl, target: def.target }, "form")];
    origin = "form";
  }
  const tags = new Set<string>();
  for (const c of characteristics) {
    if (tags.has(c.tag)) throw new ConfigError(`tag "${c.tag}" has two characteristics`);
    tags.add(c.tag);
  }
  return { characteristics, origin, capabilityEvery: Math.trunc(num(def.capabilityEvery, 25, 0, 1e6)), persist: bool(def.persist, true) };
}
