/**
 * Mocha global fixtures: the interop summary printed once after every run. Global fixtures run
 * once in mocha's main process, also with `--parallel` (root hooks would run once per file
 * there); the counts come from every worker through OTB_INTEROP_LOG (interop.ts). Under
 * `npm test` (run-suite.ts, OTB_SUITE_RUNNER set) the runner owns the log of both lanes and prints
 * the summary itself.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { printInteropSummary, readInteropLog } from "./interop";

let ownLog: string | undefined;

export function mochaGlobalSetup(): void {
  if (process.env.OTB_SUITE_RUNNER) return;
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
  printInteropSummary(counts);
}
