/**
 * What otb-publish does with one message, free of Node-RED: recognise the kind (Signal batch,
 * FeatureFrame, Inference, ContextEvent), build each topic (the UNS path from the message's
 * context, or a template), build the payload (the JSON envelope, or one Sparkplug metric per
 * value), apply report-by-exception, and run every publish past the conduit's policy. Nothing
 * is dropped silently: every item ends as a queue record, a refusal with a reason, or a
 * suppression by report-by-exception, and the three counts add up to the items received.
 */
import {
  isSafeTopicLevel, splitBatch, unsFeaturesTopic, unsInferenceTopic, unsLinePath, unsSignalTopic, describeErrors,
  validateContextEvent, validateFeatureFrame, validateInference, validateAlarm, validateSpcAlarm, validateVerdict, validateAlarmKpi, validateKpi,
  type Alarm, type AlarmKpi, type SpcAlarm, type Verdict, type Context, type ContextEvent, type FeatureFrame, type Inference, type Kpi, type MessageKind, type Signal,
} from "../shared";
import { DataType } from "../shared/sparkplug";
import { KIND_CODES } from "../otb-conduit/conduit-config";
import type { RecordInput } from "../otb-conduit/queue/record";
import { encodeMetricRecord } from "../otb-conduit/sparkplug-records";
import { isSafePublishTopic, type Refusal, type TopicPolicy } from "../otb-conduit/topic-policy";
import { at } from "../shared/checked";

export interface PublishSettings {
  topicMode: "uns" | "template";
  /** e.g. `plant/{site}/{line}/{tag}`; placeholders are filled from data and checked for injection. */
  template: string;
  rbe: boolean;
  /** Report-by-exception: a numeric change of at most this much is not sent (0: only equal values). */
  deadband: number;
  /** Sparkplug conduits take metrics, published under this NDATA topic; null: plain JSON. */
  sparkplugTopic: string | null;
}

export interface Refused {
  reason: Refusal;
  detail: string;
}

export interface Prepared {
  kind: MessageKind | null;
  records: RecordInput[];
  refused: Refused[];
  suppressed: number;
  /** Per record: the report-by-exception entry it set, and what was there before (for undo). */
  rbe: Array<{ key: string; value: unknown; before: unknown; had: boolean } | null>;
}

export interface PrepareContext {
  /** The line's identity, used when a message carries no context of its own. */
  line: Context | null;
  /** msg.topic, used as the window name of a FeatureFrame. */
  topic?: string;
}

const PLACEHOLDER = /\{(enterprise|site|area|line|cell|asset|tag|name|kind)\}/g;

/** A template is valid when it yields a safe topic whatever safe values fill its placeholders. */
export function isValidTemplate(template: string): boolean {
  return template.trim().length > 0 && isSafePublishTopic(template.replace(PLACEHOLDER, "x")) && !/[{}]/.test(template.replace(PLACEHOLDER, ""));
}

interface Item {
  kind: MessageKind;
  ctx: Context | undefined;
  /** The level that names the item: tag, window or model name. */
  name: string;
  /** JSON envelope, or the metrics for Sparkplug. */
  json: unknown;
  metrics: Array<{ name: string; datatype: DataType; value: number | boolean | string | null }>;
  ts: number;
  /** For report-by-exception. */
  rbeValue: unknown;
  /** KPI scope (shift, day, ...), the last topic level of a KPI. */
  scope?: string;
}

export class Publisher {
  private readonly last = new Map<string, unknown>();

  constructor(private readonly settings: PublishSettings, private readonly policy: TopicPolicy) {}

  prepare(payload: unknown, pc: PrepareContext): Prepared {
    const out: Prepared = { kind: null, records: [], refused: [], suppressed: 0, rbe: [] };
    const items = this.recognise(payload, pc, out);
    for (const item of items) {
      const ctx = item.ctx ?? pc.line ?? undefined;
      if (this.settings.sparkplugTopic) this.sparkplugRecords(item, out);
      else this.plainRecord(item, ctx, out);
    }
    return out;
  }

  private recognise(payload: unknown, pc: PrepareContext, out: Prepared): Item[] {
    const p = payload as { kind?: unknown } | null;
    const kind = p && typeof p === "object" && !Array.isArray(p) ? p.kind : undefined;
    if (kind === "features") {
      out.kind = "features";
      if (!validateFeatureFrame(payload)) return this.invalid(out, describeErrors(validateFeatureFrame.errors));
      const f = payload as FeatureFrame;
      // The schema does not tie the two lists' lengths: a value missing for a name would go out as a metric without a value.
      if (f.values.length !== f.names.length) return this.invalid(out, `${f.values.length} values for ${f.names.length} names`);
      const name = featureWindowName(pc.topic) ?? `w${f.windowMs}ms`;
      return [{ kind: "features", ctx: f.context, name, json: f, ts: f.ts, rbeValue: f.values,
        metrics: f.names.map((n, i) => ({ name: `_features/${name}/${n}`, datatype: DataType.Double, value: at(f.values, i) })) }];
    }
    if (kind === "inference") {
      out.kind = "inference";
      if (!validateInference(payload)) return this.invalid(out, describeErrors(validateInference.errors));
      const inf = payload as Inference;
      const base = `_inference/${inf.model.name}`;
      const metrics: Item["metrics"] = [{ name: `${base}/latencyMs`, datatype: DataType.Double, value: inf.latencyMs }];
      if (inf.score !== undefined) metrics.push({ name: `${base}/score`, datatype: DataType.Double, value: inf.score });
      if (inf.anomaly !== undefined) metrics.push({ name: `${base}/anomaly`, datatype: DataType.Boolean, value: inf.anomaly });
      return [{ kind: "inference", ctx: inf.context, name: inf.model.name, json: inf, ts: inf.ts, rbeValue: inf.score, metrics }];
    }
    if (kind === "context") {
      out.kind = "events";
      if (!validateContextEvent(payload)) return this.invalid(out, describeErrors(validateContextEvent.errors));
      const ev = payload as ContextEvent;
      const metrics = ev.changed.map((k) => ({ name: `_context/${k}`, datatype: DataType.String,
        value: String((ev.context as unknown as Record<string, unknown>)[k] ?? "") }));
      return [{ kind: "events", ctx: ev.context, name: "context", json: ev, ts: ev.ts, rbeValue: undefined, metrics }];
    }
    if (kind === "alarm" || kind === "verdict" || kind === "alarm-kpi") return this.recogniseAlarmKinds(kind, payload, out);
    if (kind === "kpi") {
      // KPIs (otb-oee, otb-spc, business case) go under <line>/_kpi/<name>/<scope>, never suppressed.
      out.kind = "kpi";
      if (!validateKpi(payload)) return this.invalid(out, describeErrors(validateKpi.errors));
      const k = payload as Kpi;
      const metrics = Object.entries(k.values).filter(([, v]) => v !== null)
        .map(([key, v]) => ({ name: `_kpi/${k.name}/${k.scope}/${key}`, datatype: DataType.Double, value: v as number }));
      return [{ kind: "kpi", ctx: k.context, name: k.name, json: k, ts: k.ts, rbeValue: undefined, metrics, scope: k.scope }];
    }
    out.kind = "signals";
    const { signals, rejected } = splitBatch(payload);
    for (const r of rejected) out.refused.push({ reason: "invalid", detail: `item ${r.index}: ${r.reason}` });
    return signals.map((s: Signal) => ({
      kind: "signals" as const, ctx: s.context, name: s.tag, json: s, ts: s.ts, rbeValue: [s.value, s.quality],
      metrics: [{ name: s.tag, datatype: datatypeOf(s.value), value: s.value }],
    }));
  }

  /**
   * Issue 18's kinds: an Alarm is its own kind (`<line>/_alarms/<model>`); an operator's Verdict
   * and the alarm KPIs are events (`<line>/_events/verdict`, `<line>/_events/alarm-kpi`).
   * Never suppressed by report-by-exception: each one is a fact, not a sampled value.
   */
  private recogniseAlarmKinds(kind: "alarm" | "verdict" | "alarm-kpi", payload: unknown, out: Prepared): Item[] {
    if (kind === "alarm" && (payload as { source?: unknown }).source === "spc") {
      // otb-spc's rule violations: <line>/_alarms/spc-<characteristic>.
      out.kind = "alarms";
      if (!validateSpcAlarm(payload)) return this.invalid(out, describeErrors(validateSpcAlarm.errors));
      const a = payload as SpcAlarm;
      const name = `spc-${a.characteristic}`;
      return [{ kind: "alarms", ctx: a.context, name, json: a, ts: a.ts, rbeValue: undefined, metrics: [
        { name: `_alarms/${name}/active`, datatype: DataType.Boolean, value: a.state === "raised" },
        { name: `_alarms/${name}/rule`, datatype: DataType.String, value: a.rule },
        { name: `_alarms/${name}/value`, datatype: DataType.Double, value: a.value },
      ] }];
    }
    if (kind === "alarm") {
      out.kind = "alarms";
      if (!validateAlarm(payload)) return this.invalid(out, describeErrors(validateAlarm.errors));
      const a = payload as Alarm;
      const base = `_alarms/${a.model.name}`;
      return [{ kind: "alarms", ctx: a.context, name: a.model.name, json: a, ts: a.ts, rbeValue: undefined, metrics: [
        { name: `${base}/active`, datatype: DataType.Boolean, value: a.state === "raised" },
        { name: `${base}/id`, datatype: DataType.String, value: a.id },
        { name: `${base}/score`, datatype: DataType.Double, value: a.score },
      ] }];
    }
    out.kind = "events";
    if (kind === "verdict") {
      if (!validateVerdict(payload)) return this.invalid(out, describeErrors(validateVerdict.errors));
      const v = payload as Verdict;
      return [{ kind: "events", ctx: v.context, name: "verdict", json: v, ts: v.ts, rbeValue: undefined, metrics: [
        { name: `_verdicts/${v.model.name}/${v.verdict}`, datatype: DataType.String, value: v.alarmId },
      ] }];
    }
    if (!validateAlarmKpi(payload)) return this.invalid(out, describeErrors(validateAlarmKpi.errors));
    const k = payload as AlarmKpi;
    const base = `_alarm_kpi/${k.model.name}`;
    const metrics: Item["metrics"] = [{ name: `${base}/judged`, datatype: DataType.Double, value: k.judged }];
    if (k.precision !== null) metrics.push({ name: `${base}/precision`, datatype: DataType.Double, value: k.precision });
    if (k.ackMedianS !== null) metrics.push({ name: `${base}/ackMedianS`, datatype: DataType.Double, value: k.ackMedianS });
    return [{ kind: "events", ctx: k.context, name: "alarm-kpi", json: k, ts: k.ts, rbeValue: undefined, metrics }];
  }

  private invalid(out: Prepared, detail: string): Item[] {
    out.refused.push({ reason: "invalid", detail });
    return [];
  }

  private plainRecord(item: Item, ctx: Context | undefined, out: Prepared): void {
    const topic = this.topicFor(item, ctx, out);
    if (topic === null) return;
    if (this.suppressed(topic, item.rbeValue)) {
      out.suppressed++;
      return;
    }
    const payload = Buffer.from(JSON.stringify(item.json));
    const refusal = this.policy.check(topic, item.kind, payload.length);
    if (refusal) {
      out.refused.push({ reason: refusal, detail: topic });
      return;
    }
    out.rbe.push(this.remember(topic, item.rbeValue));
    out.records.push({ ts: item.ts, kind: KIND_CODES[item.kind], topic, payload });
  }

  private sparkplugRecords(item: Item, out: Prepared): void {
    const topic = this.settings.sparkplugTopic!;
    for (const m of item.metrics) {
      if (m.name.length === 0 || m.name.includes("\u0000")) {
        out.refused.push({ reason: "invalid", detail: `metric name "${m.name}"` });
        continue;
      }
      if (this.suppressed(m.name, m.value)) {
        out.suppressed++;
        continue;
      }
      const payload = encodeMetricRecord(m.datatype, m.value);
      const refusal = this.policy.check(topic, item.kind, payload.length + m.name.length);
      if (refusal) {
        out.refused.push({ reason: refusal, detail: `${topic} ${m.name}` });
        continue;
      }
      out.rbe.push(this.remember(m.name, m.value));
      out.records.push({ ts: item.ts, kind: KIND_CODES[item.kind], topic: m.name, payload });
    }
  }

  private topicFor(item: Item, ctx: Context | undefined, out: Prepared): string | null {
    const values: Record<string, string | undefined> = {
      enterprise: ctx?.enterprise, site: ctx?.site, area: ctx?.area, line: ctx?.line, cell: ctx?.cell, asset: ctx?.asset,
      tag: item.name, name: item.name, kind: item.kind,
    };
    if (this.settings.topicMode === "template") {
      let bad: { key: string; value: string | undefined } | null = null;
      const topic = this.settings.template.replace(PLACEHOLDER, (_, key: string) => {
        const v = values[key];
        if (v === undefined || !isSafeTopicLevel(v)) bad = { key, value: v };
        return v ?? "";
      });
      if (bad) {
        const { key, value } = bad as { key: string; value: string | undefined };
        out.refused.push({ reason: value === undefined ? "no_context" : "topic_injection", detail: `${key}="${value ?? ""}"` });
        return null;
      }
      return topic;
    }
    if (!ctx || !ctx.enterprise || !ctx.site || !ctx.area || !ctx.line) {
      out.refused.push({ reason: "no_context", detail: `${item.kind} ${item.name}: no context (enterprise/site/area/line) and no line configured` });
      return null;
    }
    for (const key of ["enterprise", "site", "area", "line"] as const) {
      if (!isSafeTopicLevel(ctx[key])) {
        out.refused.push({ reason: "topic_injection", detail: `${key}="${ctx[key]}"` });
        return null;
      }
    }
    if (!isSafeTopicLevel(item.name)) {
      out.refused.push({ reason: "topic_injection", detail: `${item.kind === "signals" ? "tag" : "name"}="${item.name}"` });
      return null;
    }
    switch (item.kind) {
      case "signals": return unsSignalTopic(ctx, item.name);
      case "features": return unsFeaturesTopic(ctx, item.name);
      case "inference": return unsInferenceTopic(ctx, item.name);
      case "events": return `${unsLinePath(ctx)}/_events/${item.name}`;
      case "alarms": return `${unsLinePath(ctx)}/_alarms/${item.name}`;
      case "kpi": return `${unsLinePath(ctx)}/_kpi/${item.name}/${item.scope ?? "demand"}`;
    }
  }

  private suppressed(key: string, value: unknown): boolean {
    if (!this.settings.rbe || value === undefined || !this.last.has(key)) return false;
    return withinDeadband(this.last.get(key), value, this.settings.deadband);
  }

  private remember(key: string, value: unknown): Prepared["rbe"][number] {
    if (!this.settings.rbe || value === undefined) return null;
    const entry = { key, value, before: this.last.get(key), had: this.last.has(key) };
    this.last.set(key, value);
    return entry;
  }

  /**
   * The queue refused these records (full, or a failed write): forget that they were sent, so
   * that report-by-exception does not suppress the next equal value. A newer value set since
   * by another message is left alone.
   */
  forget(prepared: Prepared, refusedAt: readonly number[]): void {
    for (const i of [...refusedAt].reverse()) {
      const e = prepared.rbe[i];
      if (!e || this.last.get(e.key) !== e.value) continue;
      if (e.had) this.last.set(e.key, e.before);
      else this.last.delete(e.key);
    }
  }
}

/** Equal, or numerically within the deadband (element-wise for arrays and [value, quality] pairs). */
export function withinDeadband(a: unknown, b: unknown, deadband: number): boolean {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) <= deadband;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => withinDeadband(x, b[i], deadband));
  return a === b;
}

function datatypeOf(v: Signal["value"]): DataType {
  if (typeof v === "boolean") return DataType.Boolean;
  if (typeof v === "string") return DataType.String;
  return DataType.Double;
}

/**
 * The window name of a feature frame from msg.topic: either the name itself, or the last level of
 * the full UNS topic otb-window sets (`<line path>/_features/<window name>`).
 */
export function featureWindowName(topic: string | undefined): string | undefined {
  if (!topic) return undefined;
  const level = topic.includes("/_features/") ? topic.slice(topic.lastIndexOf("/") + 1) : topic;
  return isSafeTopicLevel(level) ? level : undefined;
}
