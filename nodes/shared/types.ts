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
export type MessageKind = "signals" | "features" | "inference" | "events" | "kpi";

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
