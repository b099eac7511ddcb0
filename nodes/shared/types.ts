/**
 * The message contract of ../shared/DESIGN.md, as TypeScript types. Every node imports these;
 * schemas.ts holds the matching JSON Schemas and test/shared/schemas.test.ts proves they agree.
 */

export type Quality = "good" | "uncertain" | "bad";
export const QUALITIES: readonly Quality[] = ["good", "uncertain", "bad"];

export type Protocol = "opcua" | "modbus" | "mqtt" | "sim";
export type Mode = "running" | "idle" | "changeover" | "maintenance" | "fault" | "unknown";
export const MODES: readonly Mode[] = ["running", "idle", "changeover", "maintenance", "fault", "unknown"];

export type SignalValue = number | boolean | string | null;

export interface SignalSource {
  protocol: Protocol;
  address: string;
  device?: string;
}

export interface Context {
  enterprise: string;
  site: string;
  area: string;
  line: string;
  cell?: string;
  asset?: string;
  product?: string;
  batch?: string;
  order?: string;
  shift?: string;
  mode?: Mode;
}

export interface Signal {
  /** Stable id within the line, e.g. "pump1.motor.current". */
  tag: string;
  value: SignalValue;
  /** Source timestamp, ms since epoch, UTC. */
  ts: number;
  quality: Quality;
  /** Machine codes: out_of_range, stale, comm_lost, opcua:<StatusCode>, modbus:exception_<n>, ... */
  reasons?: string[];
  unit?: string;
  source: SignalSource;
  context?: Context;
}

export interface FeatureFrame {
  kind: "features";
  ts: number;
  windowMs: number;
  names: string[];
  values: number[];
  missing: string[];
  quality: Quality;
  context?: Context;
}

export interface ModelIdentity {
  name: string;
  version: string;
  sha256: string;
}

export interface Inference {
  kind: "inference";
  ts: number;
  model: ModelIdentity;
  outputs: Record<string, number[]>;
  score?: number;
  threshold?: number;
  anomaly?: boolean;
  latencyMs: number;
  drift?: number;
  contributions?: Record<string, number>;
  context?: Context;
}

export interface ContextEvent {
  kind: "context";
  ts: number;
  context: Context;
  changed: string[];
  /** Operator-entered reason for the current or last stop (otb-oee's downtime by reason). */
  reason?: string;
}

/** Anything a conduit may publish. Signals travel as batches; the others one per message. */
export type MessageKind = "signals" | "features" | "inference" | "events" | "alarms" | "kpi";

/** One input feature's part of an alarm's score (contributions sum to the score). */
export interface AlarmContributor {
  feature: string;
  contribution: number;
  /** contribution / score, 0..1. */
  share: number;
}

/**
 * An alarm of otb-infer: raised after N anomalous frames, cleared after M normal ones. The raise
 * and its clear carry the same `id` (model, its sha256 prefix and the raise time), which is
 * what an operator's Verdict names.
 */
export interface Alarm {
  kind: "alarm";
  id: string;
  state: "raised" | "cleared";
  /** The frame that raised or cleared it. */
  ts: number;
  /** When it was raised (equal to ts on the raise). */
  raisedAt: number;
  model: ModelIdentity;
  score: number;
  threshold: number;
  /** Consecutive frames that made the transition (the hysteresis setting). */
  consecutive: number;
  /** Largest contributions of the frame, at most 3. */
  contributors: AlarmContributor[];
  context?: Context;
}

/**
 * A control-chart rule violation of otb-spc (issue 17), raised and cleared like a model's alarm
 * but named by its characteristic and rule instead of a model: `source` tells the two apart.
 */
export interface SpcAlarm {
  kind: "alarm";
  source: "spc";
  state: "raised" | "cleared";
  ts: number;
  characteristic: string;
  tag: string;
  chart: string;
  /** "nelson1".."nelson8", "we1".."we4" or "dispersion". */
  rule: string;
  text: string;
  /** The plotted point and the limits it was judged against. */
  value: number;
  center: number;
  ucl: number;
  lcl: number;
  context?: Context;
}

export type VerdictValue = "confirmed" | "false_alarm" | "unsure";
export const VERDICT_VALUES: readonly VerdictValue[] = ["confirmed", "false_alarm", "unsure"];

/** An operator's judgement of one alarm; the latest verdict of an alarm counts. */
export interface Verdict {
  kind: "verdict";
  alarmId: string;
  verdict: VerdictValue;
  note?: string;
  /** Who judged it. */
  user: string;
  /** When it was judged. */
  ts: number;
  /** The alarm judged, from the verdict store. */
  model: ModelIdentity;
  raisedAt: number;
  clearedAt?: number;
  context?: Context;
}

/**
 * Alarm quality of one model over one ISO week (of the raise time, UTC): precision =
 * confirmed / (confirmed + false alarms); "unsure" is counted but judges nothing.
 */
export interface AlarmKpi {
  kind: "alarm-kpi";
  ts: number;
  model: ModelIdentity;
  /** e.g. "2026-W02". */
  week: string;
  alarms: number;
  judged: number;
  confirmed: number;
  falseAlarms: number;
  unsure: number;
  /** null until an alarm of the week was judged confirmed or false. */
  precision: number | null;
  /** Seconds from raise to first verdict, over the alarms with a verdict; null without any. */
  ackMedianS: number | null;
  ackMeanS: number | null;
  context?: Context;
}

/** The period a KPI covers: a shift, a local day or month, a rolling window, a request, one chart point. */
export type KpiScope = "shift" | "day" | "month" | "window" | "demand" | "point" | "baseline";
export const KPI_SCOPES: readonly KpiScope[] = ["shift", "day", "month", "window", "demand", "point", "baseline"];

/**
 * A key performance indicator computed from validated, contextualised Signals (otb-oee, otb-spc,
 * the business case). `values` holds the headline figures (ratios as fractions 0..1, times in
 * ms, energy in kWh, money in the business case's currency); null means "not computable", and
 * `reasons` says why. `detail` carries what produced them (waterfall, losses, the arithmetic),
 * so a reader can check every figure from the message alone.
 */
export interface Kpi {
  kind: "kpi";
  /** When the KPI was computed (source time of the data that closed it), ms since epoch UTC. */
  ts: number;
  /** "oee", "spc", "energy", "value" ... */
  name: string;
  scope: KpiScope;
  period: { from: number; to: number; label?: string };
  values: Record<string, number | null>;
  units?: Record<string, string>;
  detail?: Record<string, unknown>;
  quality: Quality;
  reasons?: string[];
  context?: Context;
}
