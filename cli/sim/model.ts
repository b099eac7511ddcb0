/**
 * The physics of the line: a centrifugal pump driven by an induction motor, circulating fluid
 * through a discharge throttle valve, plus the line's state machine, part counter, product and
 * batch schedule, an energy meter and a downstream "legacy machine".
 *
 * Values are coupled, not independent noise: the pump follows its curve (pressure falls as flow
 * rises), the valve sets the operating point (closing it cuts flow, raises discharge pressure
 * towards shut-off head and, because a centrifugal pump's shaft power follows flow, lowers motor
 * current), temperatures lag their heat input with first-order time constants, and bearing wear
 * raises vibration, friction current and motor temperature. Magnitudes follow the SKAB water
 * circulation testbed (about 2.4 A, 230 V, 0.2-0.3 g RMS) so that models trained on SKAB see
 * familiar numbers.
 *
 * Pure: the only inputs are the step length, an Rng and the disturbances the fault engine sets.
 */
import { Rng } from "./rng";
import { STATE_CODES, type LineState } from "./tags";
import { at } from "../checked";

export interface ScheduleOptions {
  /** Running time of one batch (simulated ms). */
  batchMs: number;
  changeoverMs: number;
  /** Waiting for material after a changeover. */
  idleMs: number;
  maintenanceMs: number;
  /** Every Nth batch ends in planned maintenance instead of a changeover. */
  maintenanceEvery: number;
}

export const DEFAULT_SCHEDULE: ScheduleOptions = {
  batchMs: 60 * 60_000,
  changeoverMs: 5 * 60_000,
  idleMs: 2 * 60_000,
  maintenanceMs: 20 * 60_000,
  maintenanceEvery: 8,
};

export const PRODUCTS = ["COOLANT-A", "COOLANT-B", "GLYCOL-30"] as const;

/** Disturbances the fault engine applies to the physics (not to the sensors). */
export interface Disturbances {
  /** Commanded valve opening 0..1 (1 = fully open, the normal operating point). */
  valveCommand: number;
  /** Bearing wear 0..1: 0 new, 1 about to fail. */
  bearingWear: number;
}

export type Values = Record<string, number | string | boolean>;

const NOMINAL = {
  flow: 32, // l/min at full speed, valve open
  shutoffBar: 3.2,
  nominalBar: 2.4,
  ratedCurrent: 2.4, // A
  voltage: 230,
  ambient: 24,
  vibDe: 0.212,
  vibNde: 0.268,
  partsPerMinute: 12,
};

/** Valve characteristic: fraction of nominal flow at opening v (quick-opening, 0.35 at 20 %). */
function valveFlowFactor(v: number): number {
  const c = Math.max(0, Math.min(1, v));
  return c / Math.sqrt(0.3 + 0.7 * c * c);
}

export class LineModel {
  readonly disturb: Disturbances = { valveCommand: 1, bearingWear: 0 };
  state: LineState = "running";
  product: string = PRODUCTS[0];
  batchNo = 1;
  private stateSince = 0;
  private speed = 1; // pump speed fraction
  private valve = 1; // actual valve opening (lags the command)
  private motorTemp: number;
  private fluidTemp: number;
  private parts = 0;
  private partFraction = 0;
  private energyWh = 0;
  private runSeconds = 0;
  private elapsed = 0;
  private readonly schedule: ScheduleOptions;

  constructor(private readonly rng: Rng, schedule: Partial<ScheduleOptions> = {}) {
    this.schedule = { ...DEFAULT_SCHEDULE, ...schedule };
    // Start warm, at the running steady state, so the first samples are already plausible.
    this.motorTemp = this.motorTempTarget(NOMINAL.ratedCurrent);
    this.fluidTemp = NOMINAL.ambient + 4;
  }

  get batch(): string {
    return `B${String(1000 + this.batchNo)}`;
  }

  get order(): string {
    return `PO-${String(4500 + Math.ceil(this.batchNo / 2))}`;
  }

  private motorTempTarget(current: number): number {
    return NOMINAL.ambient + 11.5 * current * current;
  }

  /** Advances the state machine; returns true when product/batch/state changed. */
  private stepSchedule(dtMs: number): void {
    this.stateSince += dtMs;
    const s = this.schedule;
    const next = (state: LineState): void => {
      this.state = state;
      this.stateSince = 0;
    };
    switch (this.state) {
      case "running":
        if (this.stateSince >= s.batchMs) next(this.batchNo % s.maintenanceEvery === 0 ? "maintenance" : "changeover");
        break;
      case "changeover":
      case "maintenance":
        if (this.stateSince >= (this.state === "changeover" ? s.changeoverMs : s.maintenanceMs)) {
          this.batchNo++;
          if (this.state === "changeover") this.product = at(PRODUCTS, (PRODUCTS.indexOf(this.product as (typeof PRODUCTS)[number]) + 1) % PRODUCTS.length);
          next("idle");
        }
        break;
      case "idle":
        if (this.stateSince >= s.idleMs) next("running");
        break;
    }
  }

  /** One step of dtMs simulated milliseconds; returns every true (fault-free) value. */
  step(dtMs: number): Values {
    const dt = dtMs / 1000;
    const n = this.rng;
    this.elapsed += dtMs;
    this.stepSchedule(dtMs);
    const targetSpeed = this.state === "running" ? 1 : this.state === "changeover" ? 0.4 : 0;
    this.speed += (targetSpeed - this.speed) * Math.min(1, dt / 4); // 4 s ramp
    this.valve += (this.disturb.valveCommand - this.valve) * Math.min(1, dt / 8); // 8 s actuator
    const spd = this.speed;
    const wear = this.disturb.bearingWear;

    const flowFrac = spd * valveFlowFactor(this.valve);
    const flow = NOMINAL.flow * flowFrac;
    // Pump curve: H = H0 n^2 - k Q^2 (affinity laws), in bar of discharge pressure.
    const pressure = NOMINAL.shutoffBar * spd * spd - (NOMINAL.shutoffBar - NOMINAL.nominalBar) * flowFrac * flowFrac;
    // Shaft load: a fixed part (friction, growing with wear) plus hydraulic power, which follows flow.
    const load = spd > 0.02 ? 0.25 * spd + 0.75 * flowFrac * spd + 0.12 * wear * spd : 0;
    const running = spd > 0.02;
    const current = running ? NOMINAL.ratedCurrent * (0.35 + 0.65 * load) : 0;
    const voltage = NOMINAL.voltage - 0.9 * current;
    this.motorTemp += (this.motorTempTarget(current) + 8 * wear - this.motorTemp) * Math.min(1, dt / 600);
    // Throttling turns pump work into heat in the fluid.
    const fluidTarget = NOMINAL.ambient + 4 * spd * (1 + 1.5 * (1 - valveFlowFactor(this.valve)));
    this.fluidTemp += (fluidTarget - this.fluidTemp) * Math.min(1, dt / 1800);
    // Vibration: grows with speed squared, with throttling (recirculation) and strongly with wear.
    const vibBase = 0.15 + 0.85 * spd * spd;
    const throttle = 1 + 0.25 * (1 - this.valve) * spd;
    const vibDe = NOMINAL.vibDe * vibBase * throttle * (1 + 3 * wear * wear + 0.6 * wear);
    const vibNde = NOMINAL.vibNde * vibBase * throttle * (1 + 1.5 * wear * wear + 0.3 * wear);

    if (this.state === "running") {
      this.partFraction += (NOMINAL.partsPerMinute * flowFrac * dt) / 60;
      const whole = Math.floor(this.partFraction);
      this.parts += whole;
      this.partFraction -= whole;
      this.runSeconds += dt;
    }
    const pf = running ? 0.55 + 0.3 * load : 1;
    const noisyCurrent = running ? current + 0.02 * n.gauss() : 0;
    const noisyVoltage = voltage + 1.2 * n.gauss();
    const power = noisyVoltage * noisyCurrent * pf; // single phase, W
    this.energyWh += (power * dt) / 3600;

    return {
      "pump1.motor.current": noisyCurrent,
      "pump1.motor.voltage": noisyVoltage,
      "pump1.motor.temperature": this.motorTemp + 0.15 * n.gauss(),
      "pump1.discharge.pressure": pressure + 0.02 * n.gauss(),
      "pump1.flow": Math.max(0, flow + 0.25 * n.gauss()),
      "pump1.fluid.temperature": this.fluidTemp + 0.05 * n.gauss(),
      "pump1.valve.position": 100 * this.valve,
      "pump1.vibration.de_rms": Math.max(0, vibDe * (1 + 0.02 * n.gauss())),
      "pump1.vibration.nde_rms": Math.max(0, vibNde * (1 + 0.015 * n.gauss())),
      "line.state": this.state,
      "line.state_code": STATE_CODES[this.state],
      "line.part_count": this.parts,
      "line.product": this.product,
      "line.batch": this.batch,
      "line.order": this.order,
      "meter1.voltage": noisyVoltage,
      "meter1.current": noisyCurrent,
      "meter1.active_power": Math.round(power),
      "meter1.energy_total": Math.floor(this.energyWh),
      "meter1.frequency": 50 + 0.02 * n.gauss(),
      "meter1.power_factor": pf,
      "meter1.ct_ratio": 100,
      "legacy1.running": this.state === "running",
      "legacy1.fault": false,
      "legacy1.state_code": STATE_CODES[this.state],
      "legacy1.part_count": this.parts,
      "legacy1.motor_temperature": this.motorTemp - 35 + 0.1 * n.gauss(),
      "legacy1.cycle_time": flowFrac > 0.05 ? 60 / (NOMINAL.partsPerMinute * flowFrac) : 0,
      "legacy1.flow_setpoint": NOMINAL.flow,
      "legacy1.door_closed": this.state !== "maintenance",
      "legacy1.run_hours": this.runSeconds / 3600,
      "legacy1.offset_temp": -12.5,
      "legacy1.product": this.product,
    };
  }
}
