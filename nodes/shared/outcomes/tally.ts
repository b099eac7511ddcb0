/**
 * A Tally is the raw, additive record of one period: times in milliseconds and counts. KPIs are
 * ratios computed from tallies at report time, never stored, so periods and lines roll up by
 * adding tallies (sums of times and counts), never by averaging OEEs.
 */
export interface ReasonTime {
  ms: number;
  stops: number;
}

export interface Tally {
  from: number;
  to: number;
  allMs: number;
  unscheduledMs: number;
  plannedStopMs: number;
  plannedStops: Record<string, number>;
  runMs: number;
  /** Stops long enough to count as downtime (availability loss), by reason. */
  downMs: number;
  /** Changeovers and setups (availability loss). */
  setupMs: number;
  /** Stops shorter than the micro-stop threshold (performance loss). */
  smallStopMs: number;
  smallStops: number;
  /** Stops still open whose class (small or long) is not known yet. */
  pendingStopMs: number;
  /** Planned time with no data or an unknown state: excluded from the ratios, reported. */
  missingMs: number;
  downtime: Record<string, ReasonTime>;
  total: number;
  good: number;
  reject: number;
  startupReject: number;
  /** Sum over parts of each part's ideal cycle time. */
  idealMs: number;
  /** Ideal time of the good parts (fully productive time). */
  idealGoodMs: number;
  energyKWh: number;
  products: Record<string, { total: number; good: number; reject: number; energyKWh: number; idealMs: number }>;
  counterEvents: { rollover: number; reset: number };
  gaps: number;
  /**
   * Parts first counted by a reading that ended a data gap (oee.ts): made while nothing was
   * known, so in total, good and reject (the counters are cumulative) but not in idealMs: their
   * time is missing, and performance over operating time must not be credited with them.
   * Absent in tallies saved before 4 December 2026 (read as 0).
   */
  gapParts?: number;
}

export function emptyTally(from: number, to = from): Tally {
  return {
    from, to, allMs: 0, unscheduledMs: 0, plannedStopMs: 0, plannedStops: {}, runMs: 0, downMs: 0, setupMs: 0,
    smallStopMs: 0, smallStops: 0, pendingStopMs: 0, missingMs: 0, downtime: {}, total: 0, good: 0, reject: 0,
    startupReject: 0, idealMs: 0, idealGoodMs: 0, energyKWh: 0, products: {}, counterEvents: { rollover: 0, reset: 0 }, gaps: 0,
    gapParts: 0,
  };
}

const NUMERIC: Array<keyof Tally> = [
  "allMs", "unscheduledMs", "plannedStopMs", "runMs", "downMs", "setupMs", "smallStopMs", "smallStops", "pendingStopMs",
  "missingMs", "total", "good", "reject", "startupReject", "idealMs", "idealGoodMs", "energyKWh", "gaps",
];

/** Adds `b` into `a` (in place) and returns `a`. */
export function addTally(a: Tally, b: Tally): Tally {
  a.from = Math.min(a.from, b.from);
  a.to = Math.max(a.to, b.to);
  for (const k of NUMERIC) (a[k] as number) += b[k] as number;
  for (const [k, v] of Object.entries(b.plannedStops)) a.plannedStops[k] = (a.plannedStops[k] ?? 0) + v;
  for (const [k, v] of Object.entries(b.downtime)) {
    const r = (a.downtime[k] ??= { ms: 0, stops: 0 });
    r.ms += v.ms;
    r.stops += v.stops;
  }
  for (const [k, v] of Object.entries(b.products)) {
    const p = (a.products[k] ??= { total: 0, good: 0, reject: 0, energyKWh: 0, idealMs: 0 });
    p.total += v.total;
    p.good += v.good;
    p.reject += v.reject;
    p.energyKWh += v.energyKWh;
    p.idealMs += v.idealMs;
  }
  a.counterEvents.rollover += b.counterEvents.rollover;
  a.counterEvents.reset += b.counterEvents.reset;
  a.gapParts = (a.gapParts ?? 0) + (b.gapParts ?? 0);
  return a;
}

/** Sum of tallies, e.g. the lines of an area or the shifts of a day. */
export function sumTallies(tallies: Tally[]): Tally {
  const out = emptyTally(tallies.length ? Math.min(...tallies.map((t) => t.from)) : 0);
  for (const t of tallies) addTally(out, t);
  return out;
}

export interface OeeFigures {
  plannedProductionMs: number;
  knownPlannedMs: number;
  operatingMs: number;
  availability: number | null;
  performance: number | null;
  quality: number | null;
  oee: number | null;
  utilisation: number | null;
  teep: number | null;
  energyPerGoodPartKWh: number | null;
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

/**
 * The OEE definitions of Nakajima (1988) as used by Vorne/OEE.com: availability = operating
 * time / planned production time, performance = ideal cycle time x total count / operating
 * time, quality = good / total; OEE = their product (= fully productive time / planned time).
 * Planned time with no data is left out of the denominator and reported as missing, not guessed.
 * Utilisation = planned production time / all time; TEEP = OEE x utilisation.
 */
export function figures(t: Tally): OeeFigures {
  const plannedProductionMs = t.allMs - t.unscheduledMs - t.plannedStopMs;
  const knownPlannedMs = plannedProductionMs - t.missingMs;
  const operatingMs = t.runMs + t.smallStopMs;
  const availability = ratio(operatingMs, knownPlannedMs);
  const performance = ratio(t.idealMs, operatingMs);
  const quality = ratio(t.good, t.total);
  const oee = availability !== null && performance !== null && quality !== null ? availability * performance * quality : null;
  const utilisation = ratio(plannedProductionMs, t.allMs);
  const teep = oee !== null && utilisation !== null ? oee * utilisation : null;
  return {
    plannedProductionMs, knownPlannedMs, operatingMs, availability, performance, quality, oee, utilisation, teep,
    energyPerGoodPartKWh: t.energyKWh > 0 || t.good > 0 ? ratio(t.energyKWh, t.good) : null,
  };
}

/** The time waterfall, in ms, from all time down to fully productive time. */
export function waterfall(t: Tally): Record<string, number> {
  const f = figures(t);
  const netRunMs = t.idealMs;
  return {
    allTime: t.allMs,
    unscheduled: t.unscheduledMs,
    plannedStops: t.plannedStopMs,
    plannedProduction: f.plannedProductionMs,
    missingData: t.missingMs,
    availabilityLoss: t.downMs + t.setupMs + t.pendingStopMs,
    operating: f.operatingMs,
    performanceLoss: f.operatingMs - netRunMs,
    netRun: netRunMs,
    qualityLoss: netRunMs - t.idealGoodMs,
    fullyProductive: t.idealGoodMs,
  };
}

/** Nakajima's six big losses: times in ms, reject counts alongside. */
export function sixBigLosses(t: Tally): Record<string, number> {
  const f = figures(t);
  const rejectIdeal = t.idealMs - t.idealGoodMs;
  const startupShare = t.reject > 0 ? t.startupReject / t.reject : 0;
  return {
    breakdownsMs: t.downMs + t.pendingStopMs,
    setupAdjustmentsMs: t.setupMs,
    minorStopsMs: t.smallStopMs,
    reducedSpeedMs: f.operatingMs - t.idealMs - t.smallStopMs,
    startupRejectsMs: rejectIdeal * startupShare,
    productionRejectsMs: rejectIdeal * (1 - startupShare),
    startupRejects: t.startupReject,
    productionRejects: t.reject - t.startupReject,
  };
}
