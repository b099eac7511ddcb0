/**
 * The line's business case as data: baseline figures measured at commissioning, unit values,
 * the expected return; and the value created against that baseline, with every term's
 * arithmetic written out so a controller can redo it by hand.
 */
import { describeErrors, lazyValidator } from "../schemas";
import { ConfigError } from "../errors";
import { figures, type Tally } from "./tally";

export interface BusinessCase {
  line: string;
  currency: string;
  baseline: {
    measuredAt: string;
    oee: number;
    energyPerPartKWh?: number;
    scrapRate?: number;
    /** Share of planned production time lost to downtime at baseline (0..1), for the downtime term. */
    downtimeShare?: number;
  };
  unitValues: {
    marginPerGoodPart: number;
    costPerKWh?: number;
    costPerScrapPart?: number;
    costPerDowntimeMinute?: number;
  };
  expected: {
    valuePerMonth: number;
    investment?: number;
    paybackMonths?: number;
  };
  notes?: string;
}

const money = { type: "number", minimum: 0 } as const;
const share = { type: "number", minimum: 0, maximum: 1 } as const;

export const businessCaseSchema = {
  $id: "otb:business-case",
  type: "object",
  additionalProperties: false,
  required: ["line", "currency", "baseline", "unitValues", "expected"],
  properties: {
    $schema: { type: "string" },
    line: { type: "string", minLength: 1 },
    currency: { type: "string", pattern: "^[A-Z]{3}$" },
    baseline: {
      type: "object",
      additionalProperties: false,
      required: ["measuredAt", "oee"],
      properties: {
        measuredAt: { type: "string", minLength: 1 },
        oee: { type: "number", exclusiveMinimum: 0, maximum: 1 },
        energyPerPartKWh: { type: "number", minimum: 0 },
        scrapRate: share,
        downtimeShare: share,
      },
    },
    unitValues: {
      type: "object",
      additionalProperties: false,
      required: ["marginPerGoodPart"],
      properties: { marginPerGoodPart: money, costPerKWh: money, costPerScrapPart: money, costPerDowntimeMinute: money },
    },
    expected: {
      type: "object",
      additionalProperties: false,
      required: ["valuePerMonth"],
      properties: { valuePerMonth: money, investment: money, paybackMonths: { type: "number", exclusiveMinimum: 0 } },
    },
    notes: { type: "string" },
  },
} as const;

const validate = lazyValidator<BusinessCase>((ajv) => ajv.compile<BusinessCase>(businessCaseSchema));

export function parseBusinessCase(doc: unknown): BusinessCase {
  if (!validate(doc)) throw new ConfigError(`business case: ${describeErrors(validate.errors)}`);
  return doc;
}

export interface ValueTerm {
  term: "throughput" | "energy" | "scrap" | "downtime";
  value: number;
  /** The arithmetic, with the numbers used. */
  arithmetic: string;
}

export interface ValueResult {
  total: number;
  terms: ValueTerm[];
  skipped: string[];
}

const f2 = (x: number): string => x.toFixed(2);
const f4 = (x: number): string => Number(x.toPrecision(6)).toString();

/** Value created in one period against the baseline. */
export function valueCreated(bc: BusinessCase, t: Tally): ValueResult {
  const f = figures(t);
  const terms: ValueTerm[] = [];
  const skipped: string[] = [];
  const cur = bc.currency;
  if (f.oee !== null && f.oee > 0 && t.good > 0) {
    const atBaseline = (t.good * bc.baseline.oee) / f.oee;
    const extra = t.good - atBaseline;
    const value = extra * bc.unitValues.marginPerGoodPart;
    terms.push({ term: "throughput", value, arithmetic:
      `good ${t.good} - good at baseline OEE (${t.good} x ${f4(bc.baseline.oee)} / ${f4(f.oee)} = ${f2(atBaseline)}) = ${f2(extra)} parts x ${f4(bc.unitValues.marginPerGoodPart)} ${cur} margin = ${f2(value)} ${cur}` });
  } else skipped.push("throughput: no OEE or no good parts in this period");
  const kwh = bc.baseline.energyPerPartKWh;
  const ckwh = bc.unitValues.costPerKWh;
  if (kwh !== undefined && ckwh !== undefined && t.good > 0 && t.energyKWh > 0) {
    const actual = t.energyKWh / t.good;
    const value = (kwh - actual) * t.good * ckwh;
    terms.push({ term: "energy", value, arithmetic:
      `(${f4(kwh)} baseline - ${f4(actual)} actual kWh/part) x ${t.good} good x ${f4(ckwh)} ${cur}/kWh = ${f2(value)} ${cur}` });
  } else skipped.push("energy: needs baseline.energyPerPartKWh, unitValues.costPerKWh and metered energy");
  const sr = bc.baseline.scrapRate;
  const cs = bc.unitValues.costPerScrapPart;
  if (sr !== undefined && cs !== undefined && t.total > 0) {
    const actual = t.reject / t.total;
    const value = (sr - actual) * t.total * cs;
    terms.push({ term: "scrap", value, arithmetic:
      `(${f4(sr)} baseline - ${f4(actual)} actual scrap rate) x ${t.total} parts x ${f4(cs)} ${cur}/scrap part = ${f2(value)} ${cur}` });
  } else skipped.push("scrap: needs baseline.scrapRate, unitValues.costPerScrapPart and parts");
  const ds = bc.baseline.downtimeShare;
  const cd = bc.unitValues.costPerDowntimeMinute;
  if (ds !== undefined && cd !== undefined && f.knownPlannedMs > 0) {
    const baseMin = (ds * f.knownPlannedMs) / 60_000;
    const actualMin = (t.downMs + t.setupMs + t.pendingStopMs) / 60_000;
    const value = (baseMin - actualMin) * cd;
    terms.push({ term: "downtime", value, arithmetic:
      `(${f4(ds)} x ${f2(f.knownPlannedMs / 60_000)} planned min = ${f2(baseMin)} baseline - ${f2(actualMin)} actual downtime min) x ${f4(cd)} ${cur}/min = ${f2(value)} ${cur}` });
  } else skipped.push("downtime: needs baseline.downtimeShare and unitValues.costPerDowntimeMinute");
  return { total: terms.reduce((a, x) => a + x.value, 0), terms, skipped };
}
