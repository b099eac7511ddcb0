/**
 * The SKAB benchmark's two scoring paths on one real experiment file: the real nodes
 * (otb-window -> otb-infer in a Node-RED runtime) and in-process onnxruntime must predict the
 * same rows, and the model must find that file's valve fault. Reads the data from
 * ../shared/datasets/skab (never copied into the repo); skipped, loudly, when it is absent.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { countFile, directScorer, metrics, prepareCase, SKAB_CONFIG } from "../../cli/train/skab-eval";
import { crossValidate, nodeScorer, stopRuntime, formatReport } from "../../bench/skab";

const DATA = path.resolve(__dirname, "..", "..", "..", "..", "shared", "datasets", "skab");
const FILE = path.join(DATA, "valve1", "1.csv");

describe("SKAB benchmark paths (one experiment file)", function () {
  this.timeout(60_000);
  before(function () {
    if (!fs.existsSync(FILE)) {
      console.log(`\n  !!! SKAB data not found at ${FILE}: the SKAB path test is SKIPPED\n`);
      this.skip();
    }
  });
  after(() => stopRuntime());

  it("scores every row the same through otb-window + otb-infer as in-process, and catches the valve fault", async () => {
    const c = await prepareCase(FILE, SKAB_CONFIG);
    assert.ok(c, "the file has anomaly labels");
    const viaNodes = await nodeScorer(c);
    const direct = await directScorer(c);
    assert.equal(viaNodes.length, c.table.ts.length - SKAB_CONFIG.trainRows);
    const disagree = viaNodes.filter((p, i) => p !== direct[i]).length;
    assert.equal(disagree, 0, `${disagree} rows predicted differently by the two paths`);
    const m = metrics(countFile(c, viaNodes));
    assert.ok(m.f1 >= 0.8 && m.far <= 0.1, `valve1/1.csv: F1 ${m.f1.toFixed(3)}, FAR ${(m.far * 100).toFixed(1)} %`);
  });

  it("cross-validates with held-out files scored through the real nodes, agreeing with the replay the choice was made on", async function () {
    this.timeout(180_000);
    const files = ["0.csv", "1.csv", "2.csv"].map((f) => path.join(DATA, "valve1", f));
    // crossValidate throws a PathError if a held-out file counts differently through the nodes.
    const { cv, grid } = await crossValidate(files, SKAB_CONFIG, nodeScorer);
    assert.equal(cv.folds.length, 3);
    assert.equal(grid.length, 480);
    const sum = cv.folds.reduce((n, f) => n + f.counts.tp + f.counts.fp + f.counts.tn + f.counts.fn, 0);
    const total = cv.heldOut.tp + cv.heldOut.fp + cv.heldOut.tn + cv.heldOut.fn;
    assert.equal(total, sum);
    const laterRows = files.reduce((n, f) => n + fs.readFileSync(f, "utf8").split("\n").filter((l) => l.trim()).length - 1 - SKAB_CONFIG.trainRows, 0);
    assert.equal(total, laterRows, "every row after the first 400 of each file is counted once");
  });

  it("prints the figures next to the published leaderboard and says whether the goal is met", () => {
    const text = formatReport({ tp: 80, fp: 5, tn: 95, fn: 20 }, SKAB_CONFIG, "nodes", 1);
    assert.match(text, /otbridge \(this run\)\s+0\.865\s+5\.00 %\s+20\.00 %/);
    assert.match(text, /Conv-AE \(published, 34 files\)\s+0\.78\s+13\.55 %\s+28\.02 %/);
    assert.match(text, /in-sample/);
  });
});
