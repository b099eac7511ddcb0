/**
 * `otbridge train --verdicts FILE`: what operators said about past alarms changes what the model
 * learns. FILE is otb-infer's verdict store (<userDir>/otbridge/verdicts/<node id>.json). For
 * every judged alarm, its latest verdict decides, over the alarm's span (raise time minus a
 * margin, to the clear time plus the margin):
 *   - false_alarm: the rows there are normal: added to the training rows, so the model learns
 *     that state and the threshold (a quantile of the normal scores) accounts for it;
 *   - confirmed: the rows there are a real fault: removed, even from the stated normal period;
 *   - unsure: not used.
 * The card's training.params.verdicts records the file's sha256 and what was used.
 */
import * as fs from "fs";
import { sha256Of } from "../../nodes/shared/model-card";
import { readVerdictFile, type StoredAlarm } from "../../nodes/otb-infer/verdict-store";
import type { TrainingSet } from "./sources";
import { at } from "../checked";

export interface VerdictUse {
  file: string;
  sha256: string;
  marginMs: number;
  confirmed: number;
  falseAlarms: number;
  unsure: number;
  /** Judged alarms whose span holds no row of the input (the input does not cover them). */
  notCovered: number;
  rowsAdded: number;
  rowsExcluded: number;
  /** Alarm ids used, by verdict. */
  alarmIds: { confirmed: string[]; falseAlarms: string[] };
}

function span(a: StoredAlarm, marginMs: number): [number, number] {
  return [a.raisedAt - marginMs, (a.clearedAt ?? a.raisedAt) + marginMs];
}

/**
 * The training rows: the normal period (`inNormal[i]`), plus the rows of false-alarm spans,
 * minus the rows of confirmed spans. Returns the rows and what the verdicts did.
 */
export function applyVerdicts(set: TrainingSet, inNormal: boolean[], file: string, marginMs: number): { rows: number[][]; use: VerdictUse } {
  const text = fs.readFileSync(file);
  const doc = readVerdictFile(file);
  const use: VerdictUse = {
    file, sha256: sha256Of(text), marginMs, confirmed: 0, falseAlarms: 0, unsure: 0, notCovered: 0, rowsAdded: 0, rowsExcluded: 0,
    alarmIds: { confirmed: [], falseAlarms: [] },
  };
  const confirmedSpans: Array<[number, number]> = [];
  const falseSpans: Array<[number, number]> = [];
  for (const a of doc.alarms) {
    const last = a.verdicts[a.verdicts.length - 1];
    if (!last) continue;
    if (last.verdict === "unsure") {
      use.unsure++;
      continue;
    }
    const s = span(a, marginMs);
    if (!set.ts.some((t) => t >= s[0] && t <= s[1])) use.notCovered++;
    if (last.verdict === "confirmed") {
      use.confirmed++;
      use.alarmIds.confirmed.push(a.id);
      confirmedSpans.push(s);
    } else {
      use.falseAlarms++;
      use.alarmIds.falseAlarms.push(a.id);
      falseSpans.push(s);
    }
  }
  const inside = (t: number, spans: Array<[number, number]>): boolean => spans.some(([from, to]) => t >= from && t <= to);
  const rows: number[][] = [];
  set.values.forEach((row, i) => {
    const t = at(set.ts, i);
    if (inside(t, confirmedSpans)) {
      if (inNormal[i] || inside(t, falseSpans)) use.rowsExcluded++;
      return;
    }
    if (inNormal[i]) rows.push(row);
    else if (inside(t, falseSpans)) {
      rows.push(row);
      use.rowsAdded++;
    }
  });
  return { rows, use };
}
