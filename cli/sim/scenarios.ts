/**
 * Fault scenarios: which faults happen, on which tag, when and for how long, all drawn from a
 * seeded stream so that (scenario, seed) reproduces the same schedule on every run. Each
 * scenario repeats its fault with gaps, so a long run has many labelled occurrences; "mixed"
 * cycles through every fault kind in a seeded order.
 */
import { Rng } from "./rng";
import { OPCUA_TAGS, VIBRATION_TAGS } from "./tags";
import { at } from "../checked";

export type FaultKind =
  | "bearing_wear"
  | "valve_closing"
  | "sensor_drift"
  | "stuck_sensor"
  | "spike"
  | "nan"
  | "out_of_range"
  | "sensor_failure"
  | "modbus_exception"
  | "modbus_timeout"
  | "device_offline"
  | "opcua_restart"
  | "mqtt_offline";

export const FAULT_KINDS: readonly FaultKind[] = [
  "bearing_wear", "valve_closing", "sensor_drift", "stuck_sensor", "spike", "nan", "out_of_range",
  "sensor_failure", "modbus_exception", "modbus_timeout", "device_offline", "opcua_restart", "mqtt_offline",
];

export interface FaultSpec {
  fault: FaultKind;
  tag: string;
  tags: string[];
  start: number;
  end: number;
  params: Record<string, number | string>;
}

const MIN = 60_000;
const SEC = 1000;

/** Analog tags a sensor fault may hit (OPC UA doubles and the MQTT vibration channels). */
const SENSOR_TAGS = [...OPCUA_TAGS, ...VIBRATION_TAGS].filter((d) => d.type === "Double" && d.tag !== "pump1.valve.position");
const OPCUA_ANALOG = OPCUA_TAGS.filter((d) => d.type === "Double");

function pickTag(rng: Rng, defs = SENSOR_TAGS): { tag: string; low: number; high: number } {
  const d = rng.pick(defs);
  return { tag: d.tag, low: d.range!.low, high: d.range!.high };
}

/** Draws one occurrence of `kind` starting at `start` (simulated ms). */
export function drawFault(kind: FaultKind, rng: Rng, start: number): FaultSpec {
  const span = (lo: number, hi: number): number => Math.round(rng.between(lo, hi) / SEC) * SEC;
  switch (kind) {
    case "bearing_wear":
      return {
        fault: kind,
        tag: "pump1.vibration.de_rms",
        tags: ["pump1.vibration.de_rms", "pump1.vibration.nde_rms", "pump1.motor.current", "pump1.motor.temperature"],
        start,
        end: start + span(10 * MIN, 20 * MIN),
        params: { peakWear: Number(rng.between(0.7, 1).toFixed(2)) },
      };
    case "valve_closing":
      return {
        fault: kind,
        tag: "pump1.valve.position",
        tags: ["pump1.valve.position", "pump1.flow", "pump1.discharge.pressure", "pump1.motor.current"],
        start,
        end: start + span(3 * MIN, 8 * MIN),
        params: { opening: Number(rng.between(0.1, 0.3).toFixed(2)) },
      };
    case "sensor_drift": {
      const t = pickTag(rng);
      const sign = rng.next() < 0.5 ? -1 : 1;
      return { fault: kind, tag: t.tag, tags: [t.tag], start, end: start + span(5 * MIN, 15 * MIN), params: { driftAtEnd: sign * Number(((t.high - t.low) * rng.between(0.05, 0.15)).toPrecision(3)) } };
    }
    case "stuck_sensor": {
      const t = pickTag(rng);
      return { fault: kind, tag: t.tag, tags: [t.tag], start, end: start + span(2 * MIN, 6 * MIN), params: {} };
    }
    case "spike": {
      const t = pickTag(rng);
      return { fault: kind, tag: t.tag, tags: [t.tag], start, end: start + span(30 * SEC, 60 * SEC), params: { everySteps: 5, magnitude: Number(((t.high - t.low) * rng.between(0.2, 0.35)).toPrecision(3)) } };
    }
    case "nan": {
      const t = pickTag(rng);
      return { fault: kind, tag: t.tag, tags: [t.tag], start, end: start + span(10 * SEC, 30 * SEC), params: {} };
    }
    case "out_of_range": {
      const t = pickTag(rng);
      const high = rng.next() < 0.5;
      const value = high ? t.high + 0.2 * (t.high - t.low) : t.low - 0.2 * (t.high - t.low);
      return { fault: kind, tag: t.tag, tags: [t.tag], start, end: start + span(10 * SEC, 30 * SEC), params: { value } };
    }
    case "sensor_failure": {
      const t = pickTag(rng, OPCUA_ANALOG);
      return { fault: kind, tag: t.tag, tags: [t.tag], start, end: start + span(20 * SEC, 60 * SEC), params: { statusCode: "BadSensorFailure" } };
    }
    case "modbus_exception": {
      const device = rng.pick(["meter1", "legacy1"]);
      return { fault: kind, tag: device, tags: [], start, end: start + span(20 * SEC, 60 * SEC), params: { code: rng.pick([2, 3, 4, 6, 11]) } };
    }
    case "modbus_timeout": {
      const device = rng.pick(["meter1", "legacy1"]);
      return { fault: kind, tag: device, tags: [], start, end: start + span(20 * SEC, 60 * SEC), params: { dropRate: 0.5 } };
    }
    case "device_offline": {
      const device = rng.pick(["meter1", "legacy1"]);
      return { fault: kind, tag: device, tags: [], start, end: start + span(30 * SEC, 90 * SEC), params: {} };
    }
    case "opcua_restart":
      return { fault: kind, tag: "opcua", tags: OPCUA_TAGS.map((d) => d.tag), start, end: start + span(10 * SEC, 30 * SEC), params: {} };
    case "mqtt_offline": {
      const sensor = rng.pick(["vib-de", "vib-nde"]);
      return { fault: kind, tag: sensor, tags: [sensor === "vib-de" ? "pump1.vibration.de_rms" : "pump1.vibration.nde_rms"], start, end: start + span(20 * SEC, 60 * SEC), params: {} };
    }
  }
}

export interface ScenarioDef {
  name: string;
  description: string;
  kinds: FaultKind[];
}

export const SCENARIOS: readonly ScenarioDef[] = [
  { name: "normal", description: "no faults: the line runs its batch schedule", kinds: [] },
  { name: "bearing-wear", description: "slow vibration rise on the pump bearings, with current and motor temperature", kinds: ["bearing_wear"] },
  { name: "valve-closing", description: "the discharge valve closes: flow drops, pressure rises, current falls", kinds: ["valve_closing"] },
  { name: "sensor-drift", description: "a sensor's reading drifts linearly away from the truth", kinds: ["sensor_drift"] },
  { name: "stuck-sensor", description: "a sensor flatlines at its last value", kinds: ["stuck_sensor"] },
  { name: "spikes", description: "isolated spikes on one sensor (every 5th sample in the window)", kinds: ["spike"] },
  { name: "nan-values", description: "a sensor reports NaN (null in JSON)", kinds: ["nan"] },
  { name: "out-of-range", description: "a sensor reports a value 20 % beyond its engineering range", kinds: ["out_of_range"] },
  { name: "sensor-failure", description: "an OPC UA tag turns BadSensorFailure", kinds: ["sensor_failure"] },
  { name: "modbus-exception", description: "a Modbus unit answers with an exception (2, 3, 4, 6 or 11)", kinds: ["modbus_exception"] },
  { name: "modbus-timeout", description: "a Modbus unit leaves half of the requests unanswered", kinds: ["modbus_timeout"] },
  { name: "device-offline", description: "a Modbus unit stops answering completely", kinds: ["device_offline"] },
  { name: "opcua-restart", description: "the OPC UA server shuts down and restarts (sessions drop)", kinds: ["opcua_restart"] },
  { name: "mqtt-offline", description: "a vibration sensor drops off MQTT (NDEATH, status offline) and comes back", kinds: ["mqtt_offline"] },
  {
    name: "mixed",
    description: "every fault kind above, in a seeded order",
    kinds: [...FAULT_KINDS],
  },
];

export function findScenario(name: string): ScenarioDef | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

export interface PlanOptions {
  /** Quiet time before the first fault (simulated ms). */
  warmupMs: number;
  /** Gap between one fault's end and the next fault's start: [min, max] simulated ms. */
  gapMs: [number, number];
}

export const DEFAULT_PLAN: PlanOptions = { warmupMs: 60 * SEC, gapMs: [60 * SEC, 180 * SEC] };

/** An endless, reproducible sequence of faults for a scenario. */
export class FaultPlan {
  private readonly rng: Rng;
  private order: FaultKind[] = [];
  private cursor: number;

  constructor(readonly scenario: ScenarioDef, seed: number, startTs: number, private readonly opts: PlanOptions = DEFAULT_PLAN) {
    this.rng = Rng.derive(seed, `faults:${scenario.name}`);
    this.cursor = startTs + opts.warmupMs + Math.round(this.rng.between(0, opts.warmupMs) / SEC) * SEC;
  }

  /** The next fault, or null for a fault-free scenario. */
  next(): FaultSpec | null {
    if (this.scenario.kinds.length === 0) return null;
    if (this.order.length === 0) {
      this.order = [...this.scenario.kinds];
      for (let i = this.order.length - 1; i > 0; i--) {
        const j = Math.floor(this.rng.next() * (i + 1));
        [this.order[i], this.order[j]] = [at(this.order, j), at(this.order, i)];
      }
    }
    const spec = drawFault(this.order.shift()!, this.rng, this.cursor);
    const [gmin, gmax] = this.opts.gapMs;
    this.cursor = spec.end + Math.round(this.rng.between(gmin, gmax) / SEC) * SEC;
    return spec;
  }
}
