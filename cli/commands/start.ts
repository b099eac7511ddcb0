/**
 * `otbridge start` (what `npm start` runs): the line simulator, an embedded MQTT broker when no
 * broker is configured, and Node-RED on 127.0.0.1 with the pack and the single-line pilot flow.
 * Every port and endpoint is an environment variable (README); the simulator can be turned off
 * to run the same flow against real devices.
 */
import * as fs from "fs";
import * as path from "path";
import { CliError, intOption, numberOption, parseArgs, type Command } from "../command";
import { REPO_ROOT, stopChild } from "../node-red-runner";
import { startPilot } from "../pilot-env";
import { SPEED_MAX, SPEED_MIN, TIME_LINE_HELP, defaultStartAgoMinutes, startTsAgo } from "../sim/clock";

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
  --speed N         simulator speed, N times real time, ${SPEED_MIN} to ${SPEED_MAX} (env OTB_SIM_SPEED, default 1)
  --start-ago MIN   start the simulated clock MIN minutes in the past (env OTB_SIM_START_AGO;
                    default 60 x (speed - 1))
  --no-simulator    do not start the simulator (env OTB_SIMULATOR=off): use real devices from OTB_* variables
  -h, --help        this text

${TIME_LINE_HELP}`;

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
      "start-ago": { type: "string", default: process.env.OTB_SIM_START_AGO },
      "no-simulator": { type: "boolean", default: process.env.OTB_SIMULATOR === "off" },
      help: { type: "boolean", alias: "h" },
    });
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    // The clock options first, in the same order as `otbridge simulate`: one rule for both.
    const speed = numberOption(options.speed, "speed", SPEED_MIN, SPEED_MAX);
    const startAgo = options["start-ago"] === undefined ? defaultStartAgoMinutes(speed) : numberOption(options["start-ago"], "start-ago", 0, 1e9);
    const port = intOption(options.port, "port", 0, 65535);
    const seed = intOption(options.seed, "seed", 0, 2 ** 32 - 1);
    const userDir = path.resolve(options["user-dir"] as string);
    const pilotFlow = path.join(REPO_ROOT, "flows", "single-line-pilot.json");
    const flowTemplate = (options.flow as string | undefined) ?? (fs.existsSync(pilotFlow) ? pilotFlow : undefined);
    if (flowTemplate && !fs.existsSync(flowTemplate)) throw new CliError(`flow file not found: ${flowTemplate}`);

    if (!options["no-simulator"]) {
      // The scenario list is light to load; the simulator itself is loaded by startPilot.
      const { findScenario } = await import("../sim/scenarios");
      if (!findScenario(options.scenario as string)) throw new CliError(`unknown scenario "${options.scenario}" (see otbridge simulate --list)`);
    }
    const pilot = await startPilot({
      userDir,
      port,
      flowTemplate,
      resetFlows: options.reset as boolean,
      simulator: !options["no-simulator"],
      scenario: options.scenario as string,
      seed,
      speed,
      startTs: startTsAgo(startAgo),
    });
    const red = pilot.red;
    console.log(`otbridge: editor at ${red.url}/  dashboard at ${red.url}/dashboard  (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        stopChild(red.child).then(resolve, resolve);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      red.child.once("exit", () => resolve());
    });
    await pilot.stop();
    return 0;
  },
};

export = command;
