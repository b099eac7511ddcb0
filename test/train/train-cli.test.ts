import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ort from "onnxruntime-web";
import { parseModelCard, sha256Of } from "../../nodes/shared/model-card";
import { CliError, type Command } from "../../cli/command";
import { seededRandom } from "../../cli/train/stats";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const train = require("../../cli/commands/train") as Command;
const BIN = path.resolve(__dirname, "..", "..", "cli", "otbridge.js");

/** A SKAB-shaped historian export: 1 Hz, ';', datetime, three tags tied by one hidden factor. */
function writeCsv(file: string, rows: number, t0 = Date.UTC(2024, 0, 1)): void {
  const rand = seededRandom(5);
  const lines = ["datetime;Current;Pressure;Volume Flow RateRMS;anomaly;changepoint"];
  for (let i = 0; i < rows; i++) {
    const flow = rand() - 0.5;
    const iso = new Date(t0 + i * 1000).toISOString().replace("T", " ").slice(0, 19);
    lines.push(`${iso};${(1 + 0.2 * flow + 0.01 * rand()).toFixed(5)};${(0.4 + 0.1 * flow + 0.01 * rand()).toFixed(5)};${(32 + flow).toFixed(4)};0;0`);
  }
  fs.writeFileSync(file, lines.join("\n") + "\n");
}

/** Runs the command in-process, capturing what it prints. */
async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]): void => {
    lines.push(args.map(String).join(" "));
  };
  try {
    const code = await train.run(argv);
    return { code, out: lines.join("\n") };
  } finally {
    console.log = original;
  }
}

function exec(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("otbridge train (CLI)", function () {
  this.timeout(20_000);
  let dir: string;
  let csv: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-train-"));
    csv = path.join(dir, "pump.csv");
    writeCsv(csv, 600);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("trains from a SKAB-format CSV and writes a model otb-infer's card check accepts and onnxruntime runs", async () => {
    const out = path.join(dir, "models");
    const { code, out: text } = await run([
      "--csv", csv, "--normal-rows", "400", "--detector", "mset", "--features", "mean,std", "--window", "5",
      "--out", out, "--name", "pump-anomaly", "--version", "2.0.1", "--seed", "3",
    ]);
    assert.equal(code, 0);
    assert.match(text, /mset model "pump-anomaly" 2.0.1, 6 features, \d+ normal rows/);
    const bytes = fs.readFileSync(path.join(out, "pump-anomaly.onnx"));
    const card = parseModelCard(fs.readFileSync(path.join(out, "pump-anomaly.card.json"), "utf8"));
    assert.equal(card.sha256, sha256Of(bytes));
    assert.equal(card.detector, "mset");
    assert.deepEqual(card.features, ["Current:mean", "Current:std", "Pressure:mean", "Pressure:std", "Volume Flow RateRMS:mean", "Volume Flow RateRMS:std"]);
    assert.equal((card.training as { seed: number }).seed, 3);
    assert.equal((card.training as { params: { windowMs: number } }).params.windowMs, 5000);
    const session = await ort.InferenceSession.create(bytes);
    const res = await session.run({ features: new ort.Tensor("float32", Float32Array.from(card.baseline!.mean), [1, 6]) });
    assert.ok((res.score.data as Float32Array)[0] < (card.threshold as number), "the normal mean scores below the threshold");
    await session.release();
  });

  it("takes the normal period as a time range, and the same input and seed give the same model bytes", async () => {
    const args = (out: string): string[] => ["--csv", csv, "--normal-from", "2024-01-01 00:00:00", "--normal-to", "2024-01-01T00:05:00Z", "--out", out, "--detector", "pca"];
    assert.equal((await run(args(path.join(dir, "a")))).code, 0);
    assert.equal((await run(args(path.join(dir, "b")))).code, 0);
    const a = fs.readFileSync(path.join(dir, "a", "pump.onnx"));
    assert.deepEqual(a, fs.readFileSync(path.join(dir, "b", "pump.onnx")));
    const card = parseModelCard(fs.readFileSync(path.join(dir, "a", "pump.card.json"), "utf8"));
    assert.equal(card.baseline?.n, 292, "frames whose last row lies in 00:00:00..00:05:00, after the first 9 s window");
  });

  it("trains from recorded FeatureFrames (JSON lines), skipping frames that are not complete and good", async () => {
    const frames = path.join(dir, "frames.jsonl");
    const rand = seededRandom(9);
    const lines: string[] = [];
    for (let i = 0; i < 60; i++) {
      const x = rand();
      const quality = i % 10 === 0 ? "uncertain" : "good";
      const frame = { kind: "features", ts: 1_700_000_000_000 + i * 1000, windowMs: 1000, names: ["a:mean", "b:mean", "c:max"], values: [x, 2 * x + 0.01 * rand(), rand()], missing: [], quality };
      lines.push(JSON.stringify(i % 2 ? { payload: frame, topic: "x" } : frame));
    }
    fs.writeFileSync(frames, lines.join("\n") + "\n");
    const { code, out } = await run(["--frames", frames, "--normal-rows", "50", "--out", dir, "--name", "from-frames", "--features", "a:mean,b:mean"]);
    assert.equal(code, 0);
    assert.match(out, /left out: 6 notGood/);
    const card = parseModelCard(fs.readFileSync(path.join(dir, "from-frames.card.json"), "utf8"));
    assert.deepEqual(card.features, ["a:mean", "b:mean"]);
    assert.equal(card.baseline?.n, 45);
  });

  it("refuses bad input with one clear error each", async () => {
    const bad: Array<[string[], RegExp]> = [
      [["--out", dir], /exactly one of --csv FILE or --frames FILE/],
      [["--csv", path.join(dir, "nope.csv"), "--out", dir, "--normal-rows", "9"], /input file not found/],
      [["--csv", csv, "--normal-rows", "400"], /--out DIR is required/],
      [["--csv", csv, "--out", dir], /state the normal period/],
      [["--csv", csv, "--out", dir, "--normal-rows", "400", "--detector", "lstm"], /--detector must be one of pca, mset, zscore/],
      [["--csv", csv, "--out", dir, "--normal-rows", "400", "--features", "Flow:mean"], /unknown tag "Flow"/],
      [["--csv", csv, "--out", dir, "--normal-rows", "5"], /only 0 complete feature rows in the normal period/],
      [["--csv", csv, "--out", dir, "--normal-rows", "400", "--param", "bandwidth"], /--param must be KEY=NUMBER/],
      [["--csv", csv, "--out", dir, "--normal-rows", "400", "--version", "one"], /--version must be semver/],
      [["--csv", csv, "--out", dir, "--normal-from", "2024-01-02", "--normal-to", "2024-01-01"], /--normal-to is before --normal-from/],
      [["--csv", csv, "--out", dir, "--normal-rows", "400", "--name", "../escape"], /model name/],
    ];
    for (const [argv, message] of bad) {
      await assert.rejects(run(argv), (err: unknown) => err instanceof CliError && message.test(err.message), `${argv.join(" ")} should fail with ${message}`);
    }
  });

  it("as a process: --help exits 0, bad input exits 2 with a one-line message and no stack trace", async () => {
    const help = await exec(["train", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: otbridge train/);
    const bad = await exec(["train", "--csv", csv, "--out", dir, "--normal-rows", "400", "--window", "0"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assert.match(bad.stderr, /^otbridge: --window must be a number from/);
  });
});
