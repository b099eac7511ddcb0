/**
 * From Signals to control-chart points and rule events, free of Node-RED. One ControlChart per
 * characteristic; the Signal's value is the measurement (variables charts) or the count of
 * nonconforming items / defects in one sample (attribute charts, sample size from the config).
 */
import type { Context, Kpi, Signal } from "../shared";
import { capability } from "../shared/outcomes/capability";
import { ControlChart, isAttributeChart, type BaselineReport, type ChartPoint, type ChartSnapshot, type RuleEvent } from "../shared/outcomes/spc-chart";
import { RULE_TEXT } from "../shared/outcomes/spc-rules";
import type { Characteristic } from "./spc-config";

export interface SpcOutput {
  kpis: Kpi[];
  events: Array<Record<string, unknown>>;
  rejected: Array<{ index: number; item: unknown; reason: string }>;
}

const r6 = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toPrecision(10)));

export class SpcSet {
  readonly charts = new Map<string, { c: Characteristic; chart: ControlChart; since: number }>();

  constructor(characteristics: Characteristic[], private readonly capabilityEvery: number) {
    for (const c of characteristics) {
      this.charts.set(c.tag, { c, chart: new ControlChart({ type: c.chart, n: c.n, rules: c.rules, baselinePoints: c.baselinePoints, limits: c.limits }), since: 0 });
    }
  }

  handle(payload: unknown, context?: Context): SpcOutput {
    const out: SpcOutput = { kpis: [], events: [], rejected: [] };
    const items = Array.isArray(payload) ? payload : [payload];
    items.forEach((item, index) => {
      const reason = this.one(item as Signal, out, context);
      if (reason) out.rejected.push({ index, item, reason });
    });
    return out;
  }

  private one(s: Signal, out: SpcOutput, lineContext?: Context): string | null {
    if (!s || typeof s !== "object" || typeof s.tag !== "string" || typeof s.ts !== "number" || !Number.isFinite(s.ts)) return "not a Signal (needs tag and a numeric ts)";
    const entry = this.charts.get(s.tag);
    if (!entry) return null; // other tags pass by: not ours
    if (s.quality === "bad") return `bad_quality${s.reasons?.length ? `: ${s.reasons.join(", ")}` : ""}`;
    const v = typeof s.value === "string" && s.value.trim() !== "" ? Number(s.value) : s.value;
    if (typeof v !== "number" || !Number.isFinite(v)) return `not_numeric: ${s.tag} = ${JSON.stringify(s.value)}`;
    const { c, chart } = entry;
    let res;
    try {
      res = isAttributeChart(c.chart) ? chart.addSample({ count: v, size: c.n }, s.ts) : chart.addValue(v, s.ts);
    } catch (err) {
      return `invalid: ${(err as Error).message}`;
    }
    const context = s.context ?? lineContext;
    if (res.baseline) out.kpis.push(this.baselineKpi(c, res.baseline, s.ts, context));
    if (res.point) {
      out.kpis.push(this.pointKpi(c, res.point, s.quality, context));
      for (const e of res.events) out.events.push(this.event(c, e, context));
      if (res.point.phase === "monitor" && this.capabilityEvery > 0 && ++entry.since >= this.capabilityEvery && !isAttributeChart(c.chart)) {
        entry.since = 0;
        out.kpis.push(this.capabilityKpi(c, chart, s.ts, context));
      }
    }
    return null;
  }

  private pointKpi(c: Characteristic, p: ChartPoint, quality: Signal["quality"], context?: Context): Kpi {
    return {
      kind: "kpi", ts: p.ts, name: "spc", scope: "point", period: { from: p.ts, to: p.ts, label: c.name },
      values: { value: r6(p.value), center: r6(p.center), ucl: r6(p.ucl), lcl: r6(p.lcl), z: r6(p.z), dispersion: r6(p.dispersion),
        dispersionCenter: r6(p.dispersionLimits?.center), dispersionUcl: r6(p.dispersionLimits?.ucl), dispersionLcl: r6(p.dispersionLimits?.lcl), index: p.index },
      detail: { characteristic: c.name, tag: c.tag, chart: c.chart, n: c.n, phase: p.phase, violations: p.violations,
        violationText: p.violations.map((r) => RULE_TEXT[r]), dispersionOut: p.dispersionOut },
      quality: quality === "uncertain" ? "uncertain" : "good",
      ...(context ? { context } : {}),
    };
  }

  private baselineKpi(c: Characteristic, b: BaselineReport, ts: number, context?: Context): Kpi {
    return {
      kind: "kpi", ts, name: "spc", scope: "baseline", period: { from: ts, to: ts, label: c.name },
      values: { center: r6(b.limits.center), sigma: r6(b.limits.sigma), dispersion: r6(b.limits.dispersion), points: b.points, used: b.used, excluded: b.excluded.length },
      detail: { characteristic: c.name, tag: c.tag, chart: c.chart, n: c.n, excluded: b.excluded, iterations: b.iterations,
        note: "phase I: limits from the baseline with out-of-control points (beyond 3 sigma on either chart) excluded and recomputed" },
      quality: "good", ...(context ? { context } : {}),
    };
  }

  capabilityKpi(c: Characteristic, chart: ControlChart, ts: number, context?: Context): Kpi {
    const L = chart.currentLimits;
    const cap = capability(chart.individuals, L?.sigma ?? NaN, c.spec);
    return {
      kind: "kpi", ts, name: "capability", scope: "demand", period: { from: ts, to: ts, label: c.name },
      values: { n: cap.n, mean: r6(cap.mean), sigmaWithin: r6(cap.sigmaWithin), sigmaOverall: r6(cap.sigmaOverall), cp: r6(cap.cp), cpk: r6(cap.cpk),
        pp: r6(cap.pp), ppk: r6(cap.ppk), cpm: r6(cap.cpm), cpkLower95: r6(cap.cpkLower95), lsl: c.spec.lsl ?? null, usl: c.spec.usl ?? null, target: c.spec.target ?? null },
      detail: { characteristic: c.name, tag: c.tag, skewness: cap.skewness, excessKurtosis: cap.excessKurtosis,
        caveats: chart.activeRules.length ? [`process not in control (${chart.activeRules.join(", ")}): capability describes no stable process`, ...cap.caveats] : cap.caveats,
        activeRules: chart.activeRules, stable: chart.activeRules.length === 0 },
      quality: chart.activeRules.length === 0 && cap.n >= 30 ? "good" : "uncertain",
      ...(chart.activeRules.length ? { reasons: [`process not in control (${chart.activeRules.join(", ")}): capability is not meaningful`] } : {}),
      ...(context ? { context } : {}),
    };
  }

  private event(c: Characteristic, e: RuleEvent, context?: Context): Record<string, unknown> {
    return {
      kind: "alarm", source: "spc", state: e.state, ts: e.point.ts, characteristic: c.name, tag: c.tag, chart: c.chart, rule: e.rule, text: e.text,
      value: e.point.value, center: e.point.center, ucl: e.point.ucl, lcl: e.point.lcl, ...(context ? { context } : {}),
    };
  }

  /** Keyed by tag, chart and size: a characteristic redeployed with another chart starts a new baseline. */
  snapshot(): Record<string, ChartSnapshot> {
    return Object.fromEntries([...this.charts].map(([tag, e]) => [`${tag}|${e.c.chart}|${e.c.n}`, e.chart.snapshot()]));
  }

  restore(s: Record<string, ChartSnapshot> | null | undefined): void {
    for (const [tag, e] of this.charts) {
      const snap = s?.[`${tag}|${e.c.chart}|${e.c.n}`];
      if (snap) e.chart.restore(snap);
    }
  }
}
