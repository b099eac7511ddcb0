/**
 * Where training rows come from: a historian CSV (windowed into features the way otb-window
 * does it) or recorded FeatureFrames (JSON lines, e.g. a file-out node after otb-window).
 * Both end as named feature rows with a time and a table row index for the normal period.
 */
import * as fs from "fs";
import { describeErrors, validateFeatureFrame, type FeatureFrame } from "../../nodes/shared";
import { parseCsv, parseTimestamp } from "./csv";
import { parseFeatureSpec, windowFrames } from "./features";
import { at } from "../checked";

export interface TrainingSet {
  names: string[];
  values: number[][];
  /** Time each row stands for (CSV: the last row inside the window; frames: frame ts). */
  ts: number[];
  /** Position of the row in its source (CSV row index or frame line index). */
  position: number[];
  /** What was left out and why, said to the user ("<n> <why>"). */
  skipped: Record<string, number>;
  /** What a training row is, in the user's words: CSV windows or recorded frames. */
  unit: "windows" | "frames";
  window?: { lengthMs: number; hopMs: number };
}

const NOT_GOOD = "frames not complete and good";

/** The normal period: the first N source rows, or a closed time range. */
export type NormalPeriod = { rows: number } | { from: number; to: number };

export function fromCsv(file: string, featureSpec: string, lengthMs: number, hopMs: number): TrainingSet {
  const table = parseCsv(fs.readFileSync(file, "utf8"), file);
  const features = parseFeatureSpec(featureSpec, table.tags);
  const frames = windowFrames(table, features, lengthMs, hopMs);
  return {
    names: frames.names,
    values: frames.values,
    ts: frames.row.map((r) => at(table.ts, r)),
    position: frames.row,
    skipped: { "incomplete windows (a feature without a value)": frames.incomplete ?? 0, "cells that are not numbers (read as missing)": table.notNumbers ?? 0 },
    unit: "windows",
    window: { lengthMs, hopMs },
  };
}

/**
 * JSON lines of FeatureFrames. Only complete, good-quality frames train the model (a frame with
 * missing or held values is not what normal looks like); the rest are counted. Every frame must
 * carry the first frame's feature names in the same order, or the file is refused.
 */
export function fromFrames(file: string, select?: string[]): TrainingSet {
  const lines = fs.readFileSync(file, "utf8").split(/\r?\n/);
  const set: TrainingSet = { names: [], values: [], ts: [], position: [], skipped: { [NOT_GOOD]: 0 }, unit: "frames" };
  let names: string[] | undefined;
  let frameIndex = -1;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    frameIndex++;
    let frame: unknown;
    try {
      frame = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1}: not JSON`);
    }
    // A recorded Node-RED message carries the frame in payload.
    if (frame && typeof frame === "object" && "payload" in frame) frame = (frame as { payload: unknown }).payload;
    if (!validateFeatureFrame(frame)) throw new Error(`${file}:${i + 1}: not a FeatureFrame: ${describeErrors(validateFeatureFrame.errors)}`);
    const f = frame as FeatureFrame;
    names ??= f.names;
    if (f.names.length !== names.length || f.names.some((n, j) => n !== names![j])) {
      throw new Error(`${file}:${i + 1}: feature names differ from the first frame's (${names.join(", ")})`);
    }
    if (f.quality !== "good" || f.missing.length > 0 || f.values.length !== names.length) {
      set.skipped[NOT_GOOD] = (set.skipped[NOT_GOOD] ?? 0) + 1;
      return;
    }
    set.values.push(f.values);
    set.ts.push(f.ts);
    set.position.push(frameIndex);
  });
  if (!names) throw new Error(`${file}: no frames`);
  set.names = names;
  if (select && select.length > 0) {
    const idx = select.map((s) => {
      const j = names!.indexOf(s);
      if (j < 0) throw new Error(`--features: "${s}" is not in the frames (${names!.join(", ")})`);
      return j;
    });
    set.names = idx.map((j) => at(names!, j));
    set.values = set.values.map((row) => idx.map((j) => at(row, j)));
  }
  return set;
}

/** The rows inside the normal period. */
export function normalRows(set: TrainingSet, period: NormalPeriod): number[][] {
  const mask = normalMask(set, period);
  return set.values.filter((_, i) => mask[i]);
}

/** Per row: inside the normal period? */
export function normalMask(set: TrainingSet, period: NormalPeriod): boolean[] {
  if ("rows" in period) return set.position.map((p) => p < period.rows);
  return set.ts.map((t) => t >= period.from && t <= period.to);
}

export function parseTime(text: string, option: string): number {
  const t = parseTimestamp(text);
  if (!Number.isFinite(t)) throw new Error(`--${option}: cannot read time "${text}" (ISO-8601 or epoch seconds/ms)`);
  return t;
}
