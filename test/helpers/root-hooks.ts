/**
 * Mocha global fixtures: the interop summary printed once after every run. Global fixtures run
 * once in mocha's main process, also with `--parallel` (root hooks would run once per file
 * there); the counts come from every worker through OTB_INTEROP_LOG (interop.ts).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { interop, readInteropLog } from "./interop";

let ownLog: string | undefined;

export function mochaGlobalSetup(): void {
  ownLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "otb-interop-")), "counts");
  fs.writeFileSync(ownLog, "");
  process.env.OTB_INTEROP_LOG = ownLog;
}

export function mochaGlobalTeardown(): void {
  if (!ownLog) return;
  const counts = readInteropLog(ownLog);
  fs.rmSync(path.dirname(ownLog), { recursive: true, force: true });
  delete process.env.OTB_INTEROP_LOG;
  ownLog = undefined;
  if (interop.mosquittoAvailable) {
    console.log(`\n  interop: ${counts.ran} test(s) ran against Debian's mosquitto (${counts.mosquittoStarted} broker start(s))`);
  } else {
    const bar = "!".repeat(78);
    console.log(`\n${bar}\n  MOSQUITTO IS NOT INSTALLED: ${counts.skipped} interop test(s) were SKIPPED.\n  Install it (apt-get install mosquitto) or run .ci/run, which does.\n${bar}`);
  }
}
