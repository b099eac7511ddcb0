/**
 * The worker thread behind execution "worker" (session-pool.ts): holds one InferenceSession and
 * runs it on request, so that a slow model blocks this thread instead of Node-RED's. Messages:
 * {id, type: "load"|"check"|"warm"|"run"|"release", ...}; each gets one reply {id, ...} or {id, error}.
 * Output data is copied before transfer: onnxruntime owns the buffers it returns. A burst is
 * one "run" message whatever the model's batch dimension (run-rows.ts). "load" names
 * the engine module the parent chose (engine.ts), so both threads run the same engine.
 */
import { parentPort } from "worker_threads";
import type { InferenceSession } from "onnxruntime-web";
import type { ModelCard } from "../shared/model-card";
import { engineAt, type Engine } from "./engine";
import { checkSession } from "./model-check";
import { fixedBatchOf, runRows } from "./run-rows";
import { warmUp } from "./warm-up";

interface Request {
  id: number;
  type: "load" | "check" | "warm" | "run" | "release";
  bytes?: Uint8Array;
  threads?: number;
  engine?: string;
  card?: ModelCard;
  inputName?: string;
  input?: Float32Array;
  dims?: [number, number];
}

let engine: Engine | null = null;
let session: InferenceSession | null = null;
let fixedBatch: number | null = null;

async function handle(m: Request): Promise<void> {
  const port = parentPort as NonNullable<typeof parentPort>;
  switch (m.type) {
    case "load":
      engine = engineAt(m.engine as string);
      session = await engine.ort.InferenceSession.create(m.bytes as Uint8Array, engine.sessionOptions(m.threads ?? 1));
      fixedBatch = fixedBatchOf(session);
      port.postMessage({ id: m.id });
      return;
    case "check":
      port.postMessage({ id: m.id, report: await checkSession((engine as Engine).ort, loaded(), m.card as ModelCard) });
      return;
    case "warm": {
      const ort = (engine as Engine).ort;
      const s = loaded();
      const input = m.input as Float32Array;
      const runs = await warmUp(() => runRows(ort, s, fixedBatch, m.inputName as string, input, [1, input.length]));
      port.postMessage({ id: m.id, runs });
      return;
    }
    case "run": {
      const results = await runRows((engine as Engine).ort, loaded(), fixedBatch, m.inputName as string, m.input as Float32Array, m.dims as [number, number]);
      const outputs: Record<string, Float32Array> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, data] of Object.entries(results)) {
        const copy = Float32Array.from(data);
        outputs[name] = copy;
        transfer.push(copy.buffer as ArrayBuffer);
      }
      port.postMessage({ id: m.id, outputs }, transfer);
      return;
    }
    case "release":
      await session?.release();
      session = null;
      port.postMessage({ id: m.id });
      return;
  }
}

function loaded(): InferenceSession {
  if (!session) throw new Error("no model loaded in the inference worker");
  return session;
}

parentPort?.on("message", (m: Request) => {
  handle(m).catch((err: unknown) => parentPort?.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) }));
});
