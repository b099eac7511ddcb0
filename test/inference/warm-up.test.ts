import { strict as assert } from "assert";
import { loadModel } from "../../nodes/otb-infer/model-loader";
import { MODEL_WARM_RUNS, THREAD_WARM_RUNS, warmRunsDone, warmUp } from "../../nodes/otb-infer/warm-up";
import { FIXTURE_ONNX, KNOWN } from "./models";

describe("otb-infer warm-up at model load", function () {
  this.timeout(60_000);

  it("runs the engine to its thread's count once, then a short warm-up per model", async () => {
    let calls = 0;
    const run = async (): Promise<void> => void calls++;
    const before = warmRunsDone();
    const first = await warmUp(run, 60_000);
    assert.equal(first, Math.max(MODEL_WARM_RUNS, THREAD_WARM_RUNS - before));
    const second = await warmUp(run, 60_000);
    assert.equal(second, MODEL_WARM_RUNS, "the thread is warm: only the model's own runs");
    assert.equal(calls, first + second);
    assert.equal(warmRunsDone(), before + first + second);
  });

  it("stops at its time bound and gives the event loop back between slices", async () => {
    let ticks = 0;
    let ticking = true;
    const tick = (): void => {
      ticks++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    // A slow model: 2 ms of CPU per run, 40 ms allowed, so far fewer runs than asked for.
    const slowRun = async (): Promise<void> => {
      const until = performance.now() + 2;
      while (performance.now() < until) {
        // busy on purpose: a run that holds the thread
      }
    };
    let runs: number;
    try {
      runs = await warmUp(slowRun, 40);
    } finally {
      ticking = false;
    }
    assert.ok(runs >= 1 && runs < MODEL_WARM_RUNS, `stopped by the bound after ${runs} run(s)`);
    assert.ok(ticks >= 2, `other callbacks ran between slices (${ticks})`);
  });

  for (const execution of ["main", "worker"] as const) {
    it(`warms a loaded model before it is handed out, and it still scores known inputs (${execution} thread)`, async () => {
      const m = await loadModel({ modelPath: FIXTURE_ONNX, threads: 1, isolate: false, checkTimeoutMs: 20_000, execution });
      try {
        assert.ok(m.warmRuns >= MODEL_WARM_RUNS, `${m.warmRuns} warm-up runs`);
        const out = await m.runner.run("features", Float32Array.from(KNOWN.flatMap((k) => k.input)), [KNOWN.length, 3]);
        KNOWN.forEach((k, i) => assert.ok(Math.abs((out.score?.[i] ?? NaN) - k.score) < 1e-5, `score of ${k.input}`));
      } finally {
        await m.release();
      }
    });
  }
});
