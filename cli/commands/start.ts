/**
 * `otbridge start` (what `npm start` runs): Node-RED on 127.0.0.1 with the pack and the
 * single-line pilot flow. Every port is overridable by an environment variable.
 */
import * as fs from "fs";
import * as path from "path";
import { CliError, intOption, parseArgs, type Command } from "../command";
import { REPO_ROOT, startNodeRed, stopChild } from "../node-red-runner";

const HELP = `Usage: otbridge start [options]

Starts Node-RED with the otbridge pack and the single-line pilot flow on 127.0.0.1.

Options:
  --port N        editor port (env OTB_EDITOR_PORT, default 1880)
  --user-dir DIR  Node-RED user folder (env OTB_USER_DIR, default ./.node-red-data)
  --flow FILE     flow template copied into a new user folder (default flows/single-line-pilot.json)
  --reset         replace the user folder's flows with the template
  -h, --help      this text`;

const command: Command = {
  summary: "run Node-RED with the pack and the single-line pilot (npm start)",
  async run(argv) {
    const { options } = parseArgs(argv, {
      port: { type: "string", default: process.env.OTB_EDITOR_PORT ?? "1880" },
      "user-dir": { type: "string", default: process.env.OTB_USER_DIR ?? path.join(REPO_ROOT, ".node-red-data") },
      flow: { type: "string" },
      reset: { type: "boolean", default: false },
      help: { type: "boolean", alias: "h" },
    });
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    const port = intOption(options.port, "port", 0, 65535);
    const pilot = path.join(REPO_ROOT, "flows", "single-line-pilot.json");
    const flowTemplate = (options.flow as string | undefined) ?? (fs.existsSync(pilot) ? pilot : undefined);
    if (flowTemplate && !fs.existsSync(flowTemplate)) throw new CliError(`flow file not found: ${flowTemplate}`);

    const red = await startNodeRed({
      userDir: path.resolve(options["user-dir"] as string),
      port,
      flowTemplate,
      resetFlows: options.reset as boolean,
    });
    console.log(`otbridge: editor at ${red.url}/ (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        stopChild(red.child).then(resolve, resolve);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      red.child.once("exit", () => resolve());
    });
    return 0;
  },
};

export = command;
