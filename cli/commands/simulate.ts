/**
 * `otbridge simulate`: the line simulator on 127.0.0.1 (OPC UA, Modbus TCP, MQTT sensors with an
 * embedded broker unless --mqtt-url is given), with labelled, seeded faults or a historian replay.
 */
import * as fs from "fs";
import { CliError, intOption, listOption, numberOption, parseArgs, type Command } from "../command";
import { SPEED_MAX, SPEED_MIN, TIME_LINE_HELP, defaultStartAgoMinutes, startTsAgo } from "../sim/clock";
// Only light modules here: `otbridge --help` loads every command to print its summary. The
// simulator (and node-opcua, which takes seconds to load) is required when the command runs.
import { writeCatalogs } from "../sim/catalog";
import type { SensorFormat } from "../sim/mqtt-sensors";
import { ReplayError, loadReplay, type ReplayData } from "../sim/replay";
import { FAULT_KINDS, SCENARIOS, findScenario, type FaultKind } from "../sim/scenarios";
import { OUTCOME_SCENARIOS } from "../sim/outcomes";

const HELP = `Usage: otbridge simulate [options]

Runs a simulated pump-and-motor production line on 127.0.0.1 behind OPC UA, Modbus TCP and MQTT
(JSON and Sparkplug B), with seeded, labelled faults. Ctrl-C stops it cleanly.

Options:
  --scenario NAME     fault scenario (default normal); --list shows them
  --faults A,B        a custom scenario from fault kinds (${FAULT_KINDS.length} kinds; --list shows them)
  --outcomes NAME     add the filling station (fill volume per part, counters, fault codes) with an
                      outcome scenario: ${OUTCOME_SCENARIOS.map((s) => s.name).join(", ")}
  --seed N            seed for noise and the fault schedule (default 1)
  --speed N           run N times faster than real time, ${SPEED_MIN} to ${SPEED_MAX} (default 1)
  --start-ago MIN     start the simulated clock MIN minutes in the past (default 60 x (speed - 1))
  --opcua-port P      OPC UA port (env OTB_SIM_OPCUA_PORT, default 4840; 0 = any free port)
  --modbus-port P     Modbus TCP port (env OTB_SIM_MODBUS_PORT, default 5020; 0 = any free port)
  --mqtt-url URL      publish the sensors to this broker instead of the embedded one
  --mqtt-port P       port of the embedded broker (env OTB_MQTT_PORT, default 1883; 0 = any)
  --sensor-format F   json, sparkplug or both (default both)
  --protocols LIST    which servers to run: opcua,modbus,mqtt (default all)
  --labels FILE       write ground-truth fault labels here (JSON lines)
  --replay FILE.csv   play a recorded CSV (SKAB format: ';', datetime column, one column per tag)
  --keep-timestamps   with --replay: publish the CSV's own timestamps, not re-based to now
  --loop              with --replay: keep serving after the file ends (default: exit)
  --duration SEC      stop after SEC seconds of wall time
  --list              list scenarios and fault kinds, then exit
  --write-catalogs DIR  write the OPC UA tag catalog and Modbus register map JSON, then exit
  -h, --help          this text

${TIME_LINE_HELP}

Example: otbridge simulate --scenario bearing-wear --seed 7 --speed 600 --labels labels.jsonl`;

function listText(): string {
  const width = Math.max(...SCENARIOS.map((s) => s.name.length));
  return [
    "Scenarios:",
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(width)}  ${s.description}`),
    "",
    `Fault kinds (for --faults and in labels): ${FAULT_KINDS.join(", ")}`,
  ].join("\n");
}

function formatWall(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`;
}

function port(value: unknown, name: string): number {
  return intOption(value, name, 0, 65535);
}

const command: Command = {
  summary: "run the simulated production line (OPC UA, Modbus, MQTT) with labelled faults",
  async run(argv) {
    const { options, positionals } = parseArgs(argv, {
      scenario: { type: "string", default: "normal" },
      faults: { type: "string" },
      outcomes: { type: "string" },
      seed: { type: "string", default: "1" },
      speed: { type: "string", default: "1" },
      "start-ago": { type: "string" },
      "opcua-port": { type: "string" },
      "modbus-port": { type: "string" },
      "mqtt-url": { type: "string" },
      "mqtt-port": { type: "string" },
      "sensor-format": { type: "string", default: "both" },
      protocols: { type: "string", default: "opcua,modbus,mqtt" },
      labels: { type: "string" },
      replay: { type: "string" },
      "keep-timestamps": { type: "boolean", default: false },
      loop: { type: "boolean", default: false },
      duration: { type: "string" },
      list: { type: "boolean", default: false },
      "write-catalogs": { type: "string" },
      help: { type: "boolean", alias: "h" },
    });
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    if (options.list) {
      console.log(listText());
      return 0;
    }
    if (options["write-catalogs"]) {
      for (const f of writeCatalogs(options["write-catalogs"] as string)) console.log(`wrote ${f}`);
      return 0;
    }
    if (positionals.length) throw new CliError(`unexpected argument "${positionals[0]}" (options start with --)`);
    // The clock options first, in the same order as `otbridge start`: one rule for both.
    const speed = numberOption(options.speed, "speed", SPEED_MIN, SPEED_MAX);
    const startAgo = options["start-ago"] === undefined ? defaultStartAgoMinutes(speed) : numberOption(options["start-ago"], "start-ago", 0, 1e9);

    const scenarioName = options.scenario as string;
    if (!findScenario(scenarioName)) throw new CliError(`unknown scenario "${scenarioName}"; known: ${SCENARIOS.map((s) => s.name).join(", ")}`);
    let faults: FaultKind[] | undefined;
    if (options.faults !== undefined) {
      faults = listOption(String(options.faults), "faults").filter(Boolean) as FaultKind[];
      const unknown = faults.filter((f) => !FAULT_KINDS.includes(f));
      if (faults.length === 0 || unknown.length) throw new CliError(`unknown fault kind "${unknown[0] ?? ""}"; known: ${FAULT_KINDS.join(", ")}`);
    }
    const seed = intOption(options.seed, "seed", 0, 2 ** 32 - 1);
    const format = options["sensor-format"] as string;
    if (!["json", "sparkplug", "both"].includes(format)) throw new CliError(`--sensor-format must be json, sparkplug or both, got "${format}"`);
    const protocolList = listOption(String(options.protocols), "protocols");
    const badProtocol = protocolList.find((p) => !["opcua", "modbus", "mqtt"].includes(p));
    if (badProtocol !== undefined) throw new CliError(`--protocols takes opcua, modbus and mqtt, got "${badProtocol}"`);
    const mqttUrl = options["mqtt-url"] as string | undefined;
    if (mqttUrl !== undefined && !/^(mqtts?|wss?|tcp):\/\/[^/\s]+/.test(mqttUrl)) throw new CliError(`--mqtt-url must look like mqtt://host:port, got "${mqttUrl}"`);
    const duration = options.duration === undefined ? undefined : numberOption(options.duration, "duration", 0.1, 1e9);
    const { defaultPorts, startSimulator } = await import("../sim");
    let defaults: ReturnType<typeof defaultPorts>;
    try {
      defaults = defaultPorts();
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const opcuaPort = options["opcua-port"] === undefined ? defaults.opcua : port(options["opcua-port"], "opcua-port");
    const modbusPort = options["modbus-port"] === undefined ? defaults.modbus : port(options["modbus-port"], "modbus-port");
    const mqttPort = options["mqtt-port"] === undefined ? defaults.mqtt : port(options["mqtt-port"], "mqtt-port");
    const labelsFile = options.labels as string | undefined;
    if (labelsFile !== undefined && fs.existsSync(labelsFile) && fs.statSync(labelsFile).isDirectory()) throw new CliError(`--labels must be a file, "${labelsFile}" is a folder`);
    let replay: ReplayData | undefined;
    if (options.replay !== undefined) {
      try {
        replay = loadReplay(options.replay as string);
      } catch (err) {
        if (err instanceof ReplayError) throw new CliError(err.message);
        throw err;
      }
    }

    let sim;
    try {
      sim = await startSimulator({
        seed,
        speed,
        startTs: startTsAgo(startAgo),
        scenario: scenarioName,
        faults,
        opcuaPort,
        modbusPort,
        mqttUrl,
        mqttPort,
        sensorFormat: format as SensorFormat,
        labelsFile,
        replay,
        replayKeepTimestamps: options["keep-timestamps"] as boolean,
        outcomes: options.outcomes as string | undefined,
        protocols: { opcua: protocolList.includes("opcua"), modbus: protocolList.includes("modbus"), mqtt: protocolList.includes("mqtt") },
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // A busy port or an unreachable broker is the user's to fix: one line, no stack.
      if (e.code === "EADDRINUSE" || e.code === "EACCES") throw new CliError(`cannot listen: ${e.message} (choose another port or 0)`);
      throw new CliError(e.message ?? String(err));
    }
    const say = (text: string): void => console.log(`otbridge simulate: ${text}`);
    say(`line ${sim.line.state}, scenario ${sim.scenario}, seed ${sim.seed}, speed ${sim.speed}x, simulated clock from ${new Date(sim.startTs).toISOString()}${speed > 1 ? `, reaches now in ${formatWall((Date.now() - sim.startTs) / (speed - 1))}` : ""}`);
    if (sim.opcuaUrl) say(`OPC UA      ${sim.opcuaUrl}  (ns=1;s=line1.<asset>.<tag>)`);
    if (sim.opcuaFingerprint) say(`OPC UA certificate SHA-256 ${sim.opcuaFingerprint}  (pin this in the client)`);
    if (sim.modbusPort !== undefined) say(`Modbus TCP  127.0.0.1:${sim.modbusPort}  (unit 1 meter1, unit 2 legacy1; clock: input 90-91, Unix s)`);
    if (sim.mqttUrl) say(`MQTT        ${sim.mqttUrl}${mqttUrl ? "" : " (embedded broker)"}  (otbridge/line1/sensors/#, spBv1.0/otbridge/#)`);
    if (replay) say(`replaying ${replay.rows.length} rows of ${replay.file}${replay.badRows ? ` (${replay.badRows} unreadable rows skipped)` : ""}`);
    if (labelsFile) say(`labels      ${labelsFile}`);
    say("ready (Ctrl-C stops)");
    sim.on("fault-start", (f: { fault: string; tag: string; end: number }) => say(`fault ${f.fault} on ${f.tag} until ${new Date(f.end).toISOString()}`));
    sim.on("log", (text: string) => say(text));

    await new Promise<void>((resolve) => {
      const finish = (): void => resolve();
      process.once("SIGINT", finish);
      process.once("SIGTERM", finish);
      if (duration !== undefined) setTimeout(finish, duration * 1000).unref();
      if (replay && !options.loop)
        sim.once("replay-end", () => {
          say("replay finished");
          finish();
        });
    });
    say("stopping");
    await sim.stop();
    say(`stopped after ${sim.labels().length} labelled fault(s)`);
    return 0;
  },
};

export = command;
