/**
 * What makes a model acceptable, beyond its hash: the graph has exactly the input the card
 * names, float32 [batch, nFeatures], every output the card lists, and a test run on the card's
 * baseline means returns finite numbers of the right shapes. Used twice: in a throwaway child
 * process on untrusted bytes (model-check-child.ts), then in this process on the same bytes.
 */
import type { InferenceSession } from "onnxruntime-web";
import type { ModelCard } from "../shared/model-card";
import type { Ort } from "./engine";

export const SCORE_OUTPUT = "score";
export const CONTRIBUTIONS_OUTPUT = "contributions";

export interface CheckReport {
  inputName: string;
  outputNames: string[];
  /** Score of the test frame (the baseline means), when the model has a score output. */
  testScore?: number;
}

/** Throws an Error whose message names expected vs actual; returns the report otherwise. */
export async function checkSession(ort: Ort, session: InferenceSession, card: ModelCard): Promise<CheckReport> {
  const n = card.features.length;
  if (session.inputNames.length !== 1 || session.inputNames[0] !== card.input.name) {
    throw new Error(`model inputs are [${session.inputNames.join(", ")}], the card expects exactly [${card.input.name}]`);
  }
  const meta = session.inputMetadata?.[0];
  if (meta && meta.isTensor) {
    if (meta.type !== "float32") throw new Error(`model input ${meta.name} is ${meta.type}, expected float32`);
    const shape = meta.shape;
    if (shape.length !== 2 || (typeof shape[1] === "number" && shape[1] !== n)) {
      throw new Error(`model input ${meta.name} has shape [${shape.join(", ")}], the card's ${n} features need [batch, ${n}]`);
    }
    // A fixed batch of 1 is scored row by row (run-rows.ts); a larger fixed batch would need padding.
    if (typeof shape[0] === "number" && shape[0] > 1) {
      throw new Error(`model input ${meta.name} has a fixed batch of ${shape[0]} ([${shape.join(", ")}]); otb-infer needs a dynamic batch or a batch of 1`);
    }
  }
  const missing = Object.keys(card.outputs).filter((o) => !session.outputNames.includes(o));
  if (missing.length > 0) throw new Error(`model has no output ${missing.join(", ")} (it has ${session.outputNames.join(", ")})`);

  const probe = card.baseline?.mean ?? new Array<number>(n).fill(0);
  const out = await session.run({ [card.input.name]: new ort.Tensor("float32", Float32Array.from(probe), [1, n]) });
  const report: CheckReport = { inputName: card.input.name, outputNames: [...session.outputNames] };
  for (const name of Object.keys(card.outputs)) {
    const t = out[name];
    const data = t?.data as ArrayLike<number> | undefined;
    if (!t || !data || typeof data.length !== "number") throw new Error(`test run: output ${name} is not a tensor`);
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(Number(data[i]))) throw new Error(`test run: output ${name} is not finite`);
    if (name === SCORE_OUTPUT && data.length !== 1) throw new Error(`test run: output score has ${data.length} values for 1 frame, expected 1`);
    if (name === CONTRIBUTIONS_OUTPUT && data.length !== n) throw new Error(`test run: output contributions has ${data.length} values for ${n} features`);
    if (name === SCORE_OUTPUT) report.testScore = Number(data[0]);
  }
  return report;
}
