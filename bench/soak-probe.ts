/**
 * Loaded into the Node-RED child by the soak benchmark (NODE_OPTIONS=--require <this file>):
 * every OTB_SOAK_PROBE_MS (default 5000) it appends one JSON line to OTB_SOAK_PROBE_FILE with
 * the process's RSS, heap, CPU time and event-loop delay percentiles (1 ms timer resolution, so the
 * figures include that 1 ms), which cannot be read from
 * outside the process. It does nothing when OTB_SOAK_PROBE_FILE is unset.
 */
import * as fs from "fs";
import { monitorEventLoopDelay } from "perf_hooks";

const file = process.env.OTB_SOAK_PROBE_FILE;
if (file) {
  const every = Number(process.env.OTB_SOAK_PROBE_MS) || 5000;
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const timer = setInterval(() => {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const line = {
      t: Date.now(),
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      cpuUs: cpu.user + cpu.system,
      lagP50Ms: lag.percentile(50) / 1e6,
      lagP99Ms: lag.percentile(99) / 1e6,
      lagMaxMs: lag.max / 1e6,
    };
    lag.reset();
    fs.appendFile(file, JSON.stringify(line) + "\n", () => undefined);
  }, every);
  timer.unref();
}
