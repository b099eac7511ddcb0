/**
 * Records the line simulator's run as a SKAB-style CSV (`datetime;<tag>;...;anomaly`), with no
 * servers and no clock: the simulated line is stepped as fast as the CPU allows. This is how the
 * pilot model's training data is made (flows/models/README.md):
 *
 *   node dist/test/pilot/record-run.js --scenario normal --seed 1 --hours 6 --out normal.csv
 *   npx otbridge train --csv normal.csv --normal-rows 21600 --features <list> --window 10 --hop 10 ...
 *
 * The `anomaly` column is 1 while a labelled fault is active (none in the normal run), so the
 * same script records evaluation data for fault scenarios.
 */
import * as fs from "fs";
import { findScenario } from "../../cli/sim/index";
import { LabelWriter } from "../../cli/sim/labels";
import { Line } from "../../cli/sim/line";
import { ALL_PHYSICAL_TAGS } from "../../cli/sim/tags";

export interface RecordOptions {
  scenario: string;
  seed: number;
  /** Simulated duration. */
  durationMs: number;
  startTs: number;
  stepMs?: number;
}

/** Numeric tags only (the model's candidates); state, product and batch are context, not features. */
export const NUMERIC_TAGS = ALL_PHYSICAL_TAGS.filter((d) => d.type === "Double").map((d) => d.tag);

export function recordRun(opts: RecordOptions): string {
  const scenario = findScenario(opts.scenario);
  if (!scenario) throw new Error(`unknown scenario ${opts.scenario}`);
  const stepMs = opts.stepMs ?? 1000;
  const labels = new LabelWriter();
  const line = new Line({ seed: opts.seed, scenario, startTs: opts.startTs, labels });
  const rows: string[] = [["datetime", ...NUMERIC_TAGS, "anomaly"].join(";")];
  for (let ts = opts.startTs; ts < opts.startTs + opts.durationMs; ts += stepMs) {
    const sample = line.step(ts, stepMs);
    const faulty = line.snapshot().activeFaults.length > 0 ? 1 : 0;
    const cells = NUMERIC_TAGS.map((t) => {
      const v = sample.values[t];
      return typeof v === "number" && Number.isFinite(v) && !sample.bad.has(t) ? String(Math.round(v * 1e6) / 1e6) : "";
    });
    rows.push([new Date(ts).toISOString(), ...cells, faulty].join(";"));
  }
  return rows.join("\n") + "\n";
}

function main(argv: string[]): void {
  const arg = (name: string, fallback: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
  };
  const out = arg("out", "");
  if (!out) {
    console.error("usage: node dist/test/pilot/record-run.js --out FILE.csv [--scenario normal] [--seed 1] [--hours 6] [--start ISO]");
    process.exit(2);
  }
  const startTs = Date.parse(arg("start", "2026-01-05T00:00:00Z"));
  const csv = recordRun({ scenario: arg("scenario", "normal"), seed: Number(arg("seed", "1")), durationMs: Number(arg("hours", "6")) * 3_600_000, startTs });
  fs.writeFileSync(out, csv);
  console.log(`wrote ${csv.split("\n").length - 2} rows to ${out}`);
}

if (require.main === module) main(process.argv.slice(2));
