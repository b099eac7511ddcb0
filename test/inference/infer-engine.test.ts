import { strict as assert } from "assert";
import type { FeatureFrame, Inference } from "../../nodes/shared";
import { InferEngine, type DropPolicy } from "../../nodes/otb-infer/infer-engine";
import { loadModel, type LoadedModel } from "../../nodes/otb-infer/model-loader";
import * as fs from "fs";
import { FEATURES, FIXTURE_ONNX, KNOWN, fixedBatchModel, slowModel, tempDir, writeModel } from "./models";

function frame(ts: number): FeatureFrame {
  return { kind: "features", ts, windowMs: 1000, names: FEATURES, values: [10, 2, 50], missing: [], quality: "good" };
}

describe("otb-infer engine", () => {
  let model: LoadedModel;
  before(async () => (model = await loadModel({ modelPath: FIXTURE_ONNX, threads: 1, isolate: true, checkTimeoutMs: 20_000 })));
  after(() => model.release());

  async function burst(dropPolicy: DropPolicy): Promise<{ scored: number[]; dropped: number[]; batches: number[] }> {
    const scored: number[] = [];
    const dropped: number[] = [];
    const engine = new InferEngine<number>({ maxQueue: 2, maxBatch: 32, dropPolicy }, {
      scored: (job, inf: Inference) => scored.push(inf.ts),
      failed: (_job, err) => assert.fail(err),
      dropped: (job) => dropped.push(job.tag),
      internalError: (err) => assert.fail(err),
    });
    engine.setModel(model);
    for (let i = 1; i <= 5; i++) engine.submit({ frame: frame(i), arrivedAt: performance.now(), tag: i });
    await new Promise((r) => setTimeout(r, 200));
    await engine.batchSettled();
    assert.equal(engine.counters.dropped, 3);
    assert.equal(engine.counters.scored + engine.counters.dropped, engine.counters.received);
    return { scored, dropped, batches: [engine.counters.batches, engine.counters.largestBatch] };
  }

  it("drop-oldest keeps the freshest frames; drop-newest keeps the queued ones; both count every drop", async () => {
    const oldest = await burst("drop-oldest");
    assert.deepEqual([oldest.scored, oldest.dropped], [[4, 5], [1, 2, 3]]);
    const newest = await burst("drop-newest");
    assert.deepEqual([newest.scored, newest.dropped], [[1, 2], [3, 4, 5]]);
    assert.deepEqual(newest.batches, [1, 2], "a burst handed over together runs as one batch");
  });

  /** Scores KNOWN's frames, each handed over in its own setImmediate callback as Node-RED delivers a burst. */
  async function deliveredLikeNodeRed(m: LoadedModel, copies: number): Promise<{ engine: InferEngine<number>; got: Inference[] }> {
    const got: Inference[] = [];
    const engine = new InferEngine<number>({ maxQueue: 256, maxBatch: 256, dropPolicy: "drop-oldest" }, {
      scored: (_job, inf) => got.push(inf),
      failed: (_job, err) => assert.fail(err),
      dropped: () => assert.fail("dropped"),
      internalError: (err) => assert.fail(err),
    });
    engine.setModel(m);
    const total = copies * KNOWN.length;
    for (let i = 0; i < total; i++) {
      // Flow.js queues one setImmediate per message of a send() (asyncMessageDelivery), all in one turn.
      setImmediate(() => engine.submit({ frame: { ...frame(i), values: KNOWN[i % KNOWN.length].input }, arrivedAt: performance.now(), tag: i }));
    }
    const until = Date.now() + 20_000;
    while (got.length < total && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    assert.equal(got.length, total, "every frame of the burst scored");
    got.forEach((inf, i) => {
      const k = KNOWN[i % KNOWN.length];
      assert.equal(inf.ts, i, "in arrival order");
      assert.ok(Math.abs((inf.score as number) - k.score) < 1e-5, `frame ${i}: score ${inf.score}, expected ${k.score}`);
      FEATURES.forEach((f, j) => assert.ok(Math.abs((inf.contributions as Record<string, number>)[f] - k.contributions[j]) < 1e-5, `frame ${i}: ${f}`));
    });
    return { engine, got };
  }

  it("scores a burst delivered one message per event-loop callback (as Node-RED does) as one batch", async () => {
    const { engine } = await deliveredLikeNodeRed(model, 8);
    assert.deepEqual([engine.counters.batches, engine.counters.largestBatch, engine.counters.scored], [1, 32, 32]);
  });

  for (const execution of ["main", "worker"] as const) {
    it(`scores a burst with a model exported with a fixed batch of 1, in one call to the runner (${execution} thread)`, async function () {
      this.timeout(60_000);
      const dir = tempDir();
      try {
        const { onnx } = writeModel(dir, fixedBatchModel(1));
        const fixed = await loadModel({ modelPath: onnx, threads: 1, isolate: true, checkTimeoutMs: 30_000, execution });
        try {
          const { engine } = await deliveredLikeNodeRed(fixed, 8);
          // One batch = one runner.run, so on a worker one message round trip for the 32 frames.
          assert.deepEqual([engine.counters.batches, engine.counters.largestBatch, engine.counters.failed], [1, 32, 0]);
        } finally {
          await fixed.release();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("refuses a model with a fixed batch larger than 1, saying so", async function () {
    this.timeout(60_000);
    const dir = tempDir();
    try {
      const { onnx } = writeModel(dir, fixedBatchModel(4));
      await assert.rejects(loadModel({ modelPath: onnx, threads: 1, isolate: false, checkTimeoutMs: 30_000 }), /fixed batch of 4.*dynamic batch or a batch of 1/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("on a worker thread, scores the same and leaves Node-RED's thread free while a slow model computes", async function () {
    this.timeout(60_000);
    const fast = await loadModel({ modelPath: FIXTURE_ONNX, threads: 1, isolate: true, checkTimeoutMs: 20_000, execution: "worker" });
    try {
      const out = await fast.runner.run("features", Float32Array.from([16, 3.5, 65]), [1, 3]);
      assert.deepEqual([out.score[0], Array.from(out.contributions)], [9, [3, 3, 3]]);
    } finally {
      await fast.release();
    }

    const dir = tempDir();
    const { onnx } = writeModel(dir, slowModel(), { outputs: { score: "slow test score" }, baseline: undefined, normalisation: undefined, threshold: undefined });
    // Heartbeats: how many turns the event loop makes while a burst of 32 frames is scored.
    const heartbeats = async (execution: "main" | "worker"): Promise<number> => {
      const model = await loadModel({ modelPath: onnx, threads: 1, isolate: true, checkTimeoutMs: 30_000, execution });
      try {
        let done = 0;
        const engine = new InferEngine<number>({ maxQueue: 64, maxBatch: 32, dropPolicy: "drop-oldest" }, {
          scored: () => done++, failed: (_j, err) => assert.fail(err), dropped: () => assert.fail("dropped"), internalError: (err) => assert.fail(err),
        });
        engine.setModel(model);
        let beats = 0;
        for (let i = 0; i < 32; i++) engine.submit({ frame: frame(i), arrivedAt: performance.now(), tag: i });
        await new Promise<void>((resolve) => {
          const beat = (): void => {
            if (done === 32) resolve();
            else {
              beats++;
              setImmediate(beat);
            }
          };
          setImmediate(beat);
        });
        return beats;
      } finally {
        await model.release();
      }
    };
    try {
      const main = await heartbeats("main");
      // The worker's figure is the best of three: on a loaded machine the OS may not run this
      // thread at all while the worker computes one batch, which says nothing about blocking.
      let worker = 0;
      for (let attempt = 0; attempt < 3 && worker <= 4 * main + 20; attempt++) worker = Math.max(worker, await heartbeats("worker"));
      console.log(`      event-loop turns while a slow batch of 32 is scored: main thread ${main}, worker ${worker}`);
      assert.ok(main <= 5, `on the main thread the loop is blocked for the whole batch (${main} turns)`);
      assert.ok(worker > 4 * main + 20, `on a worker the loop keeps turning while the model runs (${worker} turns vs ${main})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
