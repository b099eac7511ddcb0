import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as ort from "onnxruntime-web";
import { OnnxGraph, describeModel } from "../../cli/train/onnx-writer";
import { sha256Hex } from "../../cli/train/model-card";
import { buildFixtureModel, FIXTURE_CASES, FIXTURE_NAME } from "../../cli/train/fixture-model";

const FIXTURE_DIR = path.resolve(__dirname, "..", "..", "..", "test", "fixtures", "models");

async function run(bytes: Uint8Array, feeds: Record<string, { data: number[]; dims: number[] }>): Promise<Record<string, { data: number[]; dims: readonly number[] }>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const tensors: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) tensors[k] = new ort.Tensor("float32", Float32Array.from(v.data), v.dims);
    const out = await session.run(tensors);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: Array.from(t.data as Float32Array), dims: t.dims }]));
  } finally {
    await session.release();
  }
}

function close(actual: number[], expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} vs ${expected.length}`);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `[${i}] ${a} vs ${expected[i]}`));
}

describe("train/onnx-writer", () => {
  it("writes a graph onnxruntime loads and computes: MatMul, Add, ReduceSum, Sqrt, Exp, named outputs", async () => {
    const g = new OnnxGraph("algebra");
    const x = g.input("x", [null, 2]);
    const w = g.floats("w", [1, 2, 3, 4], [2, 2]);
    const y = g.op("Add", [g.op("MatMul", [x, w]), g.floats("b", [0.5, -0.5], [1, 2])]);
    const s = g.op("ReduceSum", [g.op("Mul", [y, y]), g.int64s("axes", [1], [1])], { keepdims: { int: 1 } });
    g.output(y, "y", [null, 2]);
    g.output(g.op("Sqrt", [s]), "norm", [null, 1]);
    g.output(g.op("Exp", [g.op("Neg", [s])]), "kernel", [null, 1]);
    const out = await run(g.toBytes(), { x: { data: [1, 0, 2, 1], dims: [2, 2] } });
    // rows: [1,0]·W = [1,2] + b = [1.5,1.5]; [2,1]·W = [2+3, 4+4] = [5,8] + b = [5.5,7.5]
    close(out.y.data, [1.5, 1.5, 5.5, 7.5]);
    assert.deepEqual(out.y.dims, [2, 2]);
    close(out.norm.data, [Math.sqrt(4.5), Math.sqrt(5.5 ** 2 + 7.5 ** 2)]);
    close(out.kernel.data, [Math.exp(-4.5), Math.exp(-(5.5 ** 2 + 7.5 ** 2))], 1e-4);
  });

  it("reads back what it wrote: inputs, outputs, opset, metadata", () => {
    const g = new OnnxGraph("meta");
    const x = g.input("features", [null, 3]);
    g.output(g.op("Relu", [x]), "score", [null, 3]);
    const info = describeModel(g.toBytes({ metadata: { card: "x" } }));
    assert.deepEqual(info.inputs, [{ name: "features", dims: ["batch", 3] }]);
    assert.deepEqual(info.outputs, [{ name: "score", dims: ["batch", 3] }]);
    assert.equal(info.opset, 17);
    assert.equal(info.producer, "otbridge");
    assert.deepEqual(info.ops, ["Relu", "Identity"]);
    assert.deepEqual(info.metadata, { card: "x" });
  });

  it("refuses graphs that could not run: undefined inputs, duplicate names, non-finite weights, no output", () => {
    const g = new OnnxGraph("bad");
    const x = g.input("x", [null, 1]);
    assert.throws(() => g.op("Add", [x, "missing"]), /missing used before it is defined/);
    assert.throws(() => g.input("x", [1]), /defined twice/);
    assert.throws(() => g.floats("nan", [NaN], [1]), /not finite/);
    assert.throws(() => g.floats("size", [1, 2], [3]), /2 values for dims \[3\]/);
    assert.throws(() => new OnnxGraph("empty").toBytes(), /no output/);
  });

  it("is deterministic: the same graph gives the same bytes", () => {
    assert.deepEqual(Buffer.from(buildFixtureModel().bytes), Buffer.from(buildFixtureModel().bytes));
  });
});

describe("train/fixture model (test/fixtures/models)", () => {
  const onnxPath = path.join(FIXTURE_DIR, `${FIXTURE_NAME}.onnx`);
  const cardPath = path.join(FIXTURE_DIR, `${FIXTURE_NAME}.card.json`);

  it("is the committed output of the writer, and its card pins its sha256", () => {
    const bytes = fs.readFileSync(onnxPath);
    const card = JSON.parse(fs.readFileSync(cardPath, "utf8")) as { sha256: string; features: string[]; input: { shape: unknown[] } };
    assert.equal(card.sha256, sha256Hex(bytes));
    assert.deepEqual(Buffer.from(buildFixtureModel().bytes), bytes, "fixture drifted: run node dist/cli/train/fixture-model.js");
    assert.deepEqual(card.input.shape, [null, card.features.length]);
  });

  it("scores its documented inputs to the documented outputs in onnxruntime (batch of 4)", async () => {
    const bytes = fs.readFileSync(onnxPath);
    const out = await run(bytes, { features: { data: FIXTURE_CASES.flatMap((c) => c.input), dims: [FIXTURE_CASES.length, 3] } });
    assert.deepEqual(out.score.dims, [4, 1]);
    assert.deepEqual(out.contributions.dims, [4, 3]);
    close(out.score.data, FIXTURE_CASES.map((c) => c.score));
    close(out.contributions.data, FIXTURE_CASES.flatMap((c) => c.contributions));
  });
});
