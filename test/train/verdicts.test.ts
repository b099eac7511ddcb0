/**
 * `otbridge train --verdicts`: a scripted plant and a scripted operator. The process has a
 * second normal operating point (B) the first model never saw, and real faults (F). Model 1
 * raises alarms on both; the operator judges the alarms of the first half of the record through
 * otb-infer's own verdict store (B alarms "false alarm", F alarms "confirmed"). Model 2 is
 * trained with those verdicts; on the second half, which no verdict touched, its alarm precision
 * must be higher and it must still catch every fault.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Command } from "../../cli/command";
import { parseCsv } from "../../cli/train/csv";
import { parseFeatureSpec, windowFrames } from "../../cli/train/features";
import { alarmStates, scoreRows } from "../../cli/train/score";
import { seededRandom } from "../../cli/train/stats";
import { VerdictStore } from "../../nodes/otb-infer/verdict-store";
import { parseModelCard } from "../../nodes/shared/model-card";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const train = require("../../cli/commands/train") as Command;

const T0 = Date.UTC(2026, 0, 5);
const MODEL = { name: "m", version: "1.0.0", sha256: "0".repeat(64) };
type Regime = "A" | "B" | "F";
const CYCLE: Array<[Regime, number]> = [["B", 600], ["A", 400], ["F", 600], ["A", 400]];
const PLAN: Array<[Regime, number]> = [["A", 1800], ...CYCLE, ...CYCLE, ...CYCLE, ...CYCLE];
/** The first two cycles are history the operator judges; the last two are for scoring. */
const SPLIT_S = 1800 + 2 * 2000;

function writePlant(file: string): void {
  const rand = seededRandom(7);
  const n = (): number => (rand() + rand() + rand() - 1.5) * 2; // ~N(0, 1)
  const lines = ["datetime;x;y;z;anomaly"];
  let t = 0;
  for (const [regime, seconds] of PLAN) {
    for (let i = 0; i < seconds; i++, t++) {
      const x = (regime === "B" ? 14 : 10) + n();
      const y = 2 * x + (regime === "F" ? 3 : 0) + n();
      const iso = new Date(T0 + t * 1000).toISOString().replace("T", " ").slice(0, 19);
      lines.push(`${iso};${x.toFixed(4)};${y.toFixed(4)};${(5 + n()).toFixed(4)};${regime === "F" ? 1 : 0}`);
    }
  }
  fs.writeFileSync(file, lines.join("\n") + "\n");
}

interface Episode {
  raisedAt: number;
  clearedAt?: number;
  fault: boolean;
}

/** The alarm episodes otb-infer's rule (raise after 3, clear after 5) gives with this model. */
async function episodes(csv: string, onnx: string, cardFile: string): Promise<Episode[]> {
  const table = parseCsv(fs.readFileSync(csv, "utf8"), csv);
  const card = parseModelCard(fs.readFileSync(cardFile, "utf8"), cardFile);
  const frames = windowFrames(table, parseFeatureSpec("mean", table.tags), 10_000, 10_000);
  const { scores } = await scoreRows(fs.readFileSync(onnx), frames.values);
  const states = alarmStates(scores, card.threshold as number, 3, 5);
  const out: Episode[] = [];
  let open: Episode | null = null;
  states.forEach((s, i) => {
    const row = frames.row[i];
    const ts = table.ts[row];
    if (s && !open) out.push((open = { raisedAt: ts, fault: false }));
    if (open && s) {
      // Fault if any row of the frame's window is labelled.
      for (let r = Math.max(0, row - 9); r <= row; r++) if (table.labels.anomaly[r]) open.fault = true;
    }
    if (!s && open) {
      open.clearedAt = ts;
      open = null;
    }
  });
  return out;
}

function precision(eps: Episode[]): number {
  return eps.filter((e) => e.fault).length / Math.max(eps.length, 1);
}

async function run(argv: string[]): Promise<string> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]): void => void lines.push(args.map(String).join(" "));
  try {
    assert.equal(await train.run(argv), 0);
    return lines.join("\n");
  } finally {
    console.log = original;
  }
}

describe("otbridge train --verdicts", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-verdicts-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("trains false alarms as normal and leaves confirmed faults out: precision rises on unjudged data, faults still caught", async () => {
    const csv = path.join(dir, "plant.csv");
    writePlant(csv);
    const base = ["--csv", csv, "--normal-rows", "1800", "--window", "10", "--hop", "10", "--features", "mean", "--detector", "pca", "--out", dir];
    await run([...base, "--name", "v1"]);
    const before = await episodes(csv, path.join(dir, "v1.onnx"), path.join(dir, "v1.card.json"));
    const split = T0 + SPLIT_S * 1000;
    const history = before.filter((e) => e.raisedAt < split);
    assert.deepEqual(history.map((e) => e.fault), [false, true, false, true], "model 1: one alarm per B and per F segment");

    // The operator judges the history through otb-infer's store, as the dashboard would.
    const file = path.join(dir, "verdicts.json");
    const store = new VerdictStore(file);
    history.forEach((e, i) => {
      const id = `v1-${i}`;
      const alarm = { kind: "alarm" as const, id, ts: e.raisedAt, raisedAt: e.raisedAt, model: MODEL, score: 9, threshold: 4, consecutive: 3, contributors: [] };
      store.recordAlarm({ ...alarm, state: "raised" });
      store.recordAlarm({ ...alarm, state: "cleared", ts: e.clearedAt as number });
      store.judge({ alarmId: id, verdict: e.fault ? "confirmed" : "false_alarm", user: "script" }, e.raisedAt + 120_000);
    });

    const printed = await run([...base, "--name", "v2", "--verdicts", file]);
    assert.match(printed, /verdicts: 2 false alarm\(s\) -> \d+ rows trained as normal; 2 confirmed -> 0 rows left out; 0 unsure ignored/);
    const card = parseModelCard(fs.readFileSync(path.join(dir, "v2.card.json"), "utf8"), "v2");
    const used = (card.training as { params: { verdicts: Record<string, unknown> } }).params.verdicts;
    assert.equal(used.file, "verdicts.json");
    assert.equal(used.sha256, require("crypto").createHash("sha256").update(fs.readFileSync(file)).digest("hex"));
    assert.deepEqual([used.falseAlarms, used.confirmed, used.unsure, used.notCovered], [2, 2, 0, 0]);
    assert.ok((used.rowsAdded as number) >= 100, `rows added ${used.rowsAdded}`);

    const after = await episodes(csv, path.join(dir, "v2.onnx"), path.join(dir, "v2.card.json"));
    const heldBefore = before.filter((e) => e.raisedAt >= split);
    const heldAfter = after.filter((e) => e.raisedAt >= split);
    assert.ok(precision(heldAfter) > precision(heldBefore), `precision ${precision(heldBefore)} -> ${precision(heldAfter)}`);
    assert.equal(precision(heldAfter), 1);
    assert.equal(heldAfter.filter((e) => e.fault).length, 2, "both unjudged faults still raise an alarm");
  });

  it("leaves rows of a confirmed alarm out even inside the normal period, and refuses a file that is not a verdict store", async () => {
    const csv = path.join(dir, "plant.csv");
    writePlant(csv);
    const file = path.join(dir, "verdicts.json");
    const store = new VerdictStore(file);
    const alarm = { kind: "alarm" as const, id: "early", ts: T0 + 600_000, raisedAt: T0 + 600_000, model: MODEL, score: 9, threshold: 4, consecutive: 3, contributors: [] };
    store.recordAlarm({ ...alarm, state: "raised" });
    store.recordAlarm({ ...alarm, state: "cleared", ts: T0 + 700_000 });
    store.judge({ alarmId: "early", verdict: "confirmed", user: "script" }, T0 + 800_000);
    const base = ["--csv", csv, "--normal-rows", "1800", "--window", "10", "--hop", "10", "--features", "mean", "--detector", "pca", "--out", dir];
    const printed = await run([...base, "--name", "v3", "--verdicts", file]);
    // Span 600 s - 60 s .. 700 s + 60 s; frames end on rows 9, 19, ... s: 549..759 s = 22 rows.
    assert.match(printed, /1 confirmed -> 22 rows left out/);
    const card = parseModelCard(fs.readFileSync(path.join(dir, "v3.card.json"), "utf8"), "v3");
    assert.equal((card.training as { normalRows: number }).normalRows, 180 - 22);

    fs.writeFileSync(file, JSON.stringify({ hello: 1 }));
    await assert.rejects(train.run([...base, "--name", "v4", "--verdicts", file]), /--verdicts: .*not an otbridge verdict file/);
  });
});
