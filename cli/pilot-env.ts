/**
 * The environment the single-line pilot flow reads (${OTB_...} in flows/single-line-pilot.json).
 * Every site-specific value is one of these. The flow carries the same defaults itself (a
 * global-config node, Settings > Environment in the editor), so it deploys with none of them set;
 * `otbridge start` fills them in here so that they point at the simulator it started.
 */
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";

export const PILOT_ENV_DEFAULTS: Record<string, string> = {
  // Line identity (otb-line): the UNS prefix <enterprise>/<site>/<area>/<line>
  OTB_ENTERPRISE: "acme",
  OTB_SITE: "plant1",
  OTB_AREA: "pumps",
  OTB_LINE: "line1",
  OTB_TIMEZONE: "Europe/Berlin",
  // Sources
  OTB_OPCUA_URL: "opc.tcp://127.0.0.1:4840",
  OTB_OPCUA_SECURITY_MODE: "SignAndEncrypt",
  OTB_OPCUA_SECURITY_POLICY: "Basic256Sha256",
  /** SHA-256 fingerprint(s) of the PLC's server certificate; `otbridge start` pins the simulator's. */
  OTB_OPCUA_PINNED: "",
  OTB_MODBUS_HOST: "127.0.0.1",
  OTB_MODBUS_PORT: "5020",
  OTB_MQTT_URL: "mqtt://127.0.0.1:1883",
  // Data quality rules (otb-validate)
  OTB_RULES_FILE: "",
  // Northbound conduit (the DMZ broker); the embedded broker stands in for it on a laptop
  OTB_CONDUIT_URL: "mqtt://127.0.0.1:1883",
  /** 4 for the embedded aedes broker (3.1.1 only); 5 for a real DMZ broker, so that its ACL refusals show. */
  OTB_CONDUIT_MQTT_VERSION: "4",
  /** Allowed topic filter(s), comma separated; default: the line's own UNS subtree. */
  OTB_CONDUIT_TOPICS: "",
  OTB_CONDUIT_QUEUE_DIR: "",
  // Model (otb-infer); its sha256 is pinned in the flow itself, so a swapped file is refused
  OTB_MODEL_PATH: "",
  // Outcomes (otb-oee, otb-spc): the business case that values the OEE, the SPC characteristics
  OTB_BUSINESS_CASE_FILE: "",
  OTB_SPC_FILE: "",
};

/** Fills in every pilot variable the caller's environment does not set. */
export function pilotEnv(repoRoot: string, userDir: string, overrides: Record<string, string | undefined>, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(PILOT_ENV_DEFAULTS)) out[k] = base[k] || overrides[k] || v;
  if (!out.OTB_CONDUIT_QUEUE_DIR) out.OTB_CONDUIT_QUEUE_DIR = path.join(userDir, "conduit-queue");
  if (!out.OTB_MODEL_PATH) out.OTB_MODEL_PATH = path.join(repoRoot, "flows", "models", "pilot-pump.onnx");
  if (!out.OTB_RULES_FILE) out.OTB_RULES_FILE = path.join(repoRoot, "flows", "catalog", "pilot-rules.json");
  if (!out.OTB_BUSINESS_CASE_FILE) out.OTB_BUSINESS_CASE_FILE = path.join(repoRoot, "flows", "catalog", "business-case-line1.json");
  if (!out.OTB_SPC_FILE) out.OTB_SPC_FILE = path.join(repoRoot, "flows", "catalog", "spc-line1.json");
  if (!out.OTB_CONDUIT_TOPICS) out.OTB_CONDUIT_TOPICS = `${unsPrefix(out)}/#`;
  return out;
}

/** `<enterprise>/<site>/<area>/<line>` from a pilot environment. */
export function unsPrefix(env: Record<string, string>): string {
  return [env.OTB_ENTERPRISE, env.OTB_SITE, env.OTB_AREA, env.OTB_LINE].join("/");
}

/**
 * The SHA-256 fingerprint of the simulator's OPC UA server certificate (node-opcua keeps it in
 * `<pkiDir>/server/own/certs/certificate.pem`), so that the pilot pins exactly that server
 * instead of trusting any certificate. Null when the file is not there.
 */
export function simulatorOpcuaFingerprint(pkiDir: string): string | null {
  const file = path.join(pkiDir, "server", "own", "certs", "certificate.pem");
  if (!fs.existsSync(file)) return null;
  return new X509Certificate(fs.readFileSync(file)).fingerprint256.replace(/:/g, "");
}

export interface PilotOptions {
  userDir: string;
  /** Editor port; 0 picks a free one. */
  port: number;
  flowTemplate?: string;
  resetFlows?: boolean;
  /** false: no simulator; the OTB_* variables point at real devices (or an embedded broker is started). */
  simulator: boolean;
  scenario?: string;
  /** The filling station's outcome scenario (cli/sim/outcomes.ts); default "outcomes-normal", which the pilot's otb-oee and otb-spc read. */
  outcomes?: string;
  seed?: number;
  speed?: number;
  /** Simulated start time (ms); default defaultStartTs(speed) (cli/sim/clock.ts: the one time line). */
  startTs?: number;
  /** Simulator ports; undefined = the simulator's defaults (env or 4840/5020/1883), 0 = any free port. */
  ports?: { opcua?: number; modbus?: number; mqtt?: number };
  /** The caller's environment (default process.env); explicit OTB_* values there win. */
  baseEnv?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface RunningPilot {
  red: import("./node-red-runner").RunningNodeRed;
  sim?: import("./sim/index").Simulator;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** The simulator's addresses as the pilot's flows see them (the OTB_* overrides). */
function simulatorOverrides(sim: import("./sim/index").Simulator, pkiDir: string): Record<string, string | undefined> {
  return {
    OTB_OPCUA_URL: sim.opcuaUrl,
    OTB_OPCUA_PINNED: sim.opcuaFingerprint?.replace(/:/g, "") ?? simulatorOpcuaFingerprint(pkiDir) ?? undefined,
    OTB_MODBUS_HOST: "127.0.0.1",
    OTB_MODBUS_PORT: sim.modbusPort === undefined ? undefined : String(sim.modbusPort),
    OTB_MQTT_URL: sim.mqttUrl,
    OTB_CONDUIT_URL: sim.mqttUrl,
  };
}

/**
 * The same overrides known before the simulator starts, or null when they are not: an ephemeral
 * port (0) is only known once bound, and the OPC UA certificate (pinned by fingerprint) only once
 * a previous start created it. The start then compares them with what the simulator reports.
 */
export function predictSimulatorOverrides(
  ports: { opcua: number; modbus: number; mqtt: number },
  mqttUrl: string | undefined,
  pkiDir: string,
): Record<string, string | undefined> | null {
  if (ports.opcua === 0 || ports.modbus === 0 || (!mqttUrl && ports.mqtt === 0)) return null;
  const pinned = simulatorOpcuaFingerprint(pkiDir);
  if (!pinned) return null;
  const mqtt = mqttUrl ?? `mqtt://127.0.0.1:${ports.mqtt}`;
  return {
    OTB_OPCUA_URL: `opc.tcp://127.0.0.1:${ports.opcua}`,
    OTB_OPCUA_PINNED: pinned,
    OTB_MODBUS_HOST: "127.0.0.1",
    OTB_MODBUS_PORT: String(ports.modbus),
    OTB_MQTT_URL: mqtt,
    OTB_CONDUIT_URL: mqtt,
  };
}

/** How long Node-RED holds its flows for the simulator before starting them anyway. */
const GATE_TIMEOUT_MS = 180_000;

/**
 * Starts the simulator (or, without it and without OTB_MQTT_URL, an embedded broker) and
 * Node-RED with the pilot environment. Used by `otbridge start`, the pilot tests and benchmarks.
 *
 * When the simulator's addresses are known in advance (fixed ports and the certificate of an
 * earlier start: what `npm start` has from its second run on), Node-RED is launched at the same
 * time as the simulator and holds its flows until the simulator listens (cli/flows-gate.ts): the
 * two start-ups overlap (several seconds on this machine) and no flow ever meets a simulator that
 * is not there yet. Otherwise the simulator starts first, then Node-RED.
 */
export async function startPilot(opts: PilotOptions): Promise<RunningPilot> {
  const { REPO_ROOT, startNodeRed, lineNodeArgs } = await import("./node-red-runner");
  const base = opts.baseEnv ?? process.env;
  let overrides: Record<string, string | undefined> = {};
  const running: Array<{ stop(): Promise<void> }> = [];
  const stopAll = async (): Promise<void> => {
    for (const r of running.reverse()) await r.stop().catch(() => undefined);
  };
  const log = opts.log ?? ((line: string) => console.log(line));
  fs.mkdirSync(opts.userDir, { recursive: true });
  let sim: import("./sim/index").Simulator | undefined;
  let red: import("./node-red-runner").RunningNodeRed | undefined;
  /** Node-RED launched beside the simulator, until its flows are let through. */
  let redStarting: Promise<import("./node-red-runner").RunningNodeRed> | undefined;
  const gateFile = path.join(opts.userDir, ".otbridge-flows-gate");
  try {
    if (opts.simulator) {
      // Loaded on demand: the simulator pulls in node-opcua, which takes seconds to load.
      const { startSimulator, defaultPorts } = await import("./sim/index");
      const pkiDir = path.join(opts.userDir, "sim-pki");
      const defaults = defaultPorts();
      const ports = { opcua: opts.ports?.opcua ?? defaults.opcua, modbus: opts.ports?.modbus ?? defaults.modbus, mqtt: opts.ports?.mqtt ?? defaults.mqtt };
      const predicted = predictSimulatorOverrides(ports, base.OTB_MQTT_URL || undefined, pkiDir);
      if (predicted) {
        const { resetGate } = await import("./flows-gate");
        resetGate(gateFile);
        const env = pilotEnv(REPO_ROOT, opts.userDir, predicted, base);
        redStarting = startNodeRed({ userDir: opts.userDir, port: opts.port, flowTemplate: opts.flowTemplate, resetFlows: opts.resetFlows, env, log, holdFlowsUntil: { file: gateFile, timeoutMs: GATE_TIMEOUT_MS }, nodeArgs: lineNodeArgs() });
        redStarting.catch(() => undefined); // awaited below; a failure before that must not go unhandled
      }
      sim = await startSimulator({
        seed: opts.seed ?? 1, speed: opts.speed ?? 1, scenario: opts.scenario ?? "normal", startTs: opts.startTs,
        outcomes: opts.outcomes ?? "outcomes-normal",
        mqttUrl: base.OTB_MQTT_URL || undefined, opcuaPort: opts.ports?.opcua, modbusPort: opts.ports?.modbus, mqttPort: opts.ports?.mqtt,
        labelsFile: path.join(opts.userDir, "sim-labels.jsonl"), pkiDir,
      });
      running.push(sim);
      overrides = simulatorOverrides(sim, pkiDir);
      log(`otbridge: simulator "${sim.scenario}" (seed ${sim.seed}, ${sim.speed}x, simulated clock from ${new Date(sim.startTs).toISOString()}): OPC UA ${sim.opcuaUrl}, Modbus 127.0.0.1:${sim.modbusPort}, MQTT ${sim.mqttUrl}`);
      if (sim.opcuaFingerprint) log(`otbridge: OPC UA server certificate SHA-256 ${sim.opcuaFingerprint} (pinned in OTB_OPCUA_PINNED)`);
      if (redStarting && predicted) {
        const { writeGate } = await import("./flows-gate");
        const started = await redStarting;
        redStarting = undefined;
        const differs = Object.keys(predicted).filter((k) => predicted[k] !== overrides[k]);
        if (differs.length === 0) {
          writeGate(gateFile);
          red = started;
        } else {
          // The simulator made a new certificate (or bound other ports): restart with its real addresses.
          writeGate(gateFile, `the simulator's ${differs.join(", ")} changed; Node-RED restarts with the new values`);
          log(`otbridge: the simulator's ${differs.join(", ")} differ from the last start; restarting Node-RED with them`);
          await started.stop();
        }
      }
    } else if (!base.OTB_MQTT_URL) {
      const { startEmbeddedBroker } = await import("./sim/broker");
      const broker = await startEmbeddedBroker(opts.ports?.mqtt ?? Number(base.OTB_MQTT_PORT ?? 1883));
      running.push({ stop: () => broker.close() });
      overrides.OTB_MQTT_URL = broker.url;
      overrides.OTB_CONDUIT_URL = broker.url;
      log(`otbridge: embedded MQTT broker at ${broker.url}`);
    }
    const env = pilotEnv(REPO_ROOT, opts.userDir, overrides, base);
    if (!red) red = await startNodeRed({ userDir: opts.userDir, port: opts.port, flowTemplate: opts.flowTemplate, resetFlows: opts.resetFlows, env, log, nodeArgs: lineNodeArgs() });
    const nodeRed = red;
    return {
      red: nodeRed,
      sim,
      env,
      stop: async () => {
        await nodeRed.stop();
        await stopAll();
      },
    };
  } catch (err) {
    if (redStarting) {
      // Tells the held Node-RED why its flows will not start (it is stopped next).
      const { writeGate } = await import("./flows-gate");
      try {
        writeGate(gateFile, `otbridge could not start: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
      } catch {
        // the user folder is gone: Node-RED is being stopped anyway
      }
    }
    if (redStarting) await redStarting.then((r) => r.stop(), () => undefined);
    if (red) await red.stop();
    await stopAll();
    throw err;
  }
}
