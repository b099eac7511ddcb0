/**
 * Entry point of the throwaway process that first parses an untrusted model file. onnxruntime
 * can abort or segfault on malformed graphs (onnxruntime#4349, #23794); here that kills only
 * this child, and the parent reports "the model crashed the checker" instead of going down.
 *
 * Protocol: one JSON request on stdin {modelPath, sha256, card, threads, engine}; one JSON line on
 * stdout {ok: true, report} or {ok: false, error}. The child re-hashes the file, so it checks
 * exactly the bytes the parent pinned (a file swapped in between is refused). `engine` is the
 * module path the parent chose (engine.ts), so the check parses with the engine that will run.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import type { ModelCard } from "../shared/model-card";
import { engineAt } from "./engine";
import { checkSession } from "./model-check";

// Nothing heavier than onnxruntime is imported here (not the pack's ajv schemas): this process
// starts once per model check, and its start-up time is the check's cost.

interface Request {
  modelPath: string;
  sha256: string;
  card: ModelCard;
  threads: number;
  engine: string;
}

function reply(result: unknown): void {
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(0));
}

async function main(request: Request): Promise<void> {
  const bytes = fs.readFileSync(request.modelPath);
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== request.sha256) throw new Error(`file changed while being checked (sha256 ${actual.slice(0, 12)}…)`);
  // Loaded only after the hash matched: an unpinned byte never reaches onnxruntime.
  const engine = engineAt(request.engine);
  const session = await engine.ort.InferenceSession.create(bytes, engine.sessionOptions(request.threads));
  const report = await checkSession(engine.ort, session, request.card);
  await session.release();
  reply({ ok: true, report });
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => (input += chunk));
process.stdin.on("end", () => {
  let request: Request;
  try {
    request = JSON.parse(input) as Request;
  } catch (err) {
    reply({ ok: false, error: `bad request: ${(err as Error).message}` });
    return;
  }
  main(request).catch((err: unknown) => reply({ ok: false, error: err instanceof Error ? err.message : String(err) }));
});
