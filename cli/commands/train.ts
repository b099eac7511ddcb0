/**
 * `otbridge train`: fits an anomaly model on a stated normal period and writes
 * `<out>/<name>.onnx` plus `<out>/<name>.card.json` for otb-infer.
 */
import * as fs from "fs";
import * as path from "path";
import { CliError, intOption, listOption, numberOption, parseArgs, type Command } from "../command";
import { writeModelFiles } from "../train/model-card";
import { fromCsv, fromFrames, normalMask, normalRows, parseTime, type NormalPeriod, type TrainingSet } from "../train/sources";
import { applyVerdicts, type VerdictUse } from "../train/verdicts";
import { quantile } from "../train/stats";
import { DETECTORS, trainModel, type DetectorName } from "../train/trainer";

const HELP = `Usage: otbridge train (--csv FILE | --frames FILE) --out DIR [options]

Fits an anomaly detector on a normal period and writes <out>/<name>.onnx and
<out>/<name>.card.json (the model card otb-infer pins and checks).

Input (one of):
  --csv FILE              historian export, SKAB format: ';' or ',' separated, a datetime
                          column, one column per tag, optional anomaly/changepoint labels
  --frames FILE           recorded FeatureFrames, one JSON per line (a frame or a msg with
                          the frame in payload); only complete good frames train

Normal period (one of):
  --normal-rows N         the first N CSV rows (the windows that end within them), or the
                          first N frames
  --normal-from T --normal-to T
                          a closed time range, ISO-8601 (UTC if no zone) or epoch s/ms

Features:
  --features SPEC         CSV: comma list of "agg" (every tag), "tag:agg" or "tag";
                          aggregations last, mean, min, max, std, rms, slope, count
                          (default "mean"). Frames: comma list of feature names to keep.
  --window S              CSV window length in seconds (default 10), as otb-window's length
  --hop S                 CSV window hop in seconds (default 1), as otb-window's hop

Model:
  --detector NAME         ${DETECTORS.join(" | ")} (default pca)
                          pca: Hotelling T2 + Q (SPE); mset: MSET similarity model (non-linear);
                          zscore: mean squared z-score (a baseline)
  --param KEY=VALUE       detector parameter, repeatable (pca: varianceKept, refQuantile;
                          mset: memory, bandwidth, ridge)
  --threshold-quantile Q  quantile of the normal period's scores (default 0.99)
  --threshold-margin X    threshold = quantile * margin (default 3, as in the SKAB benchmark)
  --seed N                seed for every random choice (default 1): same input, same bytes
                          except createdAt

Operator verdicts:
  --verdicts FILE         otb-infer's verdict store (<userDir>/otbridge/verdicts/<node>.json):
                          rows of alarms judged "false alarm" are trained as normal, rows of
                          "confirmed" alarms are left out (even inside the normal period);
                          "unsure" is ignored. The card records the file's sha256 and counts.
  --verdict-margin S      seconds added before the raise and after the clear of each judged
                          alarm (default 60)

Output:
  --out DIR               folder for the model and its card (created if needed)
  --name NAME             model name (default: the input file's base name)
  --version V             semver written to the card (default 1.0.0)
  -h, --help              this text

Exit codes: 0 written, 2 bad input or options.`;

const command: Command = {
  summary: "fit an anomaly model (PCA T2+Q or MSET) and write ONNX + model card",
  async run(argv) {
    const { options, positionals } = parseArgs(argv, {
      csv: { type: "string" },
      frames: { type: "string" },
      "normal-rows": { type: "string" },
      "normal-from": { type: "string" },
      "normal-to": { type: "string" },
      features: { type: "string" },
      window: { type: "string", default: "10" },
      hop: { type: "string", default: "1" },
      detector: { type: "string", default: "pca" },
      param: { type: "list" },
      "threshold-quantile": { type: "string", default: "0.99" },
      "threshold-margin": { type: "string", default: "3" },
      seed: { type: "string", default: "1" },
      verdicts: { type: "string" },
      "verdict-margin": { type: "string", default: "60" },
      out: { type: "string" },
      name: { type: "string" },
      version: { type: "string", default: "1.0.0" },
      help: { type: "boolean", alias: "h" },
    });
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}" (see --help)`);
    const csv = options.csv as string | undefined;
    const framesFile = options.frames as string | undefined;
    if (!csv === !framesFile) throw new CliError("give exactly one of --csv FILE or --frames FILE");
    const input = (csv ?? framesFile) as string;
    if (!fs.existsSync(input)) throw new CliError(`input file not found: ${input}`);
    const out = options.out as string | undefined;
    if (!out) throw new CliError("--out DIR is required");
    const detector = options.detector as string;
    if (!(DETECTORS as readonly string[]).includes(detector)) throw new CliError(`--detector must be one of ${DETECTORS.join(", ")}, got "${detector}"`);
    const period = normalPeriod(options);
    const name = (options.name as string | undefined) ?? path.basename(input).replace(/\.[^.]*$/, "");
    const version = options.version as string;
    if (!/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(version)) throw new CliError(`--version must be semver like 1.0.0, got "${version}"`);
    const seed = intOption(options.seed, "seed", 0, 2 ** 31 - 1);
    const thresholdQuantile = numberOption(options["threshold-quantile"], "threshold-quantile", 0.5, 1);
    const thresholdMargin = numberOption(options["threshold-margin"], "threshold-margin", 0.1, 100);
    const params = detectorParams((options.param as string[] | undefined) ?? []);
    const lengthS = numberOption(options.window, "window", 0.001, 86400);
    const hopS = numberOption(options.hop, "hop", 0.001, lengthS);

    let set: TrainingSet;
    try {
      set = csv
        ? fromCsv(csv, (options.features as string | undefined) ?? "mean", Math.round(lengthS * 1000), Math.round(hopS * 1000))
        : fromFrames(framesFile as string, (options.features === undefined ? undefined : listOption(options.features as string, "features").filter(Boolean)));
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    let rows = normalRows(set, period);
    let verdictUse: VerdictUse | undefined;
    const verdictFile = options.verdicts as string | undefined;
    if (verdictFile !== undefined) {
      if (!fs.existsSync(verdictFile)) throw new CliError(`verdict file not found: ${verdictFile}`);
      const marginS = numberOption(options["verdict-margin"], "verdict-margin", 0, 86400);
      try {
        ({ rows, use: verdictUse } = applyVerdicts(set, normalMask(set, period), verdictFile, Math.round(marginS * 1000)));
      } catch (err) {
        throw new CliError(`--verdicts: ${(err as Error).message}`);
      }
    }
    const minRows = Math.max(set.names.length + 2, 10);
    if (rows.length < minRows) {
      throw new CliError(`only ${rows.length} complete ${set.unit} in the normal period; ${set.names.length} features need at least ${minRows}`);
    }
    let trained;
    try {
      trained = await trainModel(rows, set.names, {
        name,
        version,
        detector: detector as DetectorName,
        seed,
        params,
        thresholdQuantile,
        thresholdMargin,
        source: path.basename(input),
        extraParams: {
          ...(set.window ? { windowMs: set.window.lengthMs, hopMs: set.window.hopMs } : {}),
          ...(verdictUse ? { verdicts: { ...verdictUse, file: path.basename(verdictUse.file) } } : {}),
        },
      });
    } catch (err) {
      throw new CliError(`training failed: ${(err as Error).message}`);
    }
    let written;
    try {
      written = writeModelFiles(out, trained.bytes, trained.card);
    } catch (err) {
      throw new CliError(`cannot write the model: ${(err as Error).message}`);
    }
    const s = trained.normalScores;
    const windowText = set.window ? ` of ${fmtS(set.window.lengthMs)} every ${fmtS(set.window.hopMs)}` : "";
    const periodText = "rows" in period ? ` from the first ${period.rows} ${set.unit === "windows" ? "CSV rows" : "frames"}` : "";
    console.log(`otbridge train: ${written.card.detector} model "${name}" ${version}, ${set.names.length} features, ${rows.length} normal ${set.unit}${windowText}${periodText}`);
    console.log(`  normal scores p50 ${fmt(quantile(s, 0.5))} p99 ${fmt(quantile(s, 0.99))} max ${fmt(Math.max(...s))}; threshold ${fmt(written.card.threshold)}`);
    for (const [why, n] of Object.entries(set.skipped)) if (n > 0) console.log(`  left out: ${n} ${why}`);
    if (verdictUse) {
      const v = verdictUse;
      console.log(`  verdicts: ${v.falseAlarms} false alarm(s) -> ${v.rowsAdded} rows trained as normal; ${v.confirmed} confirmed -> ${v.rowsExcluded} rows left out; ${v.unsure} unsure ignored`);
      if (v.notCovered > 0) console.log(`  warning: ${v.notCovered} judged alarm(s) fall outside the input's time range and changed nothing`);
    }
    console.log(`  wrote ${written.onnxPath} (sha256 ${written.card.sha256.slice(0, 12)}...)`);
    console.log(`  wrote ${written.cardPath}`);
    return 0;
  },
};

function fmtS(ms: number): string {
  return `${Number((ms / 1000).toPrecision(6))} s`;
}

function normalPeriod(options: Record<string, unknown>): NormalPeriod {
  const rows = options["normal-rows"];
  const from = options["normal-from"] as string | undefined;
  const to = options["normal-to"] as string | undefined;
  if (rows !== undefined && (from || to)) throw new CliError("give --normal-rows or --normal-from/--normal-to, not both");
  if (rows !== undefined) return { rows: intOption(rows, "normal-rows", 1, 1e9) };
  if (!from || !to) throw new CliError("state the normal period: --normal-rows N, or both --normal-from and --normal-to");
  try {
    const range = { from: parseTime(from, "normal-from"), to: parseTime(to, "normal-to") };
    if (range.to < range.from) throw new Error("--normal-to is before --normal-from");
    return range;
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

function detectorParams(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const [, key, text] = /^([A-Za-z]+)=(.+)$/.exec(item) ?? [];
    const value = Number(text);
    if (key === undefined || text === undefined || !Number.isFinite(value)) throw new CliError(`--param must be KEY=NUMBER, got "${item}"`);
    out[key] = value;
  }
  return out;
}

function fmt(x: number | undefined): string {
  return x === undefined ? "-" : Number(x.toPrecision(4)).toString();
}

export = command;
