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
    // 400 rows at 1 Hz, 5 s windows every 1 s: the windows ending within them (the first starts at row 0).
    assert.match(text, /mset model "pump-anomaly" 2\.0\.1, 6 features, 396 normal windows of 5 s every 1 s from the first 400 CSV rows/);
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
    assert.match(out, /left out: 6 frames not complete and good/);
    assert.match(out, /, 45 normal frames from the first 50 frames/);
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
      [["--csv", csv, "--out", dir, "--normal-rows", "5"], /only 0 complete windows in the normal period/],
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

describe("otbridge train: CSV as spreadsheets and historians write it (RFC 4180, decimal commas)", function () {
  this.timeout(20_000);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseCsv, CsvError } = require("../../cli/train/csv") as typeof import("../../cli/train/csv");
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-train-csv-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The same 1 Hz data, written by a German Excel: BOM, ';', quoted headers, decimal commas, CRLF. */
  function excelCsv(rows: number): { text: string; current: number[] } {
    const rand = seededRandom(11);
    const current: number[] = [];
    const lines = ['"Zeitstempel";"datetime";"Motor current; phase L1 [A]";"Pressure ""PT-101"" [bar]";"anomaly"'];
    for (let i = 0; i < rows; i++) {
      const f = rand() - 0.5;
      const c = Number((1 + 0.2 * f + 0.01 * rand()).toFixed(4));
      current.push(c);
      const iso = new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString().replace("T", " ").slice(0, 19);
      lines.push(`"${i}";${iso};${String(c).replace(".", ",")};"${(0.4 + 0.1 * f).toFixed(3).replace(".", ",")}";0`);
    }
    return { text: "\uFEFF" + lines.join("\r\n") + "\r\n", current };
  }

  it("reads quoted headers (with the separator and quotes inside) and decimal commas exactly", () => {
    const { text, current } = excelCsv(5);
    const t = parseCsv(text, "excel.csv");
    assert.deepEqual(t.tags, ["Zeitstempel", "Motor current; phase L1 [A]", 'Pressure "PT-101" [bar]']);
    assert.deepEqual(t.rows.map((r) => r[1]), current);
    assert.ok(t.rows.every((r) => r[2] > 0.3 && r[2] < 0.5), JSON.stringify(t.rows));
    assert.deepEqual(t.labels.anomaly, [0, 0, 0, 0, 0]);
    assert.equal(t.notNumbers, 0);
  });

  it("RFC 4180: quoted fields with separators, doubled quotes and line breaks; CRLF; ',' files keep '1,500' out of the numbers", () => {
    const t = parseCsv('timestamp,"note, free text",value\r\n1700000000,"line one\r\nline ""two""",1.5\r\n1700000001,"a,b","2.5"\r\n1700000002,x,"1,500"\r\n', "c.csv");
    assert.deepEqual(t.tags, ["note, free text", "value"]);
    assert.deepEqual(t.ts, [1700000000000, 1700000001000, 1700000002000]);
    assert.deepEqual(t.rows.map((r) => r[1]), [1.5, 2.5, NaN]);
    assert.equal(t.notNumbers, 4, "three notes and the ambiguous 1,500");
    // Tab separated, decimal comma.
    assert.deepEqual(parseCsv("time\tflow\n2024-01-01T00:00:00Z\t3,25\n", "t.tsv").rows, [[3.25]]);
    // ';' with decimal points (SKAB) still reads.
    assert.deepEqual(parseCsv("datetime;a\n2024-01-01 00:00:00;0.125\n").rows, [[0.125]]);
  });

  it("refuses a broken file with the line it breaks on", () => {
    assert.throws(() => parseCsv('datetime;a\n2024-01-01 00:00:00;"1,5\n2024-01-01 00:00:01;2\n', "u.csv"), (e: Error) => e instanceof CsvError && /u\.csv: line 2: a quoted field is never closed/.test(e.message));
    assert.throws(() => parseCsv("datetime;a;b\n2024-01-01 00:00:00;1\n", "f.csv"), /f\.csv: line 2 has 2 fields, header has 3/);
    assert.throws(() => parseCsv('datetime;a\n2024-01-01 00:00:00;"1"x\n', "q.csv"), /line 2: text after a closing quote/);
  });

  it("names the right line after a field with line breaks, blank lines and mixed line ends (CRLF, LF, CR)", () => {
    const text = 'datetime;note;a\r\n2024-01-01 00:00:00;"two\r\nlines";1,5\n\n2024-01-01 00:00:01;x;2\r2024-01-01 00:00:02;y;3\r\n';
    const t = parseCsv(text, "m.csv");
    assert.deepEqual(t.rows.map((r) => r[1]), [1.5, 2, 3]);
    assert.deepEqual(t.ts, [0, 1000, 2000].map((ms) => Date.UTC(2024, 0, 1) + ms));
    // The record after the two-line field and the blank line starts on line 5; its successor on 6.
    assert.throws(() => parseCsv(text.replace("00:00:01;x;2", "00:00:01;x"), "m.csv"), /m\.csv: line 5 has 2 fields, header has 3/);
    assert.throws(() => parseCsv(text.replace("2024-01-01 00:00:02;y;3", "soon;y;3"), "m.csv"), /m\.csv: line 6: cannot read time "soon"/);
  });

  it("trains from the Excel-style file as from the plain one, and says what it counts: windows", async () => {
    const { text } = excelCsv(300);
    const file = path.join(dir, "excel.csv");
    fs.writeFileSync(file, text);
    const { code, out } = await run(["--csv", file, "--normal-rows", "200", "--features", "Motor current; phase L1 [A]:mean,Pressure \"PT-101\" [bar]:std", "--window", "10", "--hop", "0.5", "--out", dir, "--name", "excel"]);
    assert.equal(code, 0);
    // 10 s windows every 0.5 s over rows 0..199: more windows than rows, so they are called windows.
    const m = /, 2 features, (\d+) normal windows of 10 s every 0\.5 s from the first 200 CSV rows/.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[1]) > 200, `${m[1]} windows`);
    const card = parseModelCard(fs.readFileSync(path.join(dir, "excel.card.json"), "utf8"));
    assert.deepEqual(card.features, ["Motor current; phase L1 [A]:mean", 'Pressure "PT-101" [bar]:std']);
  });
});
