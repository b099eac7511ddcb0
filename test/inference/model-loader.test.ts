import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as sinon from "sinon";
import { cardProblems, loadModelCard, parseModelCard, sha256File } from "../../nodes/shared/model-card";
import { checkInChild, forgetChecks, loadModel, ModelError, pool, type LoadOptions } from "../../nodes/otb-infer/model-loader";
import { engine as processEngine } from "../../nodes/otb-infer/engine";
import { FIXTURE_CARD, FIXTURE_ONNX, KNOWN, fixtureCard, mutate, rng, tempDir, writeModel } from "./models";

// The module object itself (not an import namespace copy), so that sinon can wrap spawn.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const childProcess = require("child_process") as typeof import("child_process");

const base = (modelPath: string, extra: Partial<LoadOptions> = {}): LoadOptions => ({ modelPath, threads: 1, isolate: true, checkTimeoutMs: 20_000, ...extra });

async function refusal(options: LoadOptions): Promise<string> {
  try {
    const m = await loadModel(options);
    await m.release();
  } catch (err) {
    assert.ok(err instanceof ModelError, `a ModelError, not ${(err as Error).name}: ${(err as Error).message}`);
    return (err as Error).message;
  }
  assert.fail("the model was accepted");
}

describe("model card", () => {
  it("reads the committed fixture card and pins its file", async () => {
    const card = await loadModelCard(FIXTURE_CARD);
    assert.equal(card.sha256, await sha256File(FIXTURE_ONNX));
    assert.deepEqual(cardProblems(card), []);
  });
  it("refuses cards that do not hold together, naming the problem", () => {
    const good = fixtureCard();
    assert.throws(() => parseModelCard("{"), /not valid JSON/);
    assert.throws(() => parseModelCard(JSON.stringify({ ...good, sha256: "ABC" })), /sha256 must match pattern/);
    assert.throws(() => parseModelCard(JSON.stringify({ ...good, input: { name: "features", shape: [null, 4] } })), /input.shape\[1\] is 4 but there are 3 features/);
    assert.throws(() => parseModelCard(JSON.stringify({ ...good, baseline: { mean: [1], std: [1, 2, 3], n: 1 } })), /baseline.mean has 1 values for 3 features/);
    assert.throws(() => parseModelCard(JSON.stringify({ ...good, features: ["a:mean", "a:mean", "b:max"] })), /duplicate/);
  });
});

describe("otb-infer model loading", function () {
  this.timeout(60_000);
  let dir: string;
  const bytes = fs.readFileSync(FIXTURE_ONNX);
  beforeEach(() => (dir = tempDir()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("loads the fixture and scores known inputs to known outputs", async () => {
    const m = await loadModel(base(FIXTURE_ONNX));
    try {
      assert.equal(m.report.testScore, 0, "the test run on the baseline means scores 0");
      const out = await m.runner.run("features", Float32Array.from(KNOWN.flatMap((k) => k.input)), [KNOWN.length, 3]);
      KNOWN.forEach((k, i) => {
        assert.ok(Math.abs(out.score[i] - k.score) < 1e-5, `score of ${k.input}`);
        k.contributions.forEach((c, j) => assert.ok(Math.abs(out.contributions[i * 3 + j] - c) < 1e-5));
      });
    } finally {
      await m.release();
    }
  });

  it("shares one session per model file between users", async () => {
    const before = pool.size;
    const a = await loadModel(base(FIXTURE_ONNX));
    const b = await loadModel(base(FIXTURE_ONNX));
    assert.equal(a.runner, b.runner);
    assert.equal(pool.size, before + 1);
    await a.release();
    assert.equal(pool.size, before + 1, "still used by b");
    await b.release();
    assert.equal(pool.size, before);
  });

  it("refuses a model whose sha256 differs from the card's or the node's pin, before parsing it", async () => {
    const wrong = "0".repeat(64);
    const { onnx } = writeModel(dir, bytes, { sha256: wrong });
    assert.match(await refusal(base(onnx)), /sha256 mismatch: model.onnx is 93be162abdb1…, its card pins 000000000000…; refused before loading/);
    assert.match(await refusal(base(FIXTURE_ONNX, { pinnedSha256: wrong })), /this node pins 000000000000…/);
  });

  it("refuses a model whose input name, shape or outputs do not match the card", async () => {
    const a = writeModel(dir, bytes, { input: { name: "x", shape: [null, 3] } }, "a");
    assert.match(await refusal(base(a.onnx)), /model inputs are \[features\], the card expects exactly \[x\]/);
    const b = writeModel(dir, bytes, {
      features: ["a:mean", "b:mean", "c:mean", "d:mean"], input: { name: "features", shape: [null, 4] }, baseline: undefined, normalisation: undefined,
    }, "b");
    assert.match(await refusal(base(b.onnx)), /has shape \[batch, 3\], the card's 4 features need \[batch, 4\]/);
    const c = writeModel(dir, bytes, { outputs: { score: "s", alarm: "a" } }, "c");
    assert.match(await refusal(base(c.onnx)), /model has no output alarm/);
  });

  it("refuses a missing file and a truncated one with a clear error", async () => {
    assert.match(await refusal(base(path.join(dir, "absent.onnx"))), /cannot read model card/);
    const t = writeModel(dir, bytes.subarray(0, Math.floor(bytes.length / 2)));
    assert.match(await refusal(base(t.onnx)), /model model.onnx refused: .*(protobuf|parse|Load model)/i);
  });

  it("reports a checker that crashes or hangs as a refusal, and this process carries on", async () => {
    const card = fixtureCard();
    // Fault injection: the child dies by SIGSEGV as onnxruntime would on a hostile file (onnxruntime#4349).
    const spawn = sinon.spy(childProcess, "spawn");
    try {
      const crash = checkInChild(FIXTURE_ONNX, card.sha256, card, 1, 20_000);
      spawn.lastCall.returnValue.kill("SIGSEGV");
      await assert.rejects(crash, /refused: onnxruntime was killed by SIGSEGV while parsing it/);
    } finally {
      spawn.restore();
    }
    await assert.rejects(checkInChild(FIXTURE_ONNX, card.sha256, card, 1, 1), /the checker did not finish within 1 ms/);
    await assert.rejects(checkInChild(FIXTURE_ONNX, "0".repeat(64), card, 1, 20_000), /file changed while being checked/);
  });

  it("survives 50 mutated model files: pinned ones never reach onnxruntime, 30 re-pinned ones are checked in a child", async function () {
    // 30 checker children, not 50: each spends 0.5 s quiet, 2 s beside the hogs, starting
    // onnxruntime-web, and the 50 took a minute of the suite; the first 30 are the same files.
    this.timeout(240_000);
    const random = rng(7);
    const mutants = Array.from({ length: 50 }, (_, i) => mutate(bytes, random, i));
    const original = fixtureCard();
    // (1) The realistic case: the card still pins the good model, so every mutant is refused by hash.
    for (let i = 0; i < mutants.length; i++) {
      const m = writeModel(dir, mutants[i], { sha256: original.sha256 }, `pinned${i}`);
      assert.match(await refusal(base(m.onnx)), /sha256 mismatch/);
    }
    // (2) A card re-pinned to broken bytes (a trainer bug, a hostile card): the child process takes the risk.
    const outcomes = { refused: 0, accepted: 0, crashedChild: 0 };
    const reasons = new Set<string>();
    const check = async (i: number): Promise<void> => {
      const m = writeModel(dir, mutants[i], {}, `mutant${i}`);
      try {
        const loaded = await loadModel(base(m.onnx));
        // Some byte flips only change a weight: such a model is valid and must still score finitely.
        const out = await loaded.runner.run("features", Float32Array.from([12, 3, 40]), [1, 3]);
        assert.ok(Number.isFinite(out.score[0]));
        outcomes.accepted++;
        await loaded.release();
      } catch (err) {
        assert.ok(err instanceof ModelError, `mutant ${i}: ${(err as Error).message}`);
        if (/killed by|exited with code/.test((err as Error).message)) outcomes.crashedChild++;
        outcomes.refused++;
        reasons.add((err as Error).message.replace(/mutant\d+/, "mutantN").slice(0, 90));
      }
    };
    // Two checks at a time, the next as soon as one ends (the machine has two cores).
    const CHILD_CHECKED = 30;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < CHILD_CHECKED) await check(next++);
    };
    await Promise.all([worker(), worker()]);
    assert.equal(outcomes.refused + outcomes.accepted, CHILD_CHECKED);
    assert.ok(outcomes.refused >= CHILD_CHECKED / 2, `most mutants are broken (${JSON.stringify(outcomes)})`);
    console.log(`      mutants: ${JSON.stringify(outcomes)}; e.g. ${[...reasons].slice(0, 3).join(" | ")}`);
  });
});

// A restart (forgetChecks: what a new Node-RED process starts with) must not spawn the checker
// again for a model it passed. Observed from outside: with checkTimeoutMs 1 no child can finish,
// so a load succeeds only if the child was skipped and fails with the checker's timeout otherwise.
describe("otb-infer model check remembered across restarts (checkCacheDir)", function () {
  this.timeout(60_000);
  let dir: string;
  let cacheDir: string;
  beforeEach(() => {
    dir = tempDir();
    cacheDir = path.join(dir, "userDir", "otbridge", "model-checks");
    forgetChecks();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function loads(options: LoadOptions): Promise<void> {
    const m = await loadModel(options);
    await m.release();
  }

  it("a restart with the same model and engine skips the child; without the cache it runs", async () => {
    await loads(base(FIXTURE_ONNX, { checkCacheDir: cacheDir }));
    assert.equal(fs.readdirSync(cacheDir).filter((f) => f.endsWith(".json")).length, 1, "one pass on disk");
    forgetChecks();
    await loads(base(FIXTURE_ONNX, { checkCacheDir: cacheDir, checkTimeoutMs: 1 }));
    forgetChecks();
    await assert.rejects(loads(base(FIXTURE_ONNX, { checkTimeoutMs: 1 })), /the checker did not finish within 1 ms/);
  });

  it("a changed card, another engine version or a damaged entry checks again", async () => {
    const bytes = fs.readFileSync(FIXTURE_ONNX);
    const m = writeModel(dir, bytes);
    await loads(base(m.onnx, { checkCacheDir: cacheDir }));
    forgetChecks();
    await loads(base(m.onnx, { checkCacheDir: cacheDir, checkTimeoutMs: 1 })); // the control: cached

    const card = JSON.parse(fs.readFileSync(m.card, "utf8"));
    const other = writeModel(dir, bytes, { baseline: { ...card.baseline, mean: card.baseline.mean.map((v: number) => v + 1) } }, "rebased");
    forgetChecks();
    await assert.rejects(loads(base(other.onnx, { checkCacheDir: cacheDir, checkTimeoutMs: 1 })), /did not finish within 1 ms/, "same bytes, another card: checked");

    const e = processEngine();
    const newer = { ...e, version: `${e.version}-next`, label: `${e.name} ${e.version}-next (${e.kind})` };
    forgetChecks();
    await assert.rejects(loads(base(m.onnx, { checkCacheDir: cacheDir, checkTimeoutMs: 1, engine: newer })), /did not finish within 1 ms/, "another engine version: checked");

    for (const f of fs.readdirSync(cacheDir)) fs.writeFileSync(path.join(cacheDir, f), "{ half written");
    forgetChecks();
    await assert.rejects(loads(base(m.onnx, { checkCacheDir: cacheDir, checkTimeoutMs: 1 })), /did not finish within 1 ms/, "a damaged entry: checked");
    forgetChecks();
    await loads(base(m.onnx, { checkCacheDir: cacheDir })); // checked again and remembered again
    forgetChecks();
    await loads(base(m.onnx, { checkCacheDir: cacheDir, checkTimeoutMs: 1 }));
  });

  it("a swapped file is refused by its sha256 before the cache is consulted", async () => {
    const bytes = fs.readFileSync(FIXTURE_ONNX);
    const m = writeModel(dir, bytes);
    await loads(base(m.onnx, { checkCacheDir: cacheDir }));
    fs.writeFileSync(m.onnx, Buffer.concat([bytes, Buffer.from([0])]));
    forgetChecks();
    assert.match(await refusal(base(m.onnx, { checkCacheDir: cacheDir, checkTimeoutMs: 1 })), /sha256 mismatch/);
  });
});
