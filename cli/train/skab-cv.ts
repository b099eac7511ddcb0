/**
 * Honest SKAB figures: nested leave-one-file-out cross-validation over a fixed grid of
 * configurations. For every file F, the configuration is chosen on the other files only (the
 * rule below), then F is scored with it; the held-out counts of all folds are summed. No file
 * ever scores the configuration it helped choose. Within a configuration every file is treated
 * alike: fit on its own first `trainRows` rows (the SKAB protocol), nothing else per file.
 *
 * Selection rule (fixed before looking at held-out results): the highest F1 on the selection
 * files among configurations whose FAR there is at most `SELECTION_MAX_FAR`; if none
 * qualifies, the lowest FAR. Ties go to the earlier configuration of the grid.
 *
 * Scores depend only on the model part of a configuration (features, window, detector, seed,
 * quantile); margin and hysteresis only change the alarm rule over the same scores. So every
 * file is trained and scored once per model part (in-process onnxruntime, the direct path) and
 * the alarm part is replayed over the scores; `alarmCounts` reproduces what the trainer's
 * threshold and otb-infer's hysteresis do, which the benchmark cross-checks on the node path.
 */
import { countFile, metrics, prepareCase, predictionsByRow, type Counts, type FileCase, type SkabConfig } from "./skab-eval";
import { windowFrames } from "./features";
import { alarmStates, scoreRows } from "./score";
import { quantile } from "./stats";
import { at } from "../checked";

export const SELECTION_MAX_FAR = 0.1;

/** The grid: every combination of these, around the base configuration. */
export interface GridAxes {
  detector: Array<SkabConfig["detector"]>;
  windowS: number[];
  thresholdMargin: number[];
  raiseAfter: number[];
  clearAfter: number[];
}

export const DEFAULT_AXES: GridAxes = {
  detector: ["mset", "pca"],
  windowS: [5, 10, 20],
  thresholdMargin: [1.5, 2, 3, 4, 6],
  raiseAfter: [3, 5, 10, 20],
  clearAfter: [10, 20, 40, 80],
};

export function gridOf(base: SkabConfig, axes: GridAxes): SkabConfig[] {
  const out: SkabConfig[] = [];
  for (const detector of axes.detector)
    for (const windowS of axes.windowS)
      for (const thresholdMargin of axes.thresholdMargin)
        for (const raiseAfter of axes.raiseAfter)
          for (const clearAfter of axes.clearAfter) out.push({ ...base, detector, windowS, thresholdMargin, raiseAfter, clearAfter });
  return out;
}

/** One file scored by one model part. */
interface Scored {
  c: FileCase;
  frameRows: number[];
  scores: number[];
  normalScores: number[];
}

function modelKey(c: SkabConfig): string {
  return JSON.stringify([c.features, c.windowS, c.detector, c.params, c.seed, c.trainRows]);
}

/** Same threshold as the trainer: quantile of the normal scores x margin, 7 significant digits. */
export function thresholdOf(normalScores: number[], c: SkabConfig): number {
  return Number((quantile(normalScores, c.thresholdQuantile) * c.thresholdMargin).toPrecision(7));
}

function alarmCounts(s: Scored, c: SkabConfig): Counts {
  const states = alarmStates(s.scores, thresholdOf(s.normalScores, c), c.raiseAfter, c.clearAfter);
  const predicted = predictionsByRow(s.c.table.ts.length, c.trainRows, s.frameRows, states);
  return countFile({ ...s.c, config: c }, predicted);
}

function add(a: Counts, b: Counts): Counts {
  return { tp: a.tp + b.tp, fp: a.fp + b.fp, tn: a.tn + b.tn, fn: a.fn + b.fn };
}

const ZERO: Counts = { tp: 0, fp: 0, tn: 0, fn: 0 };

/** counts[g][f]: configuration g on file f. */
export async function gridCounts(files: string[], grid: SkabConfig[]): Promise<Counts[][]> {
  const cache = new Map<string, Scored[]>();
  const out: Counts[][] = [];
  for (const config of grid) {
    const key = modelKey(config);
    let scored = cache.get(key);
    if (!scored) {
      scored = [];
      for (const file of files) {
        const c = await prepareCase(file, config);
        if (!c) throw new Error(`${file}: no anomaly labels`);
        const frames = windowFrames(c.table, c.features, config.windowS * 1000, 1000);
        const { scores } = await scoreRows(c.model.bytes, frames.values);
        scored.push({ c, frameRows: frames.row, scores, normalScores: c.model.normalScores });
      }
      cache.set(key, scored);
    }
    out.push(scored.map((s) => alarmCounts(s, config)));
  }
  return out;
}

/** Index of the configuration the selection rule picks on the given files. */
export function choose(counts: Counts[][], fileIdx: number[]): number {
  let best = -1;
  let bestF1 = -1;
  let fallback = 0;
  let fallbackFar = Infinity;
  counts.forEach((perFile, g) => {
    const m = metrics(fileIdx.reduce((acc, f) => add(acc, at(perFile, f)), ZERO));
    if (m.far <= SELECTION_MAX_FAR && m.f1 > bestF1) {
      best = g;
      bestF1 = m.f1;
    }
    if (m.far < fallbackFar) {
      fallback = g;
      fallbackFar = m.far;
    }
  });
  return best >= 0 ? best : fallback;
}

export interface CvResult {
  /** Held-out counts summed over the folds. */
  heldOut: Counts;
  folds: Array<{ file: string; chosen: number; counts: Counts }>;
  /** The configuration chosen on all files, and its (in-sample) counts. */
  allChosen: number;
  allCounts: Counts;
}

export function nestedLeaveOneFileOut(files: string[], counts: Counts[][]): CvResult {
  const all = files.map((_, i) => i);
  const folds = files.map((file, i) => {
    const chosen = choose(counts, all.filter((j) => j !== i));
    return { file, chosen, counts: at(at(counts, chosen), i) };
  });
  const allChosen = choose(counts, all);
  return {
    heldOut: folds.reduce((acc, f) => add(acc, f.counts), ZERO),
    folds,
    allChosen,
    allCounts: at(counts, allChosen).reduce(add, ZERO),
  };
}
