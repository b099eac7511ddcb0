/**
 * One inference call for `rows` frames of `n` features, shared by both runners (session-pool.ts
 * on Node-RED's thread, session-worker.ts on a worker thread). A model whose batch dimension is
 * dynamic gets one [rows, n] tensor. A model exported with a fixed batch of 1 (as some exporters
 * do) cannot take [rows, n], so its rows run one at a time here, in the same call, so that a
 * burst still costs one hop to the worker and one turn of the engine's queue, not one per frame.
 * model-check.ts refuses any other fixed batch size.
 */
import type { InferenceSession } from "onnxruntime-web";
import type { Ort } from "./engine";

/** The model input's fixed batch size, or null when it is dynamic (or the engine does not say). */
export function fixedBatchOf(session: InferenceSession): number | null {
  const meta = session.inputMetadata?.[0];
  const first = meta && meta.isTensor ? meta.shape[0] : undefined;
  return typeof first === "number" && first > 0 ? first : null;
}

/** Every output's data for the `rows` frames of `input`, row-major as one [rows, n] run would give. */
export async function runRows(
  ort: Ort, session: InferenceSession, fixedBatch: number | null, inputName: string, input: Float32Array, dims: [number, number],
): Promise<Record<string, Float32Array>> {
  const [rows, n] = dims;
  if (fixedBatch === null || fixedBatch === rows) return dataOf(await session.run({ [inputName]: new ort.Tensor("float32", input, dims) }));
  if (fixedBatch !== 1) throw new Error(`model input has a fixed batch of ${fixedBatch}; otb-infer needs a dynamic batch or a batch of 1`);
  const parts: Array<Record<string, Float32Array>> = [];
  for (let i = 0; i < rows; i++) {
    parts.push(dataOf(await session.run({ [inputName]: new ort.Tensor("float32", input.slice(i * n, (i + 1) * n), [1, n]) })));
  }
  const out: Record<string, Float32Array> = {};
  for (const [name, first] of Object.entries(parts[0] ?? {})) {
    const per = first.length;
    const all = new Float32Array(per * rows);
    for (const [i, part] of parts.entries()) {
      const data = part[name];
      // Each row is a separate run of the same session: one that drops an output is the engine's fault.
      if (!data) throw new Error(`model output ${name} missing from the run of row ${i}`);
      all.set(data, i * per);
    }
    out[name] = all;
  }
  return out;
}

function dataOf(results: InferenceSession.OnnxValueMapType): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, value] of Object.entries(results)) out[name] = value.data as Float32Array;
  return out;
}
