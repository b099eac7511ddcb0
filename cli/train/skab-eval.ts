/**
 * The SKAB protocol (outlier detection problem): per experiment file, fit on the first 400
 * rows, predict every later row as 0/1, sum TP/FP/TN/FN over all files.
 *   F1 = TP / (TP + (FP + FN) / 2), FAR = FP / (FP + TN), MAR = FN / (FN + TP)
 * One configuration for every file. How the later rows are scored is a swappable `Scorer`:
 * in-process onnxruntime (`directScorer`) or the real otb-window -> otb-infer nodes (bench/).
 */
import * as fs from "fs";
import * as path from "path";
import { parseCsv, type Table } from "./csv";
import { parseFeatureSpec, windowFrames, type FeatureSpec } from "./features";
import { alarmStates, scoreRows } from "./score";
import { trainModel, type DetectorName, type TrainedModel } from "./trainer";
import { at } from "../checked";

export interface SkabConfig {
  trainRows: number;
  /** --features syntax, e.g. "mean,std". */
  features: string;
  windowS: number;
  detector: DetectorName;
  params: Record<string, number>;
  thresholdQuantile: number;
  thresholdMargin: number;
  raiseAfter: number;
  clearAfter: number;
  seed: number;
}

export const SKAB_CONFIG: SkabConfig = {
  trainRows: 400,
  // Fast signals as window means; slow thermal ones as rates (their level drifts with the room
  // and the previous run, their rate of change is what a fault moves).
  features: "Accelerometer1RMS:mean,Accelerometer2RMS:mean,Current:mean,Pressure:mean,Voltage:mean,Volume Flow RateRMS:mean,Temperature:slope,Thermocouple:slope",
  windowS: 10,
  detector: "mset",
  params: {},
  thresholdQuantile: 0.99,
  // What the selection rule of skab-cv.ts picks on all 16 valve1 files (so the whole-set figure
  // with it is in-sample; bench:skab prints the held-out one beside it).
  thresholdMargin: 4,
  raiseAfter: 3,
  clearAfter: 40,
  seed: 1,
};

export interface Counts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface FileCase {
  file: string;
  table: Table;
  features: FeatureSpec[];
  model: TrainedModel;
  config: SkabConfig;
}

/** Returns one 0/1 prediction per table row from `config.trainRows` on. */
export type Scorer = (c: FileCase) => Promise<boolean[]>;

export const directScorer: Scorer = async (c) => {
  const frames = windowFrames(c.table, c.features, c.config.windowS * 1000, 1000);
  const { scores } = await scoreRows(c.model.bytes, frames.values);
  const states = alarmStates(scores, c.model.card.threshold, c.config.raiseAfter, c.config.clearAfter);
  return predictionsByRow(c.table.ts.length, c.config.trainRows, frames.row, states);
};

/**
 * Maps frame alarm states to rows: a row takes the state after the first frame that ends after
 * it; a row without a frame (an incomplete window) keeps the previous row's state.
 */
export function predictionsByRow(rowCount: number, from: number, frameRows: number[], states: boolean[]): boolean[] {
  const byRow = new Map<number, boolean>();
  frameRows.forEach((r, i) => {
    if (!byRow.has(r)) byRow.set(r, at(states, i));
  });
  const out: boolean[] = [];
  let last = false;
  for (let r = 0; r < rowCount; r++) {
    last = byRow.get(r) ?? last;
    if (r >= from) out.push(last);
  }
  return out;
}

export function skabFiles(dataDir: string): string[] {
  if (!fs.existsSync(dataDir)) throw new Error(`SKAB data not found at ${dataDir}`);
  const out: string[] = [];
  for (const sub of fs.readdirSync(dataDir).sort()) {
    const dir = path.join(dataDir, sub);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir).sort((a, b) => a.localeCompare(b, "en", { numeric: true }))) {
      if (f.endsWith(".csv")) out.push(path.join(dir, f));
    }
  }
  return out;
}

/**
 * Trains the file's model on its first `config.trainRows` rows. A file without labels is
 * skipped (null) unless `allNormal`: then every row counts as normal (anomaly-free.csv).
 */
export async function prepareCase(file: string, config: SkabConfig, allNormal = false): Promise<FileCase | null> {
  const table = parseCsv(fs.readFileSync(file, "utf8"), file);
  if (allNormal) table.labels.anomaly = table.ts.map(() => 0);
  if (!table.labels.anomaly) return null;
  const features = parseFeatureSpec(config.features, table.tags);
  const frames = windowFrames(table, features, config.windowS * 1000, 1000);
  const normal = frames.values.filter((_, i) => at(frames.row, i) < config.trainRows);
  const model = await trainModel(normal, frames.names, {
    name: `skab-${path.basename(file, ".csv")}`,
    version: "1.0.0",
    detector: config.detector,
    seed: config.seed,
    params: config.params,
    thresholdQuantile: config.thresholdQuantile,
    thresholdMargin: config.thresholdMargin,
    source: file,
  });
  return { file, table, features, model, config };
}

export function countFile(c: FileCase, predicted: boolean[]): Counts {
  const anomaly = c.table.labels.anomaly;
  if (!anomaly) throw new Error(`${c.file}: no anomaly column to count against`);
  const labels = anomaly.slice(c.config.trainRows);
  const k: Counts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  labels.forEach((l, i) => {
    const p = predicted[i];
    if (l && p) k.tp++;
    else if (!l && p) k.fp++;
    else if (!l && !p) k.tn++;
    else k.fn++;
  });
  return k;
}

export function metrics(k: Counts): { f1: number; far: number; mar: number } {
  return {
    f1: k.tp / (k.tp + (k.fp + k.fn) / 2),
    far: k.fp / Math.max(k.fp + k.tn, 1),
    mar: k.fn / Math.max(k.fn + k.tp, 1),
  };
}

export async function evaluateSkab(dataDir: string, config: SkabConfig, scorer: Scorer): Promise<{ total: Counts; perFile: Array<{ file: string; counts: Counts }> }> {
  const total: Counts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  const perFile: Array<{ file: string; counts: Counts }> = [];
  for (const file of skabFiles(dataDir)) {
    const c = await prepareCase(file, config);
    if (!c) continue;
    const counts = countFile(c, await scorer(c));
    perFile.push({ file, counts });
    for (const key of Object.keys(total) as Array<keyof Counts>) total[key] += counts[key];
  }
  return { total, perFile };
}

/**
 * False alarms on a recording with no fault at all (SKAB's anomaly-free.csv): train on the
 * first `trainRows` rows, predict the rest, return the share of rows alarmed. Run with the
 * protocol's 400 rows (about 7 minutes) and with a longer normal period, it shows how much of
 * the false-alarm rate is slow drift that a short training period never saw.
 */
export async function falseAlarmsOnNormal(file: string, config: SkabConfig, scorer: Scorer): Promise<{ rows: number; alarmed: number; far: number; predicted: boolean[] }> {
  const c = await prepareCase(file, config, true);
  if (!c) throw new Error(`${file}: cannot be read`);
  const predicted = await scorer(c);
  const alarmed = predicted.filter(Boolean).length;
  return { rows: predicted.length, alarmed, far: alarmed / Math.max(predicted.length, 1), predicted };
}
