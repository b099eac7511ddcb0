/**
 * The tag catalog: per-tag data-quality rules, edited in otb-validate's form or kept as a JSON
 * file that IT reviews in git. The JSON Schema below is the file format's contract (a copy for
 * editors and CI lives in flows/catalog/tag-catalog.schema.json; a test keeps the two equal);
 * parseCatalog() adds the checks a schema cannot express (band order, duplicate tags).
 */
import type Ajv from "ajv";
import type { ErrorObject } from "ajv";
import { ConfigError, lazyValidator, describeErrors, isSafeTopicLevel, type Quality } from "../shared";

/** Reason codes whose severity a catalog may override (out_of_range has its two bands instead). */
export const TUNABLE_REASONS = ["rate_of_change", "flatline", "spike", "drift"] as const;
export type TunableReason = (typeof TUNABLE_REASONS)[number];

export interface RangeRule {
  /** Below this the value is bad. */
  badBelow?: number;
  /** Below this (and not below badBelow) the value is uncertain. */
  uncertainBelow?: number;
  /** Above this (and not above badAbove) the value is uncertain. */
  uncertainAbove?: number;
  /** Above this the value is bad. */
  badAbove?: number;
}

export interface FlatlineRule {
  /** Changes smaller than this do not count as a change. */
  epsilon: number;
  /** Unchanged for this long (source time) means a stuck sensor. */
  forMs: number;
}

export interface SpikeRule {
  /** Samples in the rolling window the median and MAD are taken over. */
  window: number;
  /** Robust z-score (|x - median| / (1.4826 MAD)) above which a sample is a spike. */
  threshold: number;
  /** Deviations smaller than this are never spikes (a quantised, nearly constant signal has MAD 0). */
  minDeviation: number;
}

export interface DriftRule {
  /** Commissioning baseline mean and standard deviation; learned from the first good samples when absent. */
  mean?: number;
  sigma?: number;
  /** Good samples the baseline is learned from when mean/sigma are absent. */
  baselineSamples: number;
  /** EWMA smoothing factor, 0 < lambda <= 1: smaller reacts slower and raises fewer false alarms. */
  lambda: number;
  /** Control limit in standard deviations of the EWMA. */
  limit: number;
}

export interface TagRule {
  tag: string;
  description?: string;
  type?: "number" | "boolean" | "string";
  unit?: string;
  range?: RangeRule;
  /** Largest plausible change per second, in the tag's unit. */
  maxRatePerSec?: number;
  /** No update within this many ms (wall clock) emits the tag as bad/stale. */
  staleMs?: number;
  flatline?: FlatlineRule;
  spike?: SpikeRule;
  drift?: DriftRule;
  /** Per-reason quality, overriding the defaults in DEFAULT_SEVERITY. */
  severity?: Partial<Record<TunableReason, Exclude<Quality, "good">>>;
}

/** How bad each rule's finding is unless the catalog says otherwise. */
export const DEFAULT_SEVERITY: Record<TunableReason, Exclude<Quality, "good">> = {
  rate_of_change: "uncertain",
  flatline: "bad",
  spike: "bad",
  drift: "uncertain",
};

export const SPIKE_DEFAULTS = { window: 31, threshold: 6, minDeviation: 0 };
export const DRIFT_DEFAULTS = { baselineSamples: 300, lambda: 0.02, limit: 5 };

const finite = { type: "number" } as const;
const positive = { type: "number", exclusiveMinimum: 0 } as const;
const severity = { type: "string", enum: ["uncertain", "bad"] } as const;

export const tagRuleSchema = {
  $id: "otb:tag-rule",
  type: "object",
  additionalProperties: false,
  required: ["tag"],
  properties: {
    tag: { type: "string", minLength: 1, maxLength: 256 },
    description: { type: "string", maxLength: 1024 },
    type: { type: "string", enum: ["number", "boolean", "string"] },
    unit: { type: "string", maxLength: 64 },
    range: {
      type: "object",
      additionalProperties: false,
      minProperties: 1,
      properties: { badBelow: finite, uncertainBelow: finite, uncertainAbove: finite, badAbove: finite },
    },
    maxRatePerSec: positive,
    staleMs: { type: "integer", minimum: 10 },
    flatline: {
      type: "object",
      additionalProperties: false,
      required: ["forMs"],
      properties: { epsilon: { type: "number", minimum: 0 }, forMs: { type: "integer", minimum: 1 } },
    },
    spike: {
      type: "object",
      additionalProperties: false,
      properties: {
        window: { type: "integer", minimum: 5, maximum: 255 },
        threshold: positive,
        minDeviation: { type: "number", minimum: 0 },
      },
    },
    drift: {
      type: "object",
      additionalProperties: false,
      properties: {
        mean: finite,
        sigma: positive,
        baselineSamples: { type: "integer", minimum: 10, maximum: 1000000 },
        lambda: { type: "number", exclusiveMinimum: 0, maximum: 1 },
        limit: positive,
      },
    },
    severity: {
      type: "object",
      additionalProperties: false,
      properties: { rate_of_change: severity, flatline: severity, spike: severity, drift: severity },
    },
  },
} as const;

export const tagCatalogSchema = {
  $id: "otb:tag-catalog",
  title: "otbridge tag catalog",
  description: "Per-tag data-quality rules for otb-validate, one entry per tag of a line.",
  type: "object",
  additionalProperties: false,
  required: ["version", "tags"],
  properties: {
    $schema: { type: "string" },
    version: { const: 1 },
    line: { type: "string", description: "The line this catalog belongs to (documentation only)." },
    description: { type: "string" },
    tags: { type: "array", maxItems: 100000, items: { $ref: "otb:tag-rule" } },
  },
} as const;

/**
 * The catalog schema as one self-contained JSON Schema document (draft-07), for editors and CI:
 * flows/catalog/tag-catalog.schema.json is this, and a test keeps the two identical.
 */
export function standaloneCatalogSchema(): Record<string, unknown> {
  const { $id: _ruleId, ...rule } = tagRuleSchema;
  const { $id: _catalogId, ...catalog } = tagCatalogSchema;
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: "https://github.com/otbridge/node-red-contrib-otbridge/tag-catalog.schema.json",
    ...catalog,
    properties: { ...catalog.properties, tags: { ...catalog.properties.tags, items: { $ref: "#/definitions/tagRule" } } },
    definitions: { tagRule: rule },
  };
}

/** The shared ajv with the tag rule schema added (once), for the two validators below. */
function withTagRule(ajv: Ajv): Ajv {
  if (!ajv.getSchema("otb:tag-rule")) ajv.addSchema(tagRuleSchema);
  return ajv;
}
const validateCatalogDoc = lazyValidator((ajv) => withTagRule(ajv).compile(tagCatalogSchema));
const validateRuleList = lazyValidator((ajv) => withTagRule(ajv).compile({ type: "array", items: { $ref: "otb:tag-rule" } }));

/** Checks a whole catalog document (the file format) and returns its normalised rules. */
export function parseCatalog(doc: unknown): TagRule[] {
  if (!validateCatalogDoc(doc)) throw new ConfigError(`tag catalog: ${describe(validateCatalogDoc.errors)}`);
  return normaliseRules((doc as { tags: TagRule[] }).tags);
}

/** Checks a list of rules (the form's table) and returns them normalised. */
export function parseRules(rules: unknown): TagRule[] {
  if (!validateRuleList(rules)) throw new ConfigError(`rules: ${describe(validateRuleList.errors).replace(/(^|; )(\d+)/g, "$1row $2")}`);
  return normaliseRules(rules as TagRule[]);
}

/** ajv's messages, plus the name of a misspelt property, which is what a reviewer needs to see. */
function describe(errors: ErrorObject[] | null | undefined): string {
  const named = (errors ?? []).map((e) =>
    e.keyword === "additionalProperties" ? { ...e, message: `must NOT have additional property "${(e.params as { additionalProperty: string }).additionalProperty}"` } : e,
  );
  return describeErrors(named);
}

function normaliseRules(rules: TagRule[]): TagRule[] {
  const seen = new Set<string>();
  return rules.map((raw, i) => {
    const where = `tags[${i}] (${raw.tag})`;
    if (seen.has(raw.tag)) throw new ConfigError(`${where}: the tag is listed twice`);
    seen.add(raw.tag);
    if (!isSafeTopicLevel(raw.tag)) throw new ConfigError(`${where}: a tag cannot contain / + # or start with $ (it becomes a topic level)`);
    const rule: TagRule = { ...raw };
    if (rule.range) checkBands(where, rule.range);
    const numericRules = rule.range || rule.maxRatePerSec || rule.flatline || rule.spike || rule.drift;
    if (numericRules && rule.type && rule.type !== "number") {
      throw new ConfigError(`${where}: range, rate, flatline, spike and drift rules need type "number"`);
    }
    if (rule.flatline) rule.flatline = { epsilon: rule.flatline.epsilon ?? 0, forMs: rule.flatline.forMs };
    if (rule.spike) rule.spike = { ...SPIKE_DEFAULTS, ...rule.spike };
    if (rule.drift) {
      const d = { ...DRIFT_DEFAULTS, ...rule.drift };
      if ((d.mean === undefined) !== (d.sigma === undefined)) throw new ConfigError(`${where}: drift needs both mean and sigma, or neither (learn them)`);
      rule.drift = d;
    }
    return rule;
  });
}

function checkBands(where: string, r: RangeRule): void {
  const order: Array<[keyof RangeRule, number | undefined]> = [
    ["badBelow", r.badBelow],
    ["uncertainBelow", r.uncertainBelow],
    ["uncertainAbove", r.uncertainAbove],
    ["badAbove", r.badAbove],
  ];
  let prev: [string, number] | null = null;
  for (const [name, value] of order) {
    if (value === undefined) continue;
    if (prev && value < prev[1]) throw new ConfigError(`${where}: range ${name} (${value}) is below ${prev[0]} (${prev[1]})`);
    prev = [name, value];
  }
}
