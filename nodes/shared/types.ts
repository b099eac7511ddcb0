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
}

/** Anything a conduit may publish. Signals travel as batches; the others one per message. */
export type MessageKind = "signals" | "features" | "inference" | "events";
