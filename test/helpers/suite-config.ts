/**
 * `npm test`'s mocha configuration, in two lanes that test/helpers/run-suite.ts runs at the same
 * time (OTB_SUITE_LANE says which one this process is):
 * - "main": .mocharc.json's settings plus `--parallel --jobs 2`, the longest files first;
 * - "light": the files that mostly wait (on timers, reconnect backoffs, protocol timeouts of real
 *   peers), one after the other in one process beside the two workers.
 * Unset (`mocha --config dist/test/helpers/suite-config.js` by hand): every file in two workers.
 *
 * Why two workers: most of the suite's wall time is spent waiting on other processes (Node-RED
 * children, mosquitto, Chromium, npm) and on simulated clocks, not computing in mocha; two files
 * at a time overlap those waits. A third worker took 626 s beside two CPU hogs but failed two
 * tests on load alone (three CPU-heavy files at once: the pilot's OPC UA server queues
 * overflowed; a keepalive bound): README, "Under load".
 * Why a light lane instead: measured on 5 December (quiet, per file, CPU of the worker and of its
 * reaped children over the file's wall time), the suite used 527 s of CPU in 511 s of wall on two
 * cores; most files below used under 30 % of one core each (32 s of CPU in 250 s of wall
 * together), so running them beside the two workers adds little CPU to any moment while taking
 * their wall time off the workers' queue.
 * Beside two hogs (5 December, fresh clone, `.ci/run`): main lane 575 s, light lane 600 s, green:
 * both lanes near 10 minutes, so move files between them with both figures in view.
 * Earlier load failures, for whoever reorders: publish/replay-close missing records at its
 * subscriber came from mosquitto's per-subscriber queue limit (test/helpers/peers.ts no longer
 * sets one) and from the conduit connecting before the verifier subscribed (4 December).
 *
 * Every file still runs whole in one process, in its own order, with its own peers on ephemeral
 * ports and temporary folders. A single file or folder runs serially as before:
 * `npx mocha dist/test/<area>/...`; the whole suite in one process: `npm run test:serial`.
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

/**
 * The light lane: files measured at under 30 % of one core over their run (5 December, quiet:
 * wall s / CPU s): modbus/device 32.4/3.4, publish/link-failures 29.0/2.9, publish/conduit-faults
 * 25.2/6.2, inference/otb-infer-reports 16.7/2.6, publish/failover 15.8/2.6,
 * publish/probe-sparkplug-host 15.6/1.5, opcua/probe-server-quirks 15.1/2.0, opcua/opcua-in
 * 17.5/5.0, mqtt-in/broker 13.6/3.7, sim/mqtt 13.3/1.1, modbus/device-clock 11.3/0.6,
 * modbus/recovery 10.0/0.5, publish/probe-sparkplug-link 10.0/1.6, sim/opcua 9.6/1.2,
 * modbus/probe-gateway 8.5/0.1, opcua/network-break 7.9/1.7, inference/wasm-tier 5.8/0.9.
 * Then five that use 30-55 % (wall s / CPU s): opcua/security 5.5/1.9, inference/otb-infer
 * 10.6/4.9, flows 12.1/5.6, publish/restart 19.8/10.3, opcua/recovery 99.4/44.0 (its servers wait
 * out session timeouts). Not here although they wait a lot: modbus/rtu starts two CPU hogs of its
 * own; the pilot, browser, forms and install files compute in bursts (Node-RED starts, npm,
 * Chromium), and the two Chromium files are kept apart in the main lane.
 */
const LIGHT_LANE = [
  "modbus/device",
  "publish/link-failures",
  "publish/conduit-faults",
  "inference/otb-infer-reports",
  "publish/failover",
  "publish/probe-sparkplug-host",
  "opcua/probe-server-quirks",
  "opcua/opcua-in",
  "mqtt-in/broker",
  "sim/mqtt",
  "modbus/device-clock",
  "modbus/recovery",
  "publish/probe-sparkplug-link",
  "sim/opcua",
  "modbus/probe-gateway",
  "opcua/network-break",
  "inference/wasm-tier",
  // Between 30 and 55 % of one core; here because the light lane had room (beside two hogs on
  // 5 December: main lane 586 s, light lane 321 s). The OPC UA recovery file last, when the main
  // lane is past its heaviest files (install, browser, forms).
  "opcua/security",
  "inference/otb-infer",
  "flows",
  "publish/restart",
  "opcua/recovery",
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

function config(lane: string | undefined): Record<string, unknown> {
  const all = testFiles(TESTS);
  const base = JSON.parse(fs.readFileSync(path.join(ROOT, ".mocharc.json"), "utf8")) as Record<string, unknown>;
  if (lane === "light") return { ...base, parallel: false, spec: LIGHT_LANE.filter((f) => all.includes(f)) };
  const mine = lane === "main" ? all.filter((f) => !LIGHT_LANE.includes(f)) : all;
  const first = LONGEST_FIRST.filter((f) => mine.includes(f));
  return { ...base, parallel: true, jobs: 2, spec: [...first, ...mine.filter((f) => !first.includes(f))] };
}

export = config(process.env.OTB_SUITE_LANE);
