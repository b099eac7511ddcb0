/**
 * Loaded into the Node-RED child by the soak and lines benchmarks (NODE_OPTIONS=--require <this
 * file>): every OTB_SOAK_PROBE_MS (default 5000) it appends one JSON line to OTB_SOAK_PROBE_FILE
 * with the process's RSS, PSS and anonymous memory (/proc/self/smaps_rollup, Linux only: PSS
 * divides each shared page, such as the node binary's code, among the processes that map it, so
 * PSS summed over processes counts it once), V8 heap, CPU time and event-loop delay percentiles
 * (1 ms timer resolution, so the figures include that 1 ms), which cannot be read from outside
 * the process. With OTB_SOAK_PROBE_DETAIL set, the third sample also writes the V8 heap spaces and
 * the packages loaded (files per package) to `<probe file>.detail.json`, to see where memory goes.
 * It does nothing when OTB_SOAK_PROBE_FILE is unset.
 */
import * as fs from "fs";
import { monitorEventLoopDelay } from "perf_hooks";
import * as v8 from "v8";

/** kB fields of /proc/self/smaps_rollup, in bytes; empty where the file does not exist. */
function smapsRollup(): { pss?: number; anon?: number } {
  try {
    const text = fs.readFileSync("/proc/self/smaps_rollup", "utf8");
    const kb = (key: string): number | undefined => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    return { pss: kb("Pss"), anon: kb("Anonymous") };
  } catch {
    return {};
  }
}

/** Files loaded per package (node_modules/<name> or the pack's own dist), most first. */
function loadedPackages(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const file of Object.keys(require.cache)) {
    const m = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = m ? m[1]! : file.includes("/dist/") ? "(pack dist)" : "(other)";
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]));
}

const file = process.env.OTB_SOAK_PROBE_FILE;
// Only this process: not the model-check child nor worker threads, which inherit the environment
// (and NODE_OPTIONS) and would append their own lines (a worker: the same process's figures) to it.
delete process.env.OTB_SOAK_PROBE_FILE;
if (file) {
  const every = Number(process.env.OTB_SOAK_PROBE_MS) || 5000;
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  let samples = 0;
  const timer = setInterval(() => {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const line = {
      t: Date.now(),
      rss: mem.rss,
      ...smapsRollup(),
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      external: mem.external,
      cpuUs: cpu.user + cpu.system,
      lagP50Ms: lag.percentile(50) / 1e6,
      lagP99Ms: lag.percentile(99) / 1e6,
      lagMaxMs: lag.max / 1e6,
    };
    lag.reset();
    fs.appendFile(file, JSON.stringify(line) + "\n", () => undefined);
    if (++samples === 3 && process.env.OTB_SOAK_PROBE_DETAIL) {
      const spaces = v8.getHeapSpaceStatistics().map((s) => ({ space: s.space_name, sizeMb: +(s.space_size / 2 ** 20).toFixed(1), usedMb: +(s.space_used_size / 2 ** 20).toFixed(1) }));
      const files = process.env.OTB_SOAK_PROBE_DETAIL === "files" ? Object.keys(require.cache) : undefined;
      if (process.env.OTB_SOAK_PROBE_DETAIL === "heap") v8.writeHeapSnapshot(`${file}.heapsnapshot`);
      fs.writeFile(`${file}.detail.json`, JSON.stringify({ spaces, packages: loadedPackages(), execArgv: process.execArgv, files }, null, 1), () => undefined);
    }
  }, every);
  timer.unref();
}
