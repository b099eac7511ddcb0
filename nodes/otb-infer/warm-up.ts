/**
 * Warm-up runs at model load, before the model scores its first frame. onnxruntime-web's
 * WebAssembly is compiled lazily, each function on its first call, by V8's baseline compiler
 * (Liftoff); with V8's defaults, functions that run enough are then recompiled with TurboFan on
 * background threads (dynamic tiering, `--wasm-tiering-budget`). Measured on this project's
 * machine (Node 20, onnxruntime-web 1.31, pilot model, `perf`: 50-60 % of the process's CPU in
 * `ExecuteTurbofanWasmCompilation`): with V8's defaults the first ~4,000 runs of a process cost
 * 100-500 us of CPU each against 25-30 us after, about 0.8 s of CPU in all, once per process.
 * The pack now keeps wasm on Liftoff unless OTB_WASM_TIERUP=1 (engine.ts, baselineWasmCompiler):
 * then the first 10 runs took 344 us at the median (12.7 ms at worst, compiling), runs 10-100
 * 40 us, and from about 100 runs on 27-40 us, so the full count below costs about 0.13 s. Left to
 * the flow, that cost lands on its first frames (the first hours of a pilot at one frame per
 * 10 s, the first seconds of a busy line); done here, frames are scored at their steady cost
 * from the start.
 *
 * The compiled code belongs to the engine's WebAssembly instance, which every session of the
 * thread shares, so the full count is run once per thread (Node-RED's, or the inference worker's);
 * each later model gets a short warm-up of its own for the kernels it adds. Bounded in time, and
 * in slices that give the event loop back, so a slow model or a busy machine never stalls Node-RED.
 */

/** Runs that take the shared engine code to its steady cost (pilot model: ~4,000 with TurboFan tiering, ~100 on Liftoff alone). */
export const THREAD_WARM_RUNS = 4_000;
/** Runs for each further model: its own kernels. */
export const MODEL_WARM_RUNS = 100;
/** Longest warm-up of one model (wall time), whatever is left of the counts. */
export const WARM_MAX_MS = 3_000;
/** Runs back to back for at most this long before the event loop gets a turn. */
const SLICE_MS = 4;

let threadRuns = 0;

/** Warm-up runs done in this thread so far (all models). */
export function warmRunsDone(): number {
  return threadRuns;
}

/** Runs `run` until this thread's engine code is warm (or the time bound); resolves with the runs made. */
export async function warmUp(run: () => Promise<unknown>, maxMs = WARM_MAX_MS): Promise<number> {
  const target = Math.max(MODEL_WARM_RUNS, THREAD_WARM_RUNS - threadRuns);
  const deadline = performance.now() + maxMs;
  let runs = 0;
  while (runs < target && performance.now() < deadline) {
    const sliceEnd = Math.min(deadline, performance.now() + SLICE_MS);
    do {
      await run();
      runs++;
    } while (runs < target && performance.now() < sliceEnd);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  threadRuns += runs;
  return runs;
}
