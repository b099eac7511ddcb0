/**
 * What otb-infer's status shows. Every caller (a scored frame, the drift and drop timers, a
 * reload) shows the same picture, the most urgent first; "no data" only until the first frame
 * was scored.
 */
import type { Inference } from "../shared/types";

export interface InferFacts {
  model: { name: string; version: string };
  reloadRefused: boolean;
  alarmActive: boolean;
  /** Frames dropped in total, and whether some are not yet in a drop report. */
  dropped: number;
  dropsUnreported: boolean;
  drift?: number;
  driftWarn: number;
  last?: Inference;
  /** Verdicts will not survive a restart (no userDir, or an unreadable verdict file). */
  verdictsInMemory: boolean;
}

export interface InferStatusText {
  level: "warning" | "flowing" | "waiting";
  text: string;
}

export const VERDICTS_IN_MEMORY = "verdicts in memory only";

export function inferStatus(f: InferFacts): InferStatusText {
  const label = `${f.model.name} ${f.model.version}`;
  const last = f.last;
  if (f.reloadRefused) return { level: "warning", text: `${label}; reload refused` };
  if (f.alarmActive) return { level: "warning", text: `ALARM ${last?.score?.toFixed(2) ?? ""}`.trim() };
  if (f.dropsUnreported) return { level: "warning", text: `${f.dropped} dropped, queue full` };
  if (f.drift !== undefined && f.drift > f.driftWarn) return { level: "warning", text: `drift ${f.drift.toFixed(2)}` };
  if (last) return { level: "flowing", text: `score ${last.score?.toFixed(2) ?? "-"}, ${last.latencyMs.toFixed(2)} ms` };
  return { level: "waiting", text: `${label}, no data${f.verdictsInMemory ? `; ${VERDICTS_IN_MEMORY}` : ""}` };
}
