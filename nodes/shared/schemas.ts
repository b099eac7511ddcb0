/**
 * JSON Schemas for the DESIGN.md message shapes, compiled with ajv once per process, on first use.
 * Written by hand rather than generated so that they read as documentation; the agreement
 * with types.ts is enforced twice: KeysOf<> below fails the build if a property is added to a
 * type and not to its schema (or the reverse), and test/shared/schemas.test.ts checks required
 * lists and round-trips typed examples.
 */
import type Ajv from "ajv";
import type { ErrorObject, ValidateFunction } from "ajv";
import type { Alarm, AlarmKpi, Context, ContextEvent, FeatureFrame, Inference, Kpi, Signal, SpcAlarm, Verdict } from "./types";
import { KPI_SCOPES, MODES, QUALITIES, VERDICT_VALUES } from "./types";

/** One entry per property of T, optional or not: a missing or extra key is a compile error. */
export type KeysOf<T> = { [K in keyof Required<T>]: true };

const qualitySchema = { type: "string", enum: [...QUALITIES] } as const;
const finiteNumber = { type: "number" } as const;
const nonEmptyString = { type: "string", minLength: 1, maxLength: 1024 } as const;
const timestamp = { type: "number", minimum: 0, maximum: 8.64e15 } as const;

export const contextKeys: KeysOf<Context> = {
  enterprise: true, site: true, area: true, line: true, cell: true, asset: true,
  product: true, batch: true, order: true, shift: true, mode: true,
};
export const contextSchema = {
  $id: "otb:context",
  type: "object",
  additionalProperties: false,
  required: ["enterprise", "site", "area", "line"],
  properties: {
    enterprise: nonEmptyString, site: nonEmptyString, area: nonEmptyString, line: nonEmptyString,
    cell: { type: "string" }, asset: { type: "string" }, product: { type: "string" },
    batch: { type: "string" }, order: { type: "string" }, shift: { type: "string" },
    mode: { type: "string", enum: [...MODES] },
  },
} as const;

export const signalKeys: KeysOf<Signal> = {
  tag: true, value: true, ts: true, quality: true, reasons: true, unit: true, source: true, context: true,
};
export const signalSchema = {
  $id: "otb:signal",
  type: "object",
  additionalProperties: false,
  required: ["tag", "value", "ts", "quality", "source"],
  properties: {
    tag: { type: "string", minLength: 1, maxLength: 256 },
    value: { type: ["number", "boolean", "string", "null"] },
    ts: timestamp,
    quality: qualitySchema,
    reasons: { type: "array", items: { type: "string", maxLength: 256 }, maxItems: 64 },
    unit: { type: "string", maxLength: 64 },
    source: {
      type: "object",
      additionalProperties: false,
      required: ["protocol", "address"],
      properties: {
        protocol: { type: "string", enum: ["opcua", "modbus", "mqtt", "sim"] },
        address: { type: "string", maxLength: 1024 },
        device: { type: "string", maxLength: 256 },
      },
    },
    context: { $ref: "otb:context" },
  },
} as const;

export const featureFrameKeys: KeysOf<FeatureFrame> = {
  kind: true, ts: true, windowMs: true, names: true, values: true, missing: true, quality: true, context: true,
};
export const featureFrameSchema = {
  $id: "otb:features",
  type: "object",
  additionalProperties: false,
  required: ["kind", "ts", "windowMs", "names", "values", "missing", "quality"],
  properties: {
    kind: { const: "features" },
    ts: timestamp,
    windowMs: { type: "number", exclusiveMinimum: 0 },
    names: { type: "array", items: nonEmptyString },
    values: { type: "array", items: finiteNumber },
    missing: { type: "array", items: { type: "string" } },
    quality: qualitySchema,
    context: { $ref: "otb:context" },
  },
} as const;

export const inferenceKeys: KeysOf<Inference> = {
  kind: true, ts: true, model: true, outputs: true, score: true, threshold: true, anomaly: true,
  latencyMs: true, drift: true, contributions: true, context: true,
};
export const inferenceSchema = {
  $id: "otb:inference",
  type: "object",
  additionalProperties: false,
  required: ["kind", "ts", "model", "outputs", "latencyMs"],
  properties: {
    kind: { const: "inference" },
    ts: timestamp,
    model: {
      type: "object",
      additionalProperties: false,
      required: ["name", "version", "sha256"],
      properties: { name: nonEmptyString, version: nonEmptyString, sha256: { type: "string", pattern: "^[0-9a-f]{64}$" } },
    },
    outputs: { type: "object", additionalProperties: { type: "array", items: finiteNumber } },
    score: finiteNumber,
    threshold: finiteNumber,
    anomaly: { type: "boolean" },
    latencyMs: { type: "number", minimum: 0 },
    drift: finiteNumber,
    contributions: { type: "object", additionalProperties: finiteNumber },
    context: { $ref: "otb:context" },
  },
} as const;

export const contextEventKeys: KeysOf<ContextEvent> = { kind: true, ts: true, context: true, changed: true, reason: true };
export const contextEventSchema = {
  $id: "otb:context-event",
  type: "object",
  additionalProperties: false,
  required: ["kind", "ts", "context", "changed"],
  properties: {
    kind: { const: "context" },
    ts: timestamp,
    context: { $ref: "otb:context" },
    changed: { type: "array", items: { type: "string" } },
    reason: { type: "string", maxLength: 256 },
  },
} as const;

export const kpiKeys: KeysOf<Kpi> = {
  kind: true, ts: true, name: true, scope: true, period: true, values: true, units: true, detail: true, quality: true,
  reasons: true, context: true,
};
export const kpiSchema = {
  $id: "otb:kpi",
  type: "object",
  additionalProperties: false,
  required: ["kind", "ts", "name", "scope", "period", "values", "quality"],
  properties: {
    kind: { const: "kpi" },
    ts: timestamp,
    name: { type: "string", minLength: 1, maxLength: 256 },
    scope: { type: "string", enum: [...KPI_SCOPES] },
    period: {
      type: "object",
      additionalProperties: false,
      required: ["from", "to"],
      properties: { from: timestamp, to: timestamp, label: { type: "string", maxLength: 256 } },
    },
    values: { type: "object", additionalProperties: { type: ["number", "null"] } },
    units: { type: "object", additionalProperties: { type: "string", maxLength: 64 } },
    detail: { type: "object" },
    quality: qualitySchema,
    reasons: { type: "array", items: { type: "string", maxLength: 256 }, maxItems: 64 },
    context: { $ref: "otb:context" },
  },
} as const;

const modelIdentitySchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "version", "sha256"],
  properties: { name: nonEmptyString, version: nonEmptyString, sha256: { type: "string", pattern: "^[0-9a-f]{64}$" } },
} as const;
const alarmId = { type: "string", minLength: 1, maxLength: 256 } as const;

export const alarmKeys: KeysOf<Alarm> = {
  kind: true, id: true, state: true, ts: true, raisedAt: true, model: true, score: true, threshold: true,
  consecutive: true, contributors: true, context: true,
};
export const alarmSchema = {
  $id: "otb:alarm",
  type: "object",
  additionalProperties: false,
  required: ["kind", "id", "state", "ts", "raisedAt", "model", "score", "threshold", "consecutive", "contributors"],
  properties: {
    kind: { const: "alarm" },
    id: alarmId,
    state: { type: "string", enum: ["raised", "cleared"] },
    ts: timestamp,
    raisedAt: timestamp,
    model: modelIdentitySchema,
    score: finiteNumber,
    threshold: finiteNumber,
    consecutive: { type: "integer", minimum: 1 },
    contributors: {
      type: "array",
      maxItems: 16,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["feature", "contribution", "share"],
        properties: { feature: nonEmptyString, contribution: finiteNumber, share: finiteNumber },
      },
    },
    context: { $ref: "otb:context" },
  },
} as const;

export const spcAlarmKeys: KeysOf<SpcAlarm> = {
  kind: true, source: true, state: true, ts: true, characteristic: true, tag: true, chart: true, rule: true, text: true,
  value: true, center: true, ucl: true, lcl: true, context: true,
};
export const spcAlarmSchema = {
  $id: "otb:spc-alarm",
  type: "object",
  additionalProperties: false,
  required: ["kind", "source", "state", "ts", "characteristic", "tag", "chart", "rule", "text", "value", "center", "ucl", "lcl"],
  properties: {
    kind: { const: "alarm" },
    source: { const: "spc" },
    state: { type: "string", enum: ["raised", "cleared"] },
    ts: timestamp,
    characteristic: nonEmptyString,
    tag: nonEmptyString,
    chart: nonEmptyString,
    rule: nonEmptyString,
    text: { type: "string" },
    value: finiteNumber,
    center: finiteNumber,
    ucl: finiteNumber,
    lcl: finiteNumber,
    context: { $ref: "otb:context" },
  },
} as const;

export const verdictKeys: KeysOf<Verdict> = {
  kind: true, alarmId: true, verdict: true, note: true, user: true, ts: true, model: true, raisedAt: true, clearedAt: true, context: true,
};
export const verdictSchema = {
  $id: "otb:verdict",
  type: "object",
  additionalProperties: false,
  required: ["kind", "alarmId", "verdict", "user", "ts", "model", "raisedAt"],
  properties: {
    kind: { const: "verdict" },
    alarmId: alarmId,
    verdict: { type: "string", enum: [...VERDICT_VALUES] },
    note: { type: "string", maxLength: 2000 },
    user: { type: "string", minLength: 1, maxLength: 256 },
    ts: timestamp,
    model: modelIdentitySchema,
    raisedAt: timestamp,
    clearedAt: timestamp,
    context: { $ref: "otb:context" },
  },
} as const;

const countSchema = { type: "integer", minimum: 0 } as const;
const nullableSeconds = { type: ["number", "null"], minimum: 0 } as const;
export const alarmKpiKeys: KeysOf<AlarmKpi> = {
  kind: true, ts: true, model: true, week: true, alarms: true, judged: true, confirmed: true, falseAlarms: true,
  unsure: true, precision: true, ackMedianS: true, ackMeanS: true, context: true,
};
export const alarmKpiSchema = {
  $id: "otb:alarm-kpi",
  type: "object",
  additionalProperties: false,
  required: ["kind", "ts", "model", "week", "alarms", "judged", "confirmed", "falseAlarms", "unsure", "precision", "ackMedianS", "ackMeanS"],
  properties: {
    kind: { const: "alarm-kpi" },
    ts: timestamp,
    model: modelIdentitySchema,
    week: { type: "string", pattern: "^[0-9]{4}-W[0-9]{2}$" },
    alarms: countSchema, judged: countSchema, confirmed: countSchema, falseAlarms: countSchema, unsure: countSchema,
    precision: { type: ["number", "null"], minimum: 0, maximum: 1 },
    ackMedianS: nullableSeconds,
    ackMeanS: nullableSeconds,
    context: { $ref: "otb:context" },
  },
} as const;

let shared: Ajv | null = null;

/**
 * One ajv instance for the whole pack (schemas compile once per process, not per node), made on
 * first use. ajv and the compiled validators took about 20 MB RSS per process when compiled at
 * require time (issue 19, memory per line process), and most processes need few of them or none:
 * the hot paths check Signals and FeatureFrames by hand first (below) and ask ajv only about what
 * that check cannot accept.
 */
export function sharedAjv(): Ajv {
  if (!shared) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const AjvClass = (require("ajv") as typeof import("ajv")).default;
    shared = new AjvClass({ allErrors: true, strict: true, allowUnionTypes: true });
    shared.addSchema(contextSchema);
  }
  return shared;
}

/** A validator as callers use it: call it, then read `.errors` when it said no. */
export interface Validator<T> {
  (data: unknown): data is T;
  errors?: ErrorObject[] | null;
}

/** A validator compiled by `compile` (with the shared ajv) on its first call, not at require time. */
export function lazyValidator<T>(compile: (ajv: Ajv) => ValidateFunction<T> | ValidateFunction): Validator<T> {
  let fn: ValidateFunction | null = null;
  const validate = ((data: unknown): boolean => {
    fn ??= compile(sharedAjv()) as ValidateFunction;
    const ok = fn(data) as boolean;
    validate.errors = fn.errors;
    return ok;
  }) as Validator<T>;
  validate.errors = null;
  return validate;
}

export const validateSignal = lazyValidator<Signal>((ajv) => ajv.compile<Signal>(signalSchema));
export const validateContext = lazyValidator<Context>((ajv) => ajv.getSchema<Context>("otb:context") as ValidateFunction<Context>);
export const validateFeatureFrame = lazyValidator<FeatureFrame>((ajv) => ajv.compile<FeatureFrame>(featureFrameSchema));
export const validateInference = lazyValidator<Inference>((ajv) => ajv.compile<Inference>(inferenceSchema));
export const validateContextEvent = lazyValidator<ContextEvent>((ajv) => ajv.compile<ContextEvent>(contextEventSchema));
export const validateAlarm = lazyValidator<Alarm>((ajv) => ajv.compile<Alarm>(alarmSchema));
export const validateSpcAlarm = lazyValidator<SpcAlarm>((ajv) => ajv.compile<SpcAlarm>(spcAlarmSchema));
export const validateVerdict = lazyValidator<Verdict>((ajv) => ajv.compile<Verdict>(verdictSchema));
export const validateAlarmKpi = lazyValidator<AlarmKpi>((ajv) => ajv.compile<AlarmKpi>(alarmKpiSchema));
export const validateKpi = lazyValidator<Kpi>((ajv) => ajv.compile<Kpi>(kpiSchema));

/** "ts must be number; quality must be equal to one of the allowed values" */
export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return "invalid";
  return errors
    .map((e) => `${e.instancePath ? e.instancePath.slice(1).replace(/\//g, ".") : "message"} ${e.message ?? "is invalid"}`)
    .join("; ");
}

/**
 * The same verdict as validateSignal, about ten times faster for the common case: a plain
 * object whose every field is plainly within the schema is accepted by a hand-written check;
 * anything else (a missing or extra key, a class instance, a string longer than a limit counted
 * in UTF-16 units, a non-finite number...) goes to ajv, which decides and sets
 * validateSignal.errors. So on `false`, describeErrors(validateSignal.errors) says why.
 * test/shared/signal-check.test.ts holds the two to the same answer on generated inputs.
 */
export function isValidSignal(x: unknown, memo?: SignalCheckMemo): x is Signal {
  return plainSignal(x, memo) || validateSignal(x);
}

/**
 * For the items of one batch, checked in one synchronous loop: the Context object a stamping node
 * shares between all Signals of a batch is checked once. Make a new one per batch.
 */
export interface SignalCheckMemo {
  context?: object;
}

const CONTEXT_MODES: readonly string[] = MODES;

/** True only when the schema certainly accepts `x`; false means "ask ajv". */
function plainSignal(x: unknown, memo: SignalCheckMemo | undefined): boolean {
  if (typeof x !== "object" || x === null || Object.getPrototypeOf(x) !== Object.prototype) return false;
  const s = x as Record<string, unknown>;
  for (const k in s) {
    if (k !== "tag" && k !== "value" && k !== "ts" && k !== "quality" && k !== "source" && k !== "unit" && k !== "reasons" && k !== "context") return false;
  }
  const tag = s.tag;
  // ajv counts code points (ucs2length <= length), so a length within the limit is within it for ajv too.
  if (typeof tag !== "string" || tag.length === 0 || tag.length > 256) return false;
  const value = s.value;
  if (value !== null && typeof value !== "string" && typeof value !== "boolean" && !(typeof value === "number" && Number.isFinite(value))) return false;
  const ts = s.ts;
  if (typeof ts !== "number" || !(ts >= 0 && ts <= 8.64e15)) return false;
  const quality = s.quality;
  if (quality !== "good" && quality !== "uncertain" && quality !== "bad") return false;
  const unit = s.unit;
  if (unit !== undefined && (typeof unit !== "string" || unit.length > 64)) return false;
  const reasons = s.reasons;
  if (reasons !== undefined) {
    if (!Array.isArray(reasons) || reasons.length > 64) return false;
    for (let i = 0; i < reasons.length; i++) {
      const r = reasons[i];
      if (typeof r !== "string" || r.length > 256) return false;
    }
  }
  if (!plainSource(s.source)) return false;
  const context = s.context;
  if (context === undefined || (memo !== undefined && context === memo.context)) return true;
  if (!plainContext(context)) return false;
  if (memo !== undefined) memo.context = context as object;
  return true;
}

function plainSource(x: unknown): boolean {
  if (typeof x !== "object" || x === null || Object.getPrototypeOf(x) !== Object.prototype) return false;
  const s = x as Record<string, unknown>;
  for (const k in s) if (k !== "protocol" && k !== "address" && k !== "device") return false;
  const p = s.protocol;
  if (p !== "opcua" && p !== "modbus" && p !== "mqtt" && p !== "sim") return false;
  const address = s.address;
  if (typeof address !== "string" || address.length > 1024) return false;
  const device = s.device;
  return device === undefined || (typeof device === "string" && device.length <= 256);
}

function plainContext(x: unknown): boolean {
  if (typeof x !== "object" || x === null || Object.getPrototypeOf(x) !== Object.prototype) return false;
  const c = x as Record<string, unknown>;
  for (const k in c) {
    const v = c[k];
    switch (k) {
      case "enterprise":
      case "site":
      case "area":
      case "line":
        if (typeof v !== "string" || v.length === 0 || v.length > 1024) return false;
        break;
      case "cell":
      case "asset":
      case "product":
      case "batch":
      case "order":
      case "shift":
        if (v !== undefined && typeof v !== "string") return false;
        break;
      case "mode":
        if (v !== undefined && !(typeof v === "string" && CONTEXT_MODES.includes(v))) return false;
        break;
      default:
        return false;
    }
  }
  // Required: present (for..in saw them only if set) and checked above.
  return typeof c.enterprise === "string" && typeof c.site === "string" && typeof c.area === "string" && typeof c.line === "string";
}

/**
 * validateFeatureFrame's verdict with isValidSignal's kind of fast path, for otb-infer's input (a
 * burst of 32 frames spent about a fifth of its time in ajv): a plain frame plainly within the
 * schema is accepted here; anything else goes to ajv, which decides and sets
 * validateFeatureFrame.errors. test/shared/feature-frame-check.test.ts holds the two to the same
 * verdict on generated frames.
 */
export function isValidFeatureFrame(x: unknown): x is FeatureFrame {
  return plainFeatureFrame(x) || validateFeatureFrame(x);
}

/** True only when the schema certainly accepts `x`; false means "ask ajv". */
function plainFeatureFrame(x: unknown): boolean {
  if (typeof x !== "object" || x === null || Object.getPrototypeOf(x) !== Object.prototype) return false;
  const f = x as Record<string, unknown>;
  for (const k in f) {
    if (k !== "kind" && k !== "ts" && k !== "windowMs" && k !== "names" && k !== "values" && k !== "missing" && k !== "quality" && k !== "context") return false;
  }
  if (f.kind !== "features") return false;
  const ts = f.ts;
  if (typeof ts !== "number" || !(ts >= 0 && ts <= 8.64e15)) return false;
  const windowMs = f.windowMs;
  if (typeof windowMs !== "number" || !(windowMs > 0 && windowMs < Infinity)) return false;
  const quality = f.quality;
  if (quality !== "good" && quality !== "uncertain" && quality !== "bad") return false;
  const { names, values, missing } = f;
  if (!Array.isArray(names) || !Array.isArray(values) || !Array.isArray(missing)) return false;
  // ajv counts code points (ucs2length <= length), so a length within the limit is within it for ajv too.
  for (let i = 0; i < names.length; i++) {
    const n: unknown = names[i];
    if (typeof n !== "string" || n.length === 0 || n.length > 1024) return false;
  }
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    if (typeof v !== "number" || !Number.isFinite(v)) return false;
  }
  for (let i = 0; i < missing.length; i++) if (typeof missing[i] !== "string") return false;
  return f.context === undefined || plainContext(f.context);
}
