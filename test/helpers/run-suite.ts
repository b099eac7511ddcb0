/**
 * `npm test`: the suite's two lanes at once (suite-config.ts says which file runs where and why):
 * the main lane's two mocha workers print as they go; the light lane (one mocha process) writes to
 * a file that is printed when it ends, so that the two reports do not interleave line by line.
 * One interop log for both lanes (interop.ts), summed once at the end. Exits non-zero when either
 * lane fails; Ctrl-C or a CI timeout's SIGTERM is passed on to both.
 */
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { printInteropSummary, readInteropLog } from "./interop";

const CONFIG = path.join(__dirname, "suite-config.js");
const MOCHA = require.resolve("mocha/bin/mocha.js");

interface LaneEnd {
  lane: string;
  code: number;
  seconds: number;
}

function runLane(lane: "main" | "light", env: NodeJS.ProcessEnv, out: "inherit" | number): { child: ChildProcess; done: Promise<LaneEnd> } {
  const t0 = Date.now();
  const child = spawn(process.execPath, [MOCHA, "--config", CONFIG, ...process.argv.slice(2)], {
    env: { ...env, OTB_SUITE_LANE: lane },
    stdio: ["ignore", out, out],
  });
  const done = new Promise<LaneEnd>((resolve) => {
    child.on("error", (err) => {
      console.error(`${lane} lane: ${err.message}`);
      resolve({ lane, code: 1, seconds: (Date.now() - t0) / 1000 });
    });
    child.on("exit", (code, signal) => resolve({ lane, code: code ?? (signal ? 1 : 0), seconds: (Date.now() - t0) / 1000 }));
  });
  return { child, done };
}

async function main(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-suite-"));
  const interopLog = path.join(dir, "interop-counts");
  fs.writeFileSync(interopLog, "");
  const lightReport = path.join(dir, "light-lane.txt");
  const lightFd = fs.openSync(lightReport, "w");
  // OTB_SUITE_RUNNER: root-hooks.ts leaves the interop log and its summary to this runner.
  const env = { ...process.env, OTB_INTEROP_LOG: interopLog, OTB_SUITE_RUNNER: "1" };
  const lanes = [runLane("main", env, "inherit"), runLane("light", env, lightFd)];
  const stop = (signal: NodeJS.Signals): void => {
    for (const l of lanes) l.child.kill(signal);
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  const ends = await Promise.all(lanes.map((l) => l.done));
  fs.closeSync(lightFd);
  console.log("\n  ---- light lane (ran beside the two workers; see test/helpers/suite-config.ts) ----");
  process.stdout.write(fs.readFileSync(lightReport, "utf8"));
  printInteropSummary(readInteropLog(interopLog));
  for (const e of ends) console.log(`  ${e.lane} lane: ${e.code === 0 ? "passed" : `FAILED (exit ${e.code})`} in ${e.seconds.toFixed(0)} s`);
  fs.rmSync(dir, { recursive: true, force: true });
  return ends.find((e) => e.code !== 0)?.code ?? 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
