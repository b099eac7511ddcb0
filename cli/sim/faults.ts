/**
 * The fault engine: walks the scenario's plan on the simulated time line, turns physical faults
 * into disturbances of the model (valve command, bearing wear), corrupts sensor readings
 * (drift, flatline, spikes, NaN, out of range, Bad status), answers the protocol servers'
 * question "is this device faulted right now?", and writes each occurrence to the labels.
 */
import { EventEmitter } from "events";
import type { Label, LabelWriter } from "./labels";
import type { Disturbances, Values } from "./model";
import { FaultPlan, type FaultSpec, type PlanOptions, type ScenarioDef } from "./scenarios";
import { findTag } from "./tags";
import { at } from "../checked";

export interface ActiveFault extends FaultSpec {
  id: number;
  /** Value frozen at onset (stuck_sensor), the last good value (sensor_failure). */
  held?: number | string | boolean;
  steps: number;
}

export interface ModbusFaultState {
  exception?: number;
  dropRate?: number;
  offline?: boolean;
}

/** Events: "start" (ActiveFault), "end" (ActiveFault). */
export class FaultEngine extends EventEmitter {
  private readonly plan: FaultPlan;
  private pending: FaultSpec | null;
  private readonly active: ActiveFault[] = [];
  private nextId = 1;
  /** OPC UA status per tag while a sensor_failure is active. */
  readonly badStatus = new Map<string, string>();
  /**
   * Set by a simulator that runs a real OPC UA server: it labels a restart itself once the server
   * is back and the real down time is known. Otherwise (the pure line) it is labelled at onset.
   */
  deferRestartLabels = false;

  constructor(
    readonly scenario: ScenarioDef,
    readonly seed: number,
    startTs: number,
    private readonly labels: LabelWriter,
    planOptions?: PlanOptions,
  ) {
    super();
    this.plan = new FaultPlan(scenario, seed, startTs, planOptions);
    this.pending = this.plan.next();
  }

  get activeFaults(): readonly ActiveFault[] {
    return this.active;
  }

  /** Builds the label line for a fault; `end` may differ from the plan for a restart. */
  label(f: ActiveFault, end = f.end): Label {
    return {
      id: f.id,
      fault: f.fault,
      tag: f.tag,
      tags: f.tags,
      start: f.start,
      end,
      startIso: new Date(f.start).toISOString(),
      endIso: new Date(end).toISOString(),
      scenario: this.scenario.name,
      seed: this.seed,
      params: f.params,
    };
  }

  /** Ends faults whose time is up and starts those due, at simulated time `ts`. */
  advance(ts: number, disturb: Disturbances): void {
    for (let i = this.active.length - 1; i >= 0; i--) {
      const f = at(this.active, i);
      if (ts >= f.end) {
        this.active.splice(i, 1);
        if (f.fault === "sensor_failure") this.badStatus.delete(f.tag);
        this.emit("end", f);
      }
    }
    while (this.pending && ts >= this.pending.start) {
      const f: ActiveFault = { ...this.pending, id: this.nextId++, steps: 0 };
      this.pending = this.plan.next();
      this.active.push(f);
      if (f.fault === "sensor_failure") this.badStatus.set(f.tag, String(f.params.statusCode));
      if (f.fault !== "opcua_restart" || !this.deferRestartLabels) this.labels.write(this.label(f));
      this.emit("start", f);
    }
    disturb.valveCommand = 1;
    disturb.bearingWear = 0;
    for (const f of this.active) {
      const progress = Math.min(1, (ts - f.start) / Math.max(1, f.end - f.start));
      if (f.fault === "valve_closing") {
        const target = Number(f.params.opening);
        disturb.valveCommand = 1 - (1 - target) * Math.min(1, progress / 0.2);
      } else if (f.fault === "bearing_wear") {
        disturb.bearingWear = Number(f.params.peakWear) * progress;
      }
    }
  }

  /** Corrupts readings in place per the active sensor faults. */
  applySensorFaults(ts: number, values: Values): void {
    for (const f of this.active) {
      const v = values[f.tag];
      const step = f.steps++;
      if (typeof v !== "number") continue;
      const progress = Math.min(1, (ts - f.start) / Math.max(1, f.end - f.start));
      switch (f.fault) {
        case "sensor_drift":
          values[f.tag] = v + Number(f.params.driftAtEnd) * progress;
          break;
        case "stuck_sensor":
        case "sensor_failure":
          if (f.held === undefined) f.held = v;
          values[f.tag] = f.held;
          break;
        case "spike":
          if (step % Number(f.params.everySteps) === 0) {
            const def = findTag(f.tag)!;
            // Spike towards the farther range end so it stays a spike, not an out-of-range value.
            const up = def.range!.high - v > v - def.range!.low;
            values[f.tag] = v + (up ? 1 : -1) * Number(f.params.magnitude);
          }
          break;
        case "nan":
          values[f.tag] = NaN;
          break;
        case "out_of_range":
          values[f.tag] = Number(f.params.value);
          break;
        default:
          break;
      }
    }
  }

  /** The fault state of a Modbus device right now. */
  modbus(device: string): ModbusFaultState {
    const state: ModbusFaultState = {};
    for (const f of this.active) {
      if (f.tag !== device) continue;
      if (f.fault === "modbus_exception") state.exception = Number(f.params.code);
      else if (f.fault === "modbus_timeout") state.dropRate = Number(f.params.dropRate);
      else if (f.fault === "device_offline") state.offline = true;
    }
    return state;
  }

  isActive(fault: string, tag: string): boolean {
    return this.active.some((f) => f.fault === fault && f.tag === tag);
  }
}
