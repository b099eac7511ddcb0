/**
 * One control chart for one characteristic, free of Node-RED. Phase I collects a baseline of
 * points, computes limits, drops the points that are out of control (beyond 3 sigma on the
 * location or the dispersion chart), recomputes, and reports what it excluded; or the limits
 * come fixed from a reviewed catalog. Phase II judges every new point against those limits with
 * the selected run rules and raises/clears one event per rule.
 * Formulas: NIST/SEMATECH e-Handbook of Statistical Methods, sections 6.3.2 (X-bar/R, X-bar/S,
 * individuals/moving range) and 6.3.3 (p, np, c, u); Montgomery, Introduction to SQC, ch. 6-7.
 */
import { at } from "../checked";
import { constants } from "./spc-constants";
import { RuleChecker, RULE_TEXT, type RuleId } from "./spc-rules";

export type ChartType = "imr" | "xbar-r" | "xbar-s" | "p" | "np" | "c" | "u";
export const CHART_TYPES: readonly ChartType[] = ["imr", "xbar-r", "xbar-s", "p", "np", "c", "u"];
export const isAttributeChart = (t: ChartType): boolean => t === "p" || t === "np" || t === "c" || t === "u";

/** An attribute observation: nonconforming items (p, np) or defects (c, u) in a sample. */
export interface AttributeSample {
  count: number;
  /** Items inspected (p, np) or inspection units (u); c uses 1. */
  size: number;
}

export interface Limits {
  /** Centre line of the plotted statistic (x-bar, x, p, np, c or u). */
  center: number;
  /** Sigma of one individual (variables) or the attribute rate's own parameter; see sigmaOf. */
  sigma: number;
  /** Centre of the dispersion chart (R-bar, S-bar or MR-bar); variables only. */
  dispersion?: number;
  /** Fixed sample size for np (and for display of p/u limits when constant). */
  n?: number;
}

export interface ChartPoint {
  index: number;
  ts: number;
  /** The plotted statistic. */
  value: number;
  /** Range, standard deviation or moving range of this point (variables charts). */
  dispersion?: number;
  size?: number;
  center: number;
  ucl: number;
  lcl: number;
  dispersionLimits?: { center: number; ucl: number; lcl: number };
  /** Distance from the centre in sigmas of this point. */
  z: number;
  violations: RuleId[];
  /** Dispersion chart beyond its limits (its rule 1). */
  dispersionOut: boolean;
  phase: "baseline" | "monitor";
}

export interface Exclusion {
  index: number;
  ts: number;
  value: number;
  reason: string;
}

export interface BaselineReport {
  points: number;
  used: number;
  excluded: Exclusion[];
  iterations: number;
  limits: Limits;
}

export interface RuleEvent {
  state: "raised" | "cleared";
  rule: RuleId | "dispersion";
  text: string;
  point: ChartPoint;
}

interface RawPoint {
  ts: number;
  value: number;
  dispersion?: number;
  size: number;
  values?: number[];
}

export interface ChartOptions {
  type: ChartType;
  /** Subgroup size for X-bar charts (2..25); fixed sample size for np. */
  n?: number;
  rules: RuleId[];
  /** Points (subgroups) collected before limits are computed in phase I. */
  baselinePoints?: number;
  /** Limits fixed from a catalog: no phase I. */
  limits?: Limits;
}

const MAX_ITERATIONS = 10;

export class ControlChart {
  readonly type: ChartType;
  readonly n: number;
  private limits: Limits | null;
  private readonly baselinePoints: number;
  private readonly baseline: RawPoint[] = [];
  private readonly pending: Array<{ ts: number; value: number }> = [];
  private readonly checker: RuleChecker;
  private readonly active = new Set<string>();
  private index = 0;
  private lastIndividual: number | null = null;
  report: BaselineReport | null = null;
  /** Every individual value that went into the chart, for capability (bounded). */
  readonly individuals: number[] = [];
  private readonly maxIndividuals = 10_000;

  constructor(readonly options: ChartOptions) {
    this.type = options.type;
    this.n = options.type === "imr" ? 1 : Math.trunc(options.n ?? (isAttributeChart(options.type) ? 1 : 5));
    if ((this.type === "xbar-r" || this.type === "xbar-s") && (this.n < 2 || this.n > 25)) {
      throw new RangeError(`subgroup size n=${options.n} must be 2..25 for ${this.type}`);
    }
    if (this.type === "xbar-s" && this.n < 2) throw new RangeError("X-bar/S needs n >= 2");
    this.limits = options.limits ?? null;
    this.baselinePoints = Math.max(2, Math.trunc(options.baselinePoints ?? 25));
    this.checker = new RuleChecker(options.rules);
  }

  get currentLimits(): Limits | null {
    return this.limits;
  }

  get phase(): "baseline" | "monitor" {
    return this.limits ? "monitor" : "baseline";
  }

  /** Adds one measurement (variables charts). Returns the point when a subgroup completes. */
  addValue(value: number, ts: number): { point: ChartPoint | null; events: RuleEvent[]; baseline?: BaselineReport } {
    if (isAttributeChart(this.type)) throw new TypeError(`${this.type} chart takes attribute samples, not measurements`);
    if (!Number.isFinite(value)) throw new TypeError("measurement is not a finite number");
    if (this.individuals.length >= this.maxIndividuals) this.individuals.shift();
    this.individuals.push(value);
    if (this.type === "imr") {
      const mr = this.lastIndividual === null ? undefined : Math.abs(value - this.lastIndividual);
      this.lastIndividual = value;
      return this.addRaw({ ts, value, dispersion: mr, size: 1 });
    }
    this.pending.push({ ts, value });
    if (this.pending.length < this.n) return { point: null, events: [] };
    const values = this.pending.splice(0).map((p) => p.value);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const dispersion = this.type === "xbar-r" ? Math.max(...values) - Math.min(...values) : stdev(values, mean);
    return this.addRaw({ ts, value: mean, dispersion, size: this.n, values });
  }

  /** Adds one attribute sample (p, np, c, u). */
  addSample(sample: AttributeSample, ts: number): { point: ChartPoint | null; events: RuleEvent[]; baseline?: BaselineReport } {
    if (!isAttributeChart(this.type)) throw new TypeError(`${this.type} chart takes measurements, not attribute samples`);
    const { count } = sample;
    const size = this.type === "c" ? 1 : this.type === "np" ? (this.options.n ?? sample.size) : sample.size;
    if (!Number.isFinite(count) || count < 0) throw new RangeError(`count ${count} must be a non-negative number`);
    if (!Number.isFinite(size) || size <= 0) throw new RangeError(`sample size ${size} must be positive`);
    if ((this.type === "p" || this.type === "np") && count > size) throw new RangeError(`count ${count} exceeds the sample size ${size}`);
    if (this.type === "np" && this.options.n && sample.size && sample.size !== this.options.n) {
      throw new RangeError(`np chart needs a constant sample size ${this.options.n}; got ${sample.size} (use a p chart)`);
    }
    const value = this.type === "p" ? count / size : this.type === "u" ? count / size : count;
    return this.addRaw({ ts, value, size });
  }

  private addRaw(raw: RawPoint): { point: ChartPoint | null; events: RuleEvent[]; baseline?: BaselineReport } {
    const index = this.index++;
    if (!this.limits) {
      this.baseline.push(raw);
      if (this.baseline.length < this.baselinePoints) {
        const point: ChartPoint = {
          index, ts: raw.ts, value: raw.value, dispersion: raw.dispersion, size: raw.size,
          center: NaN, ucl: NaN, lcl: NaN, z: NaN, violations: [], dispersionOut: false, phase: "baseline",
        };
        return { point, events: [] };
      }
      const report = this.computeBaseline(index - this.baseline.length + 1);
      this.limits = report.limits;
      this.report = report;
      this.baseline.length = 0;
      return { point: null, events: [], baseline: report };
    }
    const point = this.judge(raw, this.limits, index);
    const violations = point.violations.filter((r) => this.checkerRules.has(r));
    point.violations = violations;
    return { point, events: this.transitions(point) };
  }

  private get checkerRules(): Set<RuleId> {
    return new Set(this.checker.rules);
  }

  /** Limits for one point: attribute charts with a varying sample size get their own. */
  private judge(raw: RawPoint, L: Limits, index: number): ChartPoint {
    const { center, sd } = this.locationSigma(L, raw.size);
    const ucl = center + 3 * sd;
    const lcl = this.type === "imr" || this.type === "xbar-r" || this.type === "xbar-s" ? center - 3 * sd : Math.max(0, center - 3 * sd);
    const z = sd > 0 ? (raw.value - center) / sd : raw.value === center ? 0 : Math.sign(raw.value - center) * Infinity;
    const dl = this.dispersionLimits(L);
    const dispersionOut = dl !== undefined && raw.dispersion !== undefined && (raw.dispersion > dl.ucl || raw.dispersion < dl.lcl);
    return {
      index, ts: raw.ts, value: raw.value, dispersion: raw.dispersion, size: raw.size, center, ucl, lcl,
      ...(dl ? { dispersionLimits: dl } : {}), z, violations: this.checker.push(z), dispersionOut, phase: "monitor",
    };
  }

  private locationSigma(L: Limits, size: number): { center: number; sd: number } {
    switch (this.type) {
      case "imr":
        return { center: L.center, sd: L.sigma };
      case "xbar-r":
      case "xbar-s":
        return { center: L.center, sd: L.sigma / Math.sqrt(this.n) };
      case "p":
        return { center: L.center, sd: Math.sqrt((L.center * (1 - L.center)) / size) };
      case "np": {
        const n = L.n ?? size;
        const p = L.center / n;
        return { center: L.center, sd: Math.sqrt(n * p * (1 - p)) };
      }
      case "c":
        return { center: L.center, sd: Math.sqrt(L.center) };
      case "u":
        return { center: L.center, sd: Math.sqrt(L.center / size) };
    }
  }

  private dispersionLimits(L: Limits): { center: number; ucl: number; lcl: number } | undefined {
    if (L.dispersion === undefined) return undefined;
    if (this.type === "imr") {
      const k = constants(2);
      return { center: L.dispersion, ucl: k.D4 * L.dispersion, lcl: k.D3 * L.dispersion };
    }
    if (this.type === "xbar-r") {
      const k = constants(this.n);
      return { center: L.dispersion, ucl: k.D4 * L.dispersion, lcl: k.D3 * L.dispersion };
    }
    if (this.type === "xbar-s") {
      const k = constants(this.n);
      return { center: L.dispersion, ucl: k.B4 * L.dispersion, lcl: k.B3 * L.dispersion };
    }
    return undefined;
  }

  /** Phase I: limits from the included points; drop out-of-control points and repeat. */
  private computeBaseline(firstIndex: number): BaselineReport {
    const pts = this.baseline.map((p, i) => ({ ...p, index: firstIndex + i }));
    const excluded: Exclusion[] = [];
    const out = new Set<number>();
    let limits = limitsFrom(this.type, this.n, pts, out, this.options.n);
    let iterations = 1;
    for (; iterations <= MAX_ITERATIONS; iterations++) {
      const fresh: Exclusion[] = [];
      const beyond = new Set<number>();
      pts.forEach((p, i) => {
        const { center, sd } = this.locationSigma(limits, p.size);
        if (!out.has(i) && Math.abs(p.value - center) > 3 * sd) beyond.add(i);
      });
      pts.forEach((p, i) => {
        if (out.has(i)) return;
        const { center, sd } = this.locationSigma(limits, p.size);
        const dl = this.dispersionLimits(limits);
        // A moving range spans two points: one that is large because the previous point is an
        // outlier says nothing about this point, so it does not exclude it.
        const mrOfOutlier = this.type === "imr" && (out.has(i - 1) || beyond.has(i - 1));
        if (beyond.has(i)) {
          fresh.push({ index: p.index, ts: p.ts, value: p.value, reason: `${p.value} beyond 3 sigma (${(center - 3 * sd).toPrecision(6)}..${(center + 3 * sd).toPrecision(6)})` });
        } else if (dl && !mrOfOutlier && p.dispersion !== undefined && (p.dispersion > dl.ucl || p.dispersion < dl.lcl)) {
          fresh.push({ index: p.index, ts: p.ts, value: p.value, reason: `dispersion ${p.dispersion.toPrecision(6)} outside ${dl.lcl.toPrecision(6)}..${dl.ucl.toPrecision(6)}` });
        }
      });
      // Never exclude so much that the limits rest on fewer than half the baseline.
      if (fresh.length === 0 || pts.length - out.size - fresh.length < Math.ceil(pts.length / 2)) break;
      for (const f of fresh) {
        out.add(f.index - firstIndex);
        excluded.push({ ...f, reason: `iteration ${iterations}: ${f.reason}` });
      }
      limits = limitsFrom(this.type, this.n, pts, out, this.options.n);
    }
    return { points: pts.length, used: pts.length - out.size, excluded, iterations: Math.min(iterations, MAX_ITERATIONS), limits };
  }

  private transitions(point: ChartPoint): RuleEvent[] {
    const events: RuleEvent[] = [];
    const now = new Set<string>(point.violations);
    if (point.dispersionOut) now.add("dispersion");
    for (const rule of now) {
      if (!this.active.has(rule)) {
        this.active.add(rule);
        events.push({ state: "raised", rule: rule as RuleId | "dispersion", text: ruleText(rule), point });
      }
    }
    for (const rule of [...this.active]) {
      if (!now.has(rule)) {
        this.active.delete(rule);
        events.push({ state: "cleared", rule: rule as RuleId | "dispersion", text: ruleText(rule), point });
      }
    }
    return events;
  }

  get activeRules(): string[] {
    return [...this.active];
  }

  snapshot(): ChartSnapshot {
    return { limits: this.limits, report: this.report, index: this.index, history: this.checker.snapshot(), active: [...this.active],
      lastIndividual: this.lastIndividual, baseline: [...this.baseline], pending: [...this.pending], individuals: this.individuals.slice(-1000) };
  }

  restore(s: ChartSnapshot): void {
    if (!this.options.limits && s.limits) this.limits = s.limits;
    this.report = s.report ?? null;
    this.index = s.index ?? 0;
    this.checker.restore(s.history ?? []);
    for (const a of s.active ?? []) this.active.add(a);
    this.lastIndividual = s.lastIndividual ?? null;
    if (!this.limits) this.baseline.push(...(s.baseline ?? []));
    this.pending.push(...(s.pending ?? []));
    this.individuals.push(...(s.individuals ?? []));
  }
}

export interface ChartSnapshot {
  limits: Limits | null;
  report: BaselineReport | null;
  index: number;
  history: number[];
  active: string[];
  lastIndividual: number | null;
  baseline: RawPoint[];
  pending: Array<{ ts: number; value: number }>;
  individuals: number[];
}

function ruleText(rule: string): string {
  return rule === "dispersion" ? "dispersion chart beyond its limits" : RULE_TEXT[rule as RuleId];
}

export function stdev(values: number[], mean = values.reduce((a, b) => a + b, 0) / values.length): number {
  if (values.length < 2) return 0;
  let s = 0;
  for (const v of values) s += (v - mean) * (v - mean);
  return Math.sqrt(s / (values.length - 1));
}

/** Limits from the points not in `out`. Exported for tests that reproduce published examples. */
export function limitsFrom(type: ChartType, n: number, pts: RawPoint[], out: Set<number> = new Set(), fixedN?: number): Limits {
  const inc = pts.filter((_, i) => !out.has(i));
  if (inc.length === 0) throw new RangeError("no points left to compute limits from");
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  switch (type) {
    case "imr": {
      // Moving ranges between consecutive points, skipping any that touches an excluded point.
      const mrs: number[] = [];
      for (let i = 1; i < pts.length; i++) if (!out.has(i) && !out.has(i - 1)) mrs.push(Math.abs(at(pts, i).value - at(pts, i - 1).value));
      const mrBar = mrs.length ? mean(mrs) : 0;
      return { center: mean(inc.map((p) => p.value)), sigma: mrBar / constants(2).d2, dispersion: mrBar };
    }
    case "xbar-r": {
      const rBar = mean(inc.map((p) => p.dispersion ?? 0));
      return { center: mean(inc.map((p) => p.value)), sigma: rBar / constants(n).d2, dispersion: rBar };
    }
    case "xbar-s": {
      const sBar = mean(inc.map((p) => p.dispersion ?? 0));
      return { center: mean(inc.map((p) => p.value)), sigma: sBar / constants(n).c4, dispersion: sBar };
    }
    case "p": {
      // Pooled proportion: total nonconforming over total inspected (Montgomery eq. 7.7).
      const d = inc.reduce((a, p) => a + p.value * p.size, 0);
      const t = inc.reduce((a, p) => a + p.size, 0);
      const pBar = d / t;
      return { center: pBar, sigma: Math.sqrt(pBar * (1 - pBar)) };
    }
    case "np": {
      const size = fixedN ?? at(inc, 0).size;
      const npBar = mean(inc.map((p) => p.value));
      const pBar = npBar / size;
      return { center: npBar, sigma: Math.sqrt(size * pBar * (1 - pBar)), n: size };
    }
    case "c": {
      const cBar = mean(inc.map((p) => p.value));
      return { center: cBar, sigma: Math.sqrt(cBar) };
    }
    case "u": {
      const d = inc.reduce((a, p) => a + p.value * p.size, 0);
      const t = inc.reduce((a, p) => a + p.size, 0);
      const uBar = d / t;
      return { center: uBar, sigma: Math.sqrt(uBar) };
    }
  }
}
