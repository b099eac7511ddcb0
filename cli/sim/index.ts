/**
 * The otbridge line simulator as a library (tests, benchmarks, `npm start`, `otbridge simulate`).
 *
 *   const sim = await startSimulator({ seed: 7, speed: 100, scenario: "valve-closing",
 *                                      opcuaPort: 0, modbusPort: 0, labelsFile: "labels.jsonl" });
 *   sim.opcuaUrl   // "opc.tcp://127.0.0.1:<port>"     (port 0 = ephemeral, read back here)
 *   sim.modbusPort // Modbus TCP on 127.0.0.1 (unit 1 energy meter, unit 2 legacy machine)
 *   sim.mqttUrl    // the broker given, or the embedded aedes started on 127.0.0.1
 *   sim.line       // LineSnapshot: ts, state, product, batch, order, values, activeFaults
 *   sim.labels()   // ground-truth labels so far (also appended to labelsFile as JSON lines)
 *   sim.on("sample" | "fault-start" | "fault-end" | "replay-end" | "log", ...)
 *                  // "sample": every step's Sample {ts, values, bad}; sampleToSignals(sample)
 *                  // turns it into a DESIGN.md Signal[] batch (source.protocol "sim")
 *   await sim.stop()
 *
 * Options (all optional): seed (1), speed (1: real time; N: N times faster until the simulated
 * clock reaches the wall clock, then real time; see clock.ts for the one time line), scenario ("normal"; see SCENARIOS / `otbridge simulate --list`),
 * opcuaPort (env OTB_SIM_OPCUA_PORT or 4840), modbusPort (env OTB_SIM_MODBUS_PORT or 5020),
 * mqttUrl (absent: embedded aedes on mqttPort, env OTB_MQTT_PORT or 1883), sensorFormat
 * ("both" | "json" | "sparkplug"), labelsFile, replay (CSV path, SKAB format), replayKeepTimestamps,
 * startTs (ms; default defaultStartTs(speed): now, or (speed - 1) hours ago; never in the future), stepMs (1000), schedule (batch/changeover/idle/
 * maintenance durations), plan ({warmupMs, gapMs}), protocols ({opcua, modbus, mqtt}: false skips
 * one, e.g. to spare a Modbus test the slow OPC UA start), line ("line1"), pkiDir.
 *
 * Addresses (documented data: flows/catalog/simulator-opcua-tags.json and
 * flows/catalog/simulator-modbus-map.json):
 * - OPC UA: `ns=1;s=<line>.<asset>.<tag>`, browse path Objects/<line>/<asset>/<tag>, e.g.
 *   ns=1;s=line1.pump1.motor.current. Analog tags are AnalogItemType with EngineeringUnits and
 *   EURange; sensor failures turn a tag BadSensorFailure; values carry simulated source timestamps.
 * - Modbus: each unit's clock registers (input 90-91, Unix seconds) hold the served sample's time.
 * - MQTT: see mqtt-sensors.ts (JSON on otbridge/<line>/sensors/<sensor>/data, Sparkplug B edge
 *   nodes spBv1.0/otbridge/N*\/<line>-<sensor>).
 * OPC UA and Modbus serve the latest step; at speeds where several steps fall in one 10 ms tick,
 * only the last is visible there (like a PLC scanned slower than it changes). MQTT sends every step.
 */
import { EventEmitter } from "events";
import { startEmbeddedBroker, type EmbeddedBroker } from "./broker";
import { SimClock, defaultStartTs } from "./clock";
import type { ActiveFault } from "./faults";
import { LabelWriter, type Label } from "./labels";
import { Line, type LineSnapshot, type Sample } from "./line";
import type { ScheduleOptions } from "./model";
import { SimModbusServer, type ModbusStats } from "./modbus-server";
import { MqttSensors, type SensorFormat } from "./mqtt-sensors";
import type { SimOpcuaServer } from "./opcua-server";
import { loadReplay, type ReplayData } from "./replay";
import { Rng } from "./rng";
import { DEFAULT_PLAN, FAULT_KINDS, SCENARIOS, findScenario, type FaultKind, type PlanOptions, type ScenarioDef } from "./scenarios";
import { LINE_NAME } from "./tags";
import { OUTCOME_SCENARIOS, PartsProducer } from "./outcomes";
import { FillerPublisher } from "./outcomes-mqtt";

export { SCENARIOS, FAULT_KINDS, findScenario, FaultPlan, type FaultKind, type FaultSpec, type ScenarioDef } from "./scenarios";
export { OPCUA_TAGS, VIBRATION_TAGS, LINE_NAME, opcuaNodeId, findTag, type TagDef } from "./tags";
export { MODBUS_MAP, encodeRegisters, decodeRegisters, registerCount, type RegisterDef, type RegisterMap } from "./modbus-map";
export { SENSORS, SPARKPLUG_GROUP, jsonDataTopic, jsonStatusTopic, edgeNodeId, type SensorFormat } from "./mqtt-sensors";
export { SPEED_MIN, SPEED_MAX, CATCH_UP_MS, defaultStartTs } from "./clock";
export { readLabels, type Label } from "./labels";
export { loadReplay, SKAB_COLUMNS, ReplayError } from "./replay";
export type { LineSnapshot, Sample } from "./line";
export { sampleToSignals } from "./signals";
export { OUTCOME_FAULTS, OUTCOME_SCENARIOS, PartsProducer, DEFAULT_PARTS, type OutcomeFault } from "./outcomes";
export { fillerPartTopic, fillerStatusTopic } from "./outcomes-mqtt";

export interface SimulatorOptions {
  seed?: number;
  speed?: number;
  scenario?: string;
  /** A custom scenario: these fault kinds in a seeded order (overrides `scenario`). */
  faults?: FaultKind[];
  opcuaPort?: number;
  modbusPort?: number;
  mqttUrl?: string;
  mqttPort?: number;
  sensorFormat?: SensorFormat;
  labelsFile?: string;
  replay?: string | ReplayData;
  replayKeepTimestamps?: boolean;
  startTs?: number;
  stepMs?: number;
  schedule?: Partial<ScheduleOptions>;
  plan?: Partial<PlanOptions>;
  protocols?: { opcua?: boolean; modbus?: boolean; mqtt?: boolean };
  line?: string;
  pkiDir?: string;
  /**
   * The filling station's outcome scenario (OUTCOME_SCENARIOS, e.g. "outcomes-normal",
   * "mean-shift"); absent: no filling station. Emits "outcomes" (Signal[]) every step and, with
   * MQTT on, publishes it as JSON (outcomes-mqtt.ts). Its faults go to the same labels file.
   */
  outcomes?: string;
}

export interface Simulator extends EventEmitter {
  readonly opcuaUrl?: string;
  /** SHA-256 fingerprint (AA:BB:...) of the OPC UA server's certificate: what clients pin. */
  readonly opcuaFingerprint?: string;
  readonly modbusPort?: number;
  readonly mqttUrl?: string;
  readonly seed: number;
  readonly speed: number;
  readonly scenario: string;
  readonly startTs: number;
  /** The line's current state (a copy). */
  readonly line: LineSnapshot;
  labels(): Label[];
  readonly modbusStats?: ModbusStats;
  stop(): Promise<void>;
}

function envPort(name: string, fallback: number): number {
  const v = process.env[name];
  const n = v === undefined || v === "" ? fallback : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got "${v}"`);
  return n;
}

export function defaultPorts(): { opcua: number; modbus: number; mqtt: number } {
  return { opcua: envPort("OTB_SIM_OPCUA_PORT", 4840), modbus: envPort("OTB_SIM_MODBUS_PORT", 5020), mqtt: envPort("OTB_MQTT_PORT", 1883) };
}

function customScenario(kinds: FaultKind[]): ScenarioDef {
  const unknown = kinds.filter((k) => !FAULT_KINDS.includes(k));
  if (unknown.length) throw new Error(`unknown fault kind(s) ${unknown.join(", ")} (known: ${FAULT_KINDS.join(", ")})`);
  return { name: `custom:${kinds.join("+")}`, description: "custom fault list", kinds };
}

/** Ticks of wall time between steps: fine enough for speed, coarse enough to stay cheap. */
const MIN_TICK_MS = 10;
const MAX_TICK_MS = 250;
/** Steps per tick before the simulator admits it cannot keep up (and slows rather than stalls). */
const MAX_STEPS_PER_TICK = 5_000;

class RunningSimulator extends EventEmitter implements Simulator {
  opcuaUrl?: string;
  opcuaFingerprint?: string;
  modbusPort?: number;
  mqttUrl?: string;
  startTs: number;
  private readonly clock: SimClock;
  private readonly writer: LabelWriter;
  private readonly lineSim: Line;
  private opcua?: SimOpcuaServer;
  private modbus?: SimModbusServer;
  private sensors?: MqttSensors;
  private broker?: EmbeddedBroker;
  private parts?: PartsProducer;
  private filler?: FillerPublisher;
  private timer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  /** Protocol fault actions run one after another (a restart must finish before the next). */
  private actions: Promise<void> = Promise.resolve();
  private caughtUpSaid = false;
  readonly seed: number;
  readonly speed: number;
  readonly scenario: string;

  constructor(private readonly opts: SimulatorOptions) {
    super();
    this.seed = opts.seed ?? 1;
    this.speed = opts.speed ?? 1;
    if (!(this.speed > 0) || !Number.isFinite(this.speed)) throw new Error(`speed must be a positive number, got ${opts.speed}`);
    const scenario: ScenarioDef | undefined = opts.faults ? customScenario(opts.faults) : findScenario(opts.scenario ?? "normal");
    if (!scenario) throw new Error(`unknown scenario "${opts.scenario}" (known: ${SCENARIOS.map((s) => s.name).join(", ")})`);
    this.scenario = scenario.name;
    const stepMs = opts.stepMs ?? 1000;
    this.startTs = opts.startTs ?? defaultStartTs(this.speed);
    this.clock = new SimClock({ startTs: this.startTs, speed: this.speed, stepMs });
    const replay = typeof opts.replay === "string" ? loadReplay(opts.replay) : opts.replay;
    this.writer = new LabelWriter(opts.labelsFile);
    this.lineSim = new Line({
      seed: this.seed,
      scenario,
      startTs: this.startTs,
      labels: this.writer,
      schedule: opts.schedule,
      plan: { ...DEFAULT_PLAN, ...opts.plan },
      replay,
      replayKeepTimestamps: opts.replayKeepTimestamps,
    });
    if (opts.outcomes) {
      const sc = OUTCOME_SCENARIOS.find((x) => x.name === opts.outcomes);
      if (!sc) throw new Error(`unknown outcome scenario "${opts.outcomes}" (known: ${OUTCOME_SCENARIOS.map((x) => x.name).join(", ")})`);
      this.parts = new PartsProducer(sc, this.seed, this.startTs, this.writer);
    }
    this.lineSim.faults.on("start", (f: ActiveFault) => this.onFault(f, "start"));
    this.lineSim.faults.on("end", (f: ActiveFault) => this.onFault(f, "end"));
    this.lineSim.on("replay-end", () => this.emit("replay-end"));
  }

  get line(): LineSnapshot {
    return this.lineSim.snapshot();
  }

  get modbusStats(): ModbusStats | undefined {
    return this.modbus?.stats;
  }

  labels(): Label[] {
    return this.writer.all();
  }

  async start(): Promise<void> {
    const ports = {
      opcua: this.opts.opcuaPort,
      modbus: this.opts.modbusPort,
      mqtt: this.opts.mqttPort,
    };
    const protocols = { opcua: true, modbus: true, mqtt: true, ...this.opts.protocols };
    const defaults = defaultPorts();
    // The first step exists before any server listens, so no client ever reads an empty value.
    const first = this.lineSim.step(this.clock.now, 0);
    try {
      if (protocols.mqtt) {
        if (!this.opts.mqttUrl) {
          this.broker = await startEmbeddedBroker(ports.mqtt ?? defaults.mqtt);
          this.mqttUrl = this.broker.url;
        } else this.mqttUrl = this.opts.mqttUrl;
        this.sensors = new MqttSensors(this.mqttUrl, this.opts.sensorFormat ?? "both", this.opts.line ?? LINE_NAME, () => this.clock.now);
        await this.sensors.start();
        if (this.parts) {
          this.filler = new FillerPublisher(this.mqttUrl, this.opts.line ?? LINE_NAME);
          await this.filler.start();
        }
        this.sensors.publish(first);
      }
      if (protocols.modbus) {
        this.modbus = new SimModbusServer({ port: ports.modbus ?? defaults.modbus, faultState: (d) => this.lineSim.faults.modbus(d), rng: Rng.derive(this.seed, "modbus-timeouts") });
        this.modbus.publish(first);
        await this.modbus.start();
        this.modbusPort = this.modbus.port;
      }
      if (protocols.opcua) {
        // Loaded on demand: node-opcua takes seconds to load, and Modbus/MQTT-only runs skip it.
        const { SimOpcuaServer } = await import("./opcua-server");
        this.opcua = new SimOpcuaServer({ port: ports.opcua ?? defaults.opcua, line: this.opts.line, pkiDir: this.opts.pkiDir });
        this.opcua.publish(first);
        await this.opcua.start();
        this.opcuaUrl = this.opcua.url;
        this.opcuaFingerprint = this.opcua.certificateFingerprint;
        this.lineSim.faults.deferRestartLabels = true;
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    // The clock starts after the (slow) servers, so simulated time does not jump at startup.
    const tickMs = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, this.clock.stepMs / this.speed));
    this.clock.restart();
    this.timer = setInterval(() => this.tick(), tickMs);
  }

  private tick(): void {
    const wanted = this.clock.due();
    const due = Math.min(wanted, MAX_STEPS_PER_TICK);
    if (wanted > due) {
      // Cannot keep up: simulated time slows down (timestamps stay consistent) instead of stalling.
      this.log(`falling behind: ${wanted} steps due in one tick, ${due} run`);
    }
    let last: Sample | null = null;
    for (let i = 0; i < due; i++) {
      const ts = this.clock.advance();
      last = this.lineSim.step(ts, this.clock.stepMs);
      this.sensors?.publish(last);
      this.emit("sample", last);
      if (this.parts) {
        const out = this.parts.step(ts, this.clock.stepMs);
        this.filler?.publish(out.signals);
        this.emit("outcomes", out.signals);
      }
    }
    if (wanted > due) this.clock.restart();
    if (this.clock.caughtUp && !this.caughtUpSaid) {
      this.caughtUpSaid = true;
      this.log(`simulated clock reached the wall clock (${new Date(this.clock.now).toISOString()}): continuing in real time (1x)`);
    }
    if (last) {
      this.opcua?.publish(last);
      this.modbus?.publish(last);
    }
  }

  private onFault(f: ActiveFault, phase: "start" | "end"): void {
    this.emit(`fault-${phase}`, f);
    if (f.fault === "opcua_restart" && this.opcua) {
      const opcua = this.opcua;
      if (phase === "start") this.enqueue(`OPC UA server down (restart)`, () => opcua.goDown());
      else
        this.enqueue(`OPC UA server back up`, async () => {
          await opcua.comeBack();
          // Labelled now that the real down time is known.
          this.writer.write(this.lineSim.faults.label(f, Math.max(f.end, this.clock.now)));
        });
    } else if (f.fault === "mqtt_offline" && this.sensors) {
      const sensor = this.sensors.find(f.tag);
      if (sensor && phase === "start") sensor.silence();
      if (sensor) this.enqueue(`MQTT sensor ${f.tag} ${phase === "start" ? "drop-off" : "reconnect"}`, () => (phase === "start" ? sensor.dropOff() : sensor.reconnect()));
    }
  }

  private enqueue(what: string, action: () => Promise<void>): void {
    this.actions = this.actions.then(async () => {
      if (this.stopping) return;
      try {
        await action();
        this.log(what);
      } catch (err) {
        this.log(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  }

  private log(text: string): void {
    this.emit("log", text);
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        if (this.timer) clearInterval(this.timer);
        this.timer = null;
        await this.actions;
        await Promise.allSettled([this.sensors?.stop(), this.filler?.stop(), this.modbus?.stop(), this.opcua?.stop()]);
        await this.broker?.close();
        this.writer.close();
      })();
    }
    return this.stopping;
  }
}

/** Starts the whole line on 127.0.0.1; resolves once every server listens. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const sim = new RunningSimulator(opts);
  await sim.start();
  return sim;
}
