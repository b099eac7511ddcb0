/** KPI messages built from tallies: the headline figures plus what produced them. */
import type { Context, Kpi, KpiScope } from "../types";
import { figures, sixBigLosses, sumTallies, waterfall, type Tally } from "./tally";

const round = (x: number | null, digits = 6): number | null => (x === null || !Number.isFinite(x) ? null : Number(x.toFixed(digits)));

/** Downtime reasons, longest first: the Pareto of the dashboard. */
export function pareto(t: Tally): Array<{ reason: string; ms: number; stops: number; share: number }> {
  const total = Object.values(t.downtime).reduce((a, r) => a + r.ms, 0);
  return Object.entries(t.downtime)
    .filter(([, r]) => r.ms > 0)
    .map(([reason, r]) => ({ reason, ms: r.ms, stops: r.stops, share: total > 0 ? r.ms / total : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

export function oeeKpi(scope: KpiScope, label: string, t: Tally, ts: number, context?: Context): Kpi {
  const f = figures(t);
  const reasons: string[] = [];
  if (t.missingMs > 0) reasons.push(`missing_data: ${Math.round(t.missingMs / 60_000)} min of planned time without data (${t.gaps} gap(s)), left out of the ratios`);
  if ((t.gapParts ?? 0) > 0) reasons.push(`gap_parts: ${t.gapParts} part(s) counted when data came back after a gap: in the counts and quality, not in performance`);
  if (t.counterEvents.reset > 0) reasons.push(`counter_reset: ${t.counterEvents.reset}`);
  if (f.performance !== null && f.performance > 1) reasons.push("performance_over_100: the ideal cycle time is slower than the line runs");
  if (t.pendingStopMs > 0) reasons.push("stop_open: a stop still open at the end of the period counts as downtime");
  const products: Record<string, Record<string, number | null>> = {};
  for (const [p, v] of Object.entries(t.products)) {
    products[p || "(none)"] = { ...v, energyPerGoodPartKWh: v.good > 0 && v.energyKWh > 0 ? round(v.energyKWh / v.good) : null };
  }
  return {
    kind: "kpi",
    ts,
    name: "oee",
    scope,
    period: { from: t.from, to: t.to, label },
    values: {
      availability: round(f.availability), performance: round(f.performance), quality: round(f.quality), oee: round(f.oee),
      teep: round(f.teep), utilisation: round(f.utilisation), total: t.total, good: t.good, reject: t.reject,
      plannedProductionMs: f.plannedProductionMs, operatingMs: f.operatingMs, downtimeMs: t.downMs + t.setupMs + t.pendingStopMs,
      missingMs: t.missingMs, energyKWh: round(t.energyKWh), energyPerGoodPartKWh: round(f.energyPerGoodPartKWh),
    },
    units: { plannedProductionMs: "ms", operatingMs: "ms", downtimeMs: "ms", missingMs: "ms", energyKWh: "kWh", energyPerGoodPartKWh: "kWh/part" },
    detail: { waterfall: waterfall(t), losses: sixBigLosses(t), downtime: pareto(t), plannedStops: t.plannedStops, products, tally: t },
    quality: reasons.some((r) => r.startsWith("missing_data") || r.startsWith("counter_reset")) ? "uncertain" : "good",
    ...(reasons.length ? { reasons } : {}),
    ...(context ? { context } : {}),
  };
}

/**
 * Rolls OEE KPIs of several lines (or periods) up into one: their `detail.tally` sums of times
 * and counts are added and the ratios computed again, so a line with more planned time weighs
 * more; averaging OEEs would not. KPIs without a tally are refused, by index.
 */
export function rollupKpis(kpis: Kpi[], scope: KpiScope, label: string, ts: number, context?: Context): Kpi {
  const tallies: Tally[] = [];
  kpis.forEach((k, i) => {
    const t = (k.detail as { tally?: Tally } | undefined)?.tally;
    if (k.name !== "oee" || !t) throw new RangeError(`KPI ${i} is not an OEE KPI with detail.tally`);
    tallies.push(t);
  });
  const out = oeeKpi(scope, label, sumTallies(tallies), ts, context);
  out.detail = { ...out.detail, rolledUp: kpis.map((k) => ({ line: k.context?.line, label: k.period.label, oee: k.values.oee })) };
  return out;
}
