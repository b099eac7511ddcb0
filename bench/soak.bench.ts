/**
 * Soak: the whole single-line pilot (simulator at 10x, Node-RED with flows/single-line-pilot.json,
 * an MQTT subscriber on the conduit broker) for 30 minutes of wall time (`--quick`: 2 minutes;
 * `--minutes=N` to choose), against bare Node-RED (the pack loaded, an empty flow) for the
 * baseline. Measured inside the Node-RED process by bench/soak-probe.js: RSS and heap (and their
 * slope over the second half of the run, MB per hour), event-loop delay p99, CPU share of one
 * core. Counted outside: values in (otb-validate's cumulative totals, published every 10 s as
 * the quality frame) against the Signals the subscriber received before that frame (the conduit
 * delivers in order): published = in + stale when nothing is lost.
 *
 *   npm run bench -- soak [--quick | --minutes=30]
 */
import * as fs from "fs";
import * as mqtt from "mqtt";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT, startNodeRed } from "../cli/node-red-runner";
import { startPilot, unsPrefix } from "../cli/pilot-env";
import { median, type Benchmark, type Figure } from "./harness";

interface ProbeLine {
  t: number;
  rss: number;
  heapUsed: number;
  cpuUs: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
}

/** The quality-KPI frame the pilot publishes under <line>/_features/quality. */
interface Kpi {
  names: string[];
  values: number[];
  ts: number;
}

const PROBE = path.join(__dirname, "soak-probe.js");
const MB = 1024 * 1024;
const SPEED = 10;

function minutesArg(args: string[], quick: boolean): number {
  const eq = args.find((a) => a.startsWith("--minutes="));
  if (eq) return Number(eq.split("=")[1]);
  return quick ? 2 : 30;
}

/** Least-squares slope of y over t (ms), in units per hour. */
function slopePerHour(points: Array<{ t: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 3_600_000;
}

function readProbe(file: string): ProbeLine[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as ProbeLine);
}

interface Summary {
  rssMB: number;
  rssSlope: number;
  heapSlope: number;
  lagP99: number;
  lagP99Max: number;
  cpuPct: number;
}

function summarise(lines: ProbeLine[], fromT: number, toT = Infinity): Summary {
  const steady = lines.filter((l) => l.t >= fromT && l.t <= toT);
  const half = steady.filter((l) => l.t >= steady[0].t + (steady[steady.length - 1].t - steady[0].t) / 2);
  const first = steady[0];
  const last = steady[steady.length - 1];
  return {
    rssMB: last.rss / MB,
    rssSlope: slopePerHour(half.map((l) => ({ t: l.t, y: l.rss / MB }))),
    heapSlope: slopePerHour(half.map((l) => ({ t: l.t, y: l.heapUsed / MB }))),
    lagP99: median(steady.map((l) => l.lagP99Ms)),
    lagP99Max: Math.max(...steady.map((l) => l.lagP99Ms)),
    cpuPct: ((last.cpuUs - first.cpuUs) / 1000 / (last.t - first.t)) * 100,
  };
}

async function withProbe<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const saved = { NODE_OPTIONS: process.env.NODE_OPTIONS, OTB_SOAK_PROBE_FILE: process.env.OTB_SOAK_PROBE_FILE };
  process.env.NODE_OPTIONS = `${saved.NODE_OPTIONS ?? ""} --require ${PROBE}`.trim();
  process.env.OTB_SOAK_PROBE_FILE = file;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function bare(dir: string, ms: number): Promise<Summary> {
  const file = path.join(dir, "bare.jsonl");
  const userDir = path.join(dir, "bare");
  const red = await withProbe(file, () => startNodeRed({ userDir, port: 0, log: () => undefined }));
  try {
    await sleep(ms);
  } finally {
    await red.stop();
  }
  const lines = readProbe(file);
  return summarise(lines, lines[0].t);
}

const bench: Benchmark = {
  name: "soak",
  description: `the single-line pilot at ${SPEED}x for 30 min (--quick: 2 min, --minutes=N): memory slope, event-loop lag, CPU, values in vs published`,
  runs: 1,
  async run(opts) {
    const minutes = minutesArg(opts.args, opts.quick);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-soak-"));
    const probeFile = path.join(dir, "pilot.jsonl");
    const userDir = path.join(dir, "pilot");
    try {
      const started = Date.now();
      // The simulated clock starts far enough back that it never overtakes the wall clock.
      const startTs = Math.floor((Date.now() - (SPEED * minutes + 5) * 60_000) / 1000) * 1000;
      const pilot = await withProbe(probeFile, () =>
        startPilot({ userDir, port: 0, flowTemplate: path.join(REPO_ROOT, "flows", "single-line-pilot.json"), resetFlows: true, simulator: true, scenario: "normal", seed: 1, speed: SPEED, startTs, ports: { opcua: 0, modbus: 0, mqtt: 0 }, baseEnv: {}, log: () => undefined }),
      );
      const prefix = unsPrefix(pilot.env);
      const counts = { signals: 0, frames: 0, inferences: 0, events: 0 };
      const seen: { kpi: Kpi | null; publishedAtKpi: number } = { kpi: null, publishedAtKpi: 0 };
      const client = await mqtt.connectAsync(pilot.sim!.mqttUrl!, { protocolVersion: 4, reconnectPeriod: 0, clientId: `otb-soak-${process.pid}` });
      client.on("message", (topic, payload) => {
        const rest = topic.slice(prefix.length + 1);
        if (rest.startsWith("_inference/")) counts.inferences++;
        else if (rest.startsWith("_events/")) counts.events++;
        else if (rest === "_features/quality") {
          // The conduit delivers in order: the Signals published before this summary are the
          // ones it counted (a consistent cut through a running pipeline).
          seen.kpi = JSON.parse(payload.toString()) as Kpi;
          seen.publishedAtKpi = counts.signals;
        }
        else if (rest.startsWith("_features/")) counts.frames++;
        else counts.signals++;
      });
      await client.subscribeAsync(`${prefix}/#`, { qos: 1 });
      const upMs = Date.now() - started;
      let stoppedAt = Infinity;
      try {
        await sleep(minutes * 60_000);
        stoppedAt = Date.now();
      } finally {
        await client.endAsync(true).catch(() => undefined);
        await pilot.stop();
      }
      const lines = readProbe(probeFile);
      // The first minute is start-up (module loading, model check, OPC UA session): not steady state.
      const s = summarise(lines, lines[0].t + Math.min(60_000, (minutes * 60_000) / 4), stoppedAt);
      const b = await bare(dir, Math.min(60_000, minutes * 60_000));
      const kpi = seen.kpi;
      const at = (name: string): number => (kpi ? kpi.values[kpi.names.indexOf(name)] : NaN);
      const valuesIn = at("all:values");
      const stale = at("all:stale");
      const note = `${minutes} min at ${SPEED}x; start to listening ${(upMs / 1000).toFixed(1)} s; ${counts.inferences} inferences, ${counts.frames} frames, ${counts.events} context events published`;
      const figures: Figure[] = [
        { name: "Node-RED RSS at the end", unit: "MB", pack: s.rssMB, raw: b.rssMB, higherIsBetter: false, note: "raw: bare Node-RED with the pack, empty flow" },
        { name: "RSS slope, second half", unit: "MB/h", pack: s.rssSlope, raw: b.rssSlope, higherIsBetter: false, note },
        { name: "heap slope, second half", unit: "MB/h", pack: s.heapSlope, raw: b.heapSlope, higherIsBetter: false },
        { name: "event-loop delay p99 (median of 5 s intervals)", unit: "ms", pack: s.lagP99, raw: b.lagP99, higherIsBetter: false, note: `worst interval ${s.lagP99Max.toFixed(1)} ms` },
        { name: `CPU of one core, one line at ${SPEED}x`, unit: "%", pack: s.cpuPct, raw: b.cpuPct, higherIsBetter: false, note: "Node-RED process only; the simulator runs in the benchmark process" },
        { name: "Signals published per value in (+ stale)", unit: "ratio", pack: seen.publishedAtKpi / (valuesIn + stale), raw: 1, higherIsBetter: true, note: `at the last quality summary: ${seen.publishedAtKpi} published, ${valuesIn} in, ${stale} stale` },
      ];
      return figures;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

export = bench;
