/**
 * Scoring a trained graph in-process with otb-infer's engine (nodes/otb-infer/engine.ts:
 * onnxruntime-node when installed, else onnxruntime-web), and the alarm hysteresis otb-infer
 * applies. Used by the trainer (the threshold comes from the graph's own scores on the normal
 * period, so graph and threshold cannot disagree) and by the SKAB benchmark's direct path.
 */
import { engine } from "../../nodes/otb-infer/engine";
import { CONTRIBUTIONS_OUTPUT, INPUT_NAME, SCORE_OUTPUT } from "./model-card";
import { at } from "../checked";

export interface Scored {
  scores: number[];
  contributions: number[][];
}

/** Scores rows in batches through an InferenceSession made from the model bytes. */
export async function scoreRows(bytes: Uint8Array, rows: number[][], batch = 256): Promise<Scored> {
  const { ort, sessionOptions } = engine();
  const session = await ort.InferenceSession.create(bytes, sessionOptions(1));
  try {
    const out: Scored = { scores: [], contributions: [] };
    const n = rows[0]?.length ?? 0;
    for (let i = 0; i < rows.length; i += batch) {
      const chunk = rows.slice(i, i + batch);
      const input = new ort.Tensor("float32", Float32Array.from(chunk.flat()), [chunk.length, n]);
      const res = await session.run({ [INPUT_NAME]: input });
      const scores = res[SCORE_OUTPUT];
      const contributions = res[CONTRIBUTIONS_OUTPUT];
      if (!scores || !contributions) throw new Error(`the graph has no ${SCORE_OUTPUT} and ${CONTRIBUTIONS_OUTPUT} outputs`);
      const s = scores.data as Float32Array;
      const c = contributions.data as Float32Array;
      for (let r = 0; r < chunk.length; r++) {
        out.scores.push(at(s, r));
        out.contributions.push(Array.from(c.subarray(r * n, (r + 1) * n)));
      }
    }
    return out;
  } finally {
    await session.release();
  }
}

/**
 * Alarm states with hysteresis: raise after `raiseAfter` consecutive scores above the
 * threshold, clear after `clearAfter` consecutive scores at or below it. A non-finite score
 * counts as above (a model that cannot score the input should not read as "all fine").
 */
export function alarmStates(scores: number[], threshold: number, raiseAfter: number, clearAfter: number): boolean[] {
  const states: boolean[] = [];
  let alarm = false;
  let over = 0;
  let under = 0;
  for (const s of scores) {
    const above = s > threshold;
    over = above ? over + 1 : 0;
    under = above ? 0 : under + 1;
    if (!alarm && over >= raiseAfter) alarm = true;
    else if (alarm && under >= clearAfter) alarm = false;
    states.push(alarm);
  }
  return states;
}
