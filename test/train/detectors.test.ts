import { strict as assert } from "assert";
import { parseModelCard } from "../../nodes/shared/model-card";
import { matmul, symmetricEigen, transpose } from "../../cli/train/linalg";
import { sha256Hex } from "../../cli/train/model-card";
import { fitMset, fitMsetModel, msetEstimate } from "../../cli/train/mset";
import { fitPca, fitPcaModel, pcaScore } from "../../cli/train/pca";
import { scoreRows, alarmStates } from "../../cli/train/score";
import { seededRandom, quantile } from "../../cli/train/stats";
import { trainModel } from "../../cli/train/trainer";

/**
 * Normal plant behaviour with structure a detector can learn: 5 sensors driven by 2 hidden
 * factors (flow, load) plus noise, with their own scales and offsets.
 */
function plant(n: number, seed: number): number[][] {
  const rand = seededRandom(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const flow = gauss();
    const load = gauss();
    rows.push([
      32 + 2 * flow + 0.05 * gauss(), // flow rate
      1.0 + 0.3 * load + 0.1 * flow + 0.01 * gauss(), // current
      0.4 + 0.2 * flow + 0.01 * gauss(), // pressure
      230 + 5 * load + 0.5 * gauss(), // voltage
      0.026 + 0.001 * load + 0.0001 * gauss(), // vibration
    ]);
  }
  return rows;
}

/** A fault that breaks the learnt relation: pressure drops while flow stays (a blocked inlet). */
function faulty(row: number[]): number[] {
  return [row[0], row[1], row[2] - 0.3, row[3], row[4]];
}

function close(a: number, b: number, rel = 1e-3): void {
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
}

const argmax = (v: number[]): number => v.indexOf(Math.max(...v));

describe("train/linalg", () => {
  it("symmetric eigen-decomposition reconstructs the matrix, values descending, vectors orthonormal", () => {
    const a = [[4, 1, 0.5], [1, 3, 0.2], [0.5, 0.2, 1]];
    const { values, vectors } = symmetricEigen(a);
    assert.ok(values[0] >= values[1] && values[1] >= values[2]);
    const recon = matmul(matmul(vectors, values.map((v, i) => values.map((_, j) => (i === j ? v : 0)))), transpose(vectors));
    recon.forEach((r, i) => r.forEach((v, j) => close(v, a[i][j], 1e-9)));
    const vtv = matmul(transpose(vectors), vectors);
    vtv.forEach((r, i) => r.forEach((v, j) => close(v, i === j ? 1 : 0, 1e-9)));
  });
});

describe("train/pca-t2q", () => {
  const normal = plant(400, 1);
  const test = plant(50, 2);

  it("the ONNX graph computes the T2+Q score of the TypeScript reference, and contributions sum to it", async () => {
    const m = fitPcaModel(normal);
    assert.ok(m.eigenvalues.length >= 1 && m.eigenvalues.length < 5, `kept ${m.eigenvalues.length} components`);
    const rows = [...test, ...test.slice(0, 10).map(faulty)];
    const { scores, contributions } = await scoreRows(fitPca(normal).graph.toBytes(), rows);
    rows.forEach((r, i) => {
      close(scores[i], pcaScore(m, r), 1e-3);
      close(contributions[i].reduce((a, b) => a + b, 0), scores[i], 1e-4);
    });
  });

  it("scores a broken relation far above normal rows and names the sensor that broke it", async () => {
    const { scores: normalScores } = await scoreRows(fitPca(normal).graph.toBytes(), test);
    const { scores, contributions } = await scoreRows(fitPca(normal).graph.toBytes(), test.slice(0, 10).map(faulty));
    const normalP99 = quantile(normalScores, 0.99);
    for (let i = 0; i < scores.length; i++) {
      assert.ok(scores[i] > 3 * normalP99, `fault score ${scores[i]} vs normal p99 ${normalP99}`);
      assert.equal(argmax(contributions[i]), 2, `pressure should drive the score: ${contributions[i].map((c) => c.toFixed(2)).join(", ")}`);
    }
  });

  it("a constant training signal does not divide by zero", async () => {
    const rows = normal.map((r) => [...r, 7]);
    const { scores } = await scoreRows(fitPca(rows).graph.toBytes(), rows.slice(0, 5));
    assert.ok(scores.every(Number.isFinite));
  });
});

describe("train/mset", () => {
  const normal = plant(400, 1);
  const test = plant(50, 2);

  it("the ONNX graph computes the TypeScript reference estimate", async () => {
    const m = fitMsetModel(normal, 1);
    const fitted = fitMset(normal, 1);
    const rows = [...test.slice(0, 10), ...test.slice(0, 5).map(faulty)];
    const { scores, contributions } = await scoreRows(fitted.graph.toBytes(), rows);
    rows.forEach((raw, i) => {
      const z = raw.map((v, j) => (v - m.mean[j]) / m.std[j]);
      const est = msetEstimate(m, z);
      const expected = z.reduce((acc, v, j) => acc + (v - est[j]) ** 2 / m.residualVar[j], 0);
      close(scores[i], expected, 2e-3);
      close(contributions[i].reduce((a, b) => a + b, 0), scores[i], 1e-4);
    });
  });

  it("scores a broken relation far above normal rows and names the sensor that broke it", async () => {
    const bytes = fitMset(normal, 1).graph.toBytes();
    const { scores: normalScores } = await scoreRows(bytes, test);
    const { scores, contributions } = await scoreRows(bytes, test.slice(0, 10).map(faulty));
    const normalP99 = quantile(normalScores, 0.99);
    for (let i = 0; i < scores.length; i++) {
      assert.ok(scores[i] > 3 * normalP99, `fault score ${scores[i]} vs normal p99 ${normalP99}`);
      // MSET cannot tell which side of the broken flow-pressure relation moved: the two sensors of
      // that relation are the top two contributors, the unrelated ones are not.
      const top2 = contributions[i].map((c, j) => [c, j]).sort((a, b) => b[0] - a[0]).slice(0, 2).map(([, j]) => j).sort();
      assert.deepEqual(top2, [0, 2], contributions[i].map((c) => c.toFixed(2)).join(", "));
    }
  });

  it("is deterministic per seed: same seed same bytes, another seed another memory", () => {
    const a = fitMset(normal, 7).graph.toBytes();
    const b = fitMset(normal, 7).graph.toBytes();
    const c = fitMset(normal, 8).graph.toBytes();
    assert.equal(sha256Hex(a), sha256Hex(b));
    assert.notEqual(sha256Hex(a), sha256Hex(c));
  });
});

describe("train/trainer", () => {
  it("writes a card otb-infer accepts, with the threshold at quantile x margin of the graph's own normal scores", async () => {
    const normal = plant(300, 3);
    const features = ["flow:mean", "current:mean", "pressure:mean", "voltage:mean", "vibration:rms"];
    for (const detector of ["pca", "mset", "zscore"] as const) {
      const t = await trainModel(normal, features, {
        name: `pump-${detector}`, version: "1.2.3", detector, seed: 1, thresholdQuantile: 0.99, thresholdMargin: 2, source: "test",
      });
      const card = parseModelCard(JSON.stringify({ ...t.card, sha256: sha256Hex(t.bytes) }));
      assert.deepEqual(card.features, features);
      assert.deepEqual(card.input, { name: "features", shape: [null, 5] });
      assert.deepEqual(Object.keys(card.outputs), ["score", "contributions"]);
      close(card.threshold as number, quantile(t.normalScores, 0.99) * 2, 1e-6);
      assert.equal(card.baseline?.n, 300);
      assert.equal(card.normalisation?.inGraph, true);
    }
  });

  it("refuses rows with missing values or the wrong width", async () => {
    const opts = { name: "x", version: "1.0.0", detector: "pca" as const, seed: 1, thresholdQuantile: 0.99, thresholdMargin: 2, source: "t" };
    await assert.rejects(trainModel([[1, NaN]], ["a:mean", "b:mean"], opts), /2 finite values/);
    await assert.rejects(trainModel([[1]], ["a:mean", "b:mean"], opts), /2 finite values/);
    await assert.rejects(trainModel([], ["a:mean"], opts), /no normal rows/);
  });
});

describe("train/alarm hysteresis", () => {
  it("raises after N consecutive scores over the threshold and clears after M under", () => {
    const s = [5, 5, 0, 5, 5, 5, 0, 5, 0, 0, 0, 5];
    assert.deepEqual(alarmStates(s, 1, 3, 2).map(Number), [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0]);
  });
});
