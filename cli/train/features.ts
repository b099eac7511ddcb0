/**
 * Window features for training, computed exactly as otb-window computes them at run time: the
 * aggregation functions are otb-window's own (nodes/otb-window/aggregations), and windows follow
 * its convention: epoch-aligned, window [end - length, end), one frame per hop, stamped `end`.
 * With a 1 s hop over 1 Hz rows, the frame that ends just after row i holds rows
 * (i - length/1s, i], which is the prediction for row i.
 */
import { aggregate, featureName, isAggregation, AGGREGATIONS, type Aggregation } from "../../nodes/otb-window/aggregations";
import type { Table } from "./csv";
import { listOption } from "../command";
import { at } from "../checked";

export interface FeatureSpec {
  name: string;
  tag: string;
  agg: Aggregation;
}

export interface Frames {
  names: string[];
  /** Windows left out because a feature had no value in them (no partial feature rows). */
  incomplete?: number;
  /** Frame end times (ms). */
  ts: number[];
  values: number[][];
  /**
   * Index of the last table row inside each frame. The first frame that ends after a row is
   * that row's prediction; a frame over a gap repeats the previous row's index.
   */
  row: number[];
}

/**
 * `--features` syntax: comma-separated items (quoted when a tag holds a comma), each `agg` (for every tag), `tag:agg`, or `tag`
 * (that tag with every listed bare aggregation, `last` when none is listed). Order is kept:
 * tags in table order for bare aggregations, then explicit items as written.
 */
export function parseFeatureSpec(spec: string, tags: string[]): FeatureSpec[] {
  const items = listOption(spec, "features").filter(Boolean);
  if (items.length === 0) throw new Error("--features is empty");
  const bareAggs = items.filter(isAggregation);
  const out: FeatureSpec[] = [];
  const push = (tag: string, agg: Aggregation): void => {
    const name = featureName(tag, agg);
    if (!out.some((f) => f.name === name)) out.push({ name, tag, agg });
  };
  if (bareAggs.length > 0 && bareAggs.length === items.length) {
    for (const tag of tags) for (const agg of bareAggs) push(tag, agg);
    return out;
  }
  for (const item of items) {
    if (isAggregation(item)) continue;
    const i = item.lastIndexOf(":");
    const tag = i > 0 ? item.slice(0, i) : item;
    if (!tags.includes(tag)) throw new Error(`--features: unknown tag "${tag}" (tags: ${tags.join(", ")})`);
    if (i > 0) {
      const agg = item.slice(i + 1);
      if (!isAggregation(agg)) throw new Error(`--features: "${agg}" is not one of ${AGGREGATIONS.join(", ")}`);
      push(tag, agg);
    } else for (const agg of bareAggs.length ? bareAggs : (["last"] as Aggregation[])) push(tag, agg);
  }
  return out;
}

/**
 * One frame per hop over the table, as otb-window emits them: every hop slot from the first
 * row's to the last row's, including slots over a short gap in the file (a missing second), so
 * the alarm hysteresis counts the same frames here as at run time. Slots whose window holds no
 * row at all are jumped over (a historian export can have gaps of days). Frames where a feature
 * cannot be computed (a slope from one sample) are left out, as the window node's "skip" policy
 * does: training only sees complete frames.
 */
export function windowFrames(table: Table, features: FeatureSpec[], lengthMs: number, hopMs: number): Frames {
  const tagIndex = features.map((f) => table.tags.indexOf(f.tag));
  features.forEach((f, i) => {
    if (at(tagIndex, i) < 0) throw new Error(`feature ${f.name}: tag not in the table`);
  });
  const frames: Frames = { names: features.map((f) => f.name), ts: [], values: [], row: [] };
  const n = table.ts.length;
  if (n === 0) return frames;
  const endOf = (ts: number): number => Math.floor(ts / hopMs) * hopMs + hopMs;
  const lastEnd = endOf(at(table.ts, n - 1));
  let lo = 0;
  let hi = 0;
  // Like the engine, the first window starts at the first sample's hop slot (no partial windows).
  for (let end = Math.floor(at(table.ts, 0) / hopMs) * hopMs + lengthMs; end <= lastEnd; end += hopMs) {
    while (hi < n && at(table.ts, hi) < end) hi++;
    const start = end - lengthMs;
    while (lo < hi && at(table.ts, lo) < start) lo++;
    if (lo === hi) {
      end = endOf(at(table.ts, hi)) - hopMs; // empty window: jump to the slot of the next row
      continue;
    }
    const values: number[] = [];
    for (let f = 0; f < features.length; f++) {
      const ts: number[] = [];
      const vs: number[] = [];
      const column = at(tagIndex, f);
      for (let r = lo; r < hi; r++) {
        const v = at(at(table.rows, r), column);
        if (Number.isFinite(v)) {
          ts.push(at(table.ts, r));
          vs.push(v);
        }
      }
      const v = aggregate(at(features, f).agg, { ts, values: vs });
      if (v === undefined || !Number.isFinite(v)) break;
      values.push(v);
    }
    if (values.length !== features.length) {
      frames.incomplete = (frames.incomplete ?? 0) + 1;
      continue;
    }
    frames.ts.push(end);
    frames.values.push(values);
    frames.row.push(hi - 1);
  }
  return frames;
}
