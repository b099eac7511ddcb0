/**
 * `npm test`'s mocha configuration: .mocharc.json's settings plus `--parallel --jobs 2`, the longest
 * files first. Beside two CPU hogs on this 2-core machine (4 December, fresh clone of the same
 * tree): two workers 737 s, 991 passing, 0 failing; one process 19 min (1,140 s), 991 passing. The
 * two-worker failures of 3 December (publish/replay-close missing records at its subscriber) came
 * from mosquitto's per-subscriber queue limit, which the test brokers no longer have
 * (test/helpers/peers.ts); the CI failure of 4 December (its first 783 records missing) from the
 * conduit connecting before the verifier subscribed, which the test no longer lets happen. Beside
 * two hogs on 5 December: 700 s, 1,003 passing, 0 failing; the files' own times add up to 1,386 s. Three workers took 626 s but failed two tests on load alone (the
 * pilot's OPC UA server queues overflowed; a keepalive bound): README, "Under load".
 *
 * Why two workers: most of the suite's wall time is spent waiting on other processes (Node-RED
 * children, mosquitto, Chromium, npm) and on simulated clocks, not computing in mocha; two files
 * at a time overlap those waits. Every file still runs whole in one process, in its own order,
 * with its own peers on ephemeral ports and temporary folders.
 * Why longest first: workers take the next file as they free up; a long file taken last would
 * leave one worker running it alone at the end.
 *
 * A single file or folder runs serially as before: `npx mocha dist/test/<area>/...`; the whole
 * suite in one process: `npm run test:serial`.
 */
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const TESTS = path.join(ROOT, "dist", "test");

/**
 * The longest files, about longest first (paths under dist/test). A file renamed or removed is
 * skipped; every other file follows in name order. This order ran green beside two CPU hogs; it
 * keeps the two Chromium files (pilot/browser, pilot/forms) apart in time, so that two pilots and
 * two browsers do not start together.
 */
const LONGEST_FIRST = [
  "install/install",
  "pilot/browser",
  "opcua/recovery",
  "publish/stop-redeploy",
  "pilot/forms",
  "publish/restart",
  "inference/model-loader",
  "train/skab",
  "pilot/start-overlap",
  "pilot/pilot",
  "sim/cli",
  "publish/replay-close",
  "cli-flows/lint",
  "modbus/device",
  "publish/queue-damage",
  "publish/link-failures",
].map((f) => path.join(TESTS, `${f}.test.js`));

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (e.name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const all = testFiles(TESTS);
const first = LONGEST_FIRST.filter((f) => all.includes(f));
const base = JSON.parse(fs.readFileSync(path.join(ROOT, ".mocharc.json"), "utf8")) as Record<string, unknown>;

export = {
  ...base,
  parallel: true,
  jobs: 2,
  spec: [...first, ...all.filter((f) => !first.includes(f))],
};
