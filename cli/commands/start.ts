/**
 * `otbridge start` (what `npm start` runs): the line simulator, an embedded MQTT broker when no
 * broker is configured, and Node-RED on 127.0.0.1 with the pack and the single-line pilot flow.
 * Every port and endpoint is an environment variable (README); the simulator can be turned off
 * to run the same flow against real devices.
 */
import * as fs from "fs";
import * as path from "path";
import { CliError, intOption, numberOption, parseArgs, type Command } from "../command";
import { REPO_ROOT, startNodeRed, stopChild } from "../node-red-runner";
import { pilotEnv } from "../pilot-env";

const HELP = `Usage: otbridge start [options]

Starts the line simulator, an embedded MQTT broker (when OTB_MQTT_URL is not set) and Node-RED
with the otbridge pack and the single-line pilot flow, all on 127.0.0.1.

Options:
  --port N          editor port (env OTB_EDITOR_PORT, default 1880)
  --user-dir DIR    Node-RED user folder (env OTB_USER_DIR, default ./.node-red-data)
  --flow FILE       flow template copied into a new user folder (default flows/single-line-pilot.json)
  --reset           replace the user folder's flows with the template
  --scenario NAME   simulator fault scenario (env OTB_SCENARIO, default normal; see otbridge simulate --list)
  --seed N          simulator seed (env OTB_SIM_SEED, default 1)
  --speed N         simulator speed, N times real time (env OTB_SIM_SPEED, default 1)
  --no-simulator    do not start the simulator (env OTB_SIMULATOR=off): use real devices from OTB_* variables
  -h, --help        this text`;

const command: Command = {
  summary: "run the simulator, a broker and Node-RED with the single-line pilot (npm start)",
  async run(argv) {
    const { options } = parseArgs(argv, {
      port: { type: "string", default: process.env.OTB_EDITOR_PORT ?? "1880" },
      "user-dir": { type: "string", default: process.env.OTB_USER_DIR ?? path.join(REPO_ROOT, ".node-red-data") },
      flow: { type: "string" },
      reset: { type: "boolean", default: false },
      scenario: { type: "string", default: process.env.OTB_SCENARIO ?? "normal" },
      seed: { type: "string", default: process.env.OTB_SIM_SEED ?? "1" },
      speed: { type: "string", default: process.env.OTB_SIM_SPEED ?? "1" },
      "no-simulator": { type: "boolean", default: process.env.OTB_SIMULATOR === "off" },
      help: { type: "boolean", alias: "h" },
    });
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    const port = intOption(options.port, "port", 0, 65535);
    const seed = intOption(options.seed, "seed", 0, 2 ** 31 - 1);
    const speed = numberOption(options.speed, "speed", 0.01, 10_000);
    const userDir = path.resolve(options["user-dir"] as string);
    const pilot = path.join(REPO_ROOT, "flows", "single-line-pilot.json");
    const flowTemplate = (options.flow as string | undefined) ?? (fs.existsSync(pilot) ? pilot : undefined);
    if (flowTemplate && !fs.existsSync(flowTemplate)) throw new CliError(`flow file not found: ${flowTemplate}`);

    // The simulator module loads node-opcua; require it only when it is used.
    const sim = await import("../sim/index");
    const overrides: Record<string, string | undefined> = {};
    const running: Array<{ stop(): Promise<void> }> = [];
    if (!options["no-simulator"]) {
      if (!sim.findScenario(options.scenario as string)) throw new CliError(`unknown scenario "${options.scenario}" (see otbridge simulate --list)`);
      const s = await sim.startSimulator({ seed, speed, scenario: options.scenario as string, mqttUrl: process.env.OTB_MQTT_URL, labelsFile: path.join(userDir, "sim-labels.jsonl") });
      running.push(s);
      overrides.OTB_OPCUA_URL = s.opcuaUrl;
      overrides.OTB_MODBUS_PORT = s.modbusPort === undefined ? undefined : String(s.modbusPort);
      overrides.OTB_MQTT_URL = s.mqttUrl;
      overrides.OTB_CONDUIT_URL = s.mqttUrl;
      console.log(`otbridge: simulator "${s.scenario}" (seed ${seed}, ${speed}x): OPC UA ${s.opcuaUrl}, Modbus 127.0.0.1:${s.modbusPort}, MQTT ${s.mqttUrl}`);
    } else if (!process.env.OTB_MQTT_URL) {
      const { startEmbeddedBroker } = await import("../sim/broker");
      const broker = await startEmbeddedBroker(Number(process.env.OTB_MQTT_PORT ?? 1883));
      running.push({ stop: () => broker.close() });
      overrides.OTB_MQTT_URL = broker.url;
      overrides.OTB_CONDUIT_URL = broker.url;
      console.log(`otbridge: embedded MQTT broker at ${broker.url}`);
    }
    fs.mkdirSync(userDir, { recursive: true });
    const env = pilotEnv(REPO_ROOT, userDir, overrides);

    const stopAll = async (): Promise<void> => {
      for (const r of running.reverse()) await r.stop().catch(() => undefined);
    };
    let red;
    try {
      red = await startNodeRed({ userDir, port, flowTemplate, resetFlows: options.reset as boolean, env });
    } catch (err) {
      await stopAll();
      throw err;
    }
    console.log(`otbridge: editor at ${red.url}/  dashboard at ${red.url}/dashboard  (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        stopChild(red.child).then(resolve, resolve);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      red.child.once("exit", () => resolve());
    });
    await stopAll();
    return 0;
  },
};

export = command;
