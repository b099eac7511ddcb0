/**
 * examples/09 (judge alarms on a dashboard) run for real: its inject, function, change and
 * otb-infer nodes as written; the dashboard widgets become helper nodes, and what a widget
 * would send (a table click, typed text, a button) is sent into the node it is wired to.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../cli/node-red-runner";
import { readVerdictFile, verdictFilePath } from "../../nodes/otb-infer/verdict-store";
import { validateAlarmKpi, validateVerdict } from "../../nodes/shared";
import { waitFor } from "../helpers/peers";
import { helper, withCoreNodes } from "../helpers/red";
import { MODEL_LOAD_WAIT_MS, tempDir } from "./models";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const otbInfer = require("../../nodes/otb-infer/otb-infer");
const core = ["common/20-inject", "common/90-comment", "function/10-function", "function/15-change"].map(
  (rel) => require(require.resolve(`@node-red/nodes/core/${rel}.js`)) as (RED: unknown) => void,
);
type FlowNode = Record<string, unknown> & { id: string; type: string };

function exampleFlow(): FlowNode[] {
  const file = fs.readdirSync(path.join(REPO_ROOT, "examples")).find((f) => f.startsWith("09 "));
  assert.ok(file, "examples/09 *");
  const flow = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "examples", file), "utf8")) as FlowNode[];
  return flow
    .filter((n) => !["ui-base", "ui-page", "ui-theme", "ui-group"].includes(n.type))
    .map((n) => {
      if (n.type === "tab") return { ...n, env: [{ name: "OTB_MODEL_PATH", type: "str", value: path.join(REPO_ROOT, "flows", "models", "pilot-pump.onnx") }] };
      if (n.type === "debug" || n.type.startsWith("ui-")) return { id: n.id, type: "helper", z: n.z, name: n.name, wires: [] };
      return n;
    });
}

describe("examples/09 Judge alarms on a dashboard", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("lists the alarm, and a click, an operator name, a note and a button store a verdict and show the KPI", async () => {
    helper.settings({ userDir: dir });
    await helper.load(withCoreNodes([otbInfer, ...core]), exampleFlow());
    const got = (id: string): Array<Record<string, unknown>> => {
      const list: Array<Record<string, unknown>> = [];
      helper.getNode(id).on("input", (m: Record<string, unknown>) => list.push(m));
      return list;
    };
    const events = got("ex09.events");
    const table = got("ex09.alarmTable");
    const kpiTable = got("ex09.kpiTable");
    const hint = got("ex09.noAlarm");
    const errors = got("ex09.errors");
    await waitFor(() => events.some((e) => (e.payload as { kind: string }).kind === "model"), MODEL_LOAD_WAIT_MS, "the model in service");

    // A button pressed before any alarm is selected: a hint, no verdict.
    helper.getNode("ex09.verdict").receive({ payload: "confirmed" });
    await waitFor(() => hint.length === 1, 5000, "the hint");

    helper.getNode("ex09.worn").receive({});
    await waitFor(() => table.length >= 1, 10_000, "the alarm in the table");
    const rows = table[table.length - 1].payload as Array<Record<string, unknown>>;
    assert.equal(rows[0].state, "raised");
    assert.match(String(rows[0]["driven by"]), /pump1\.vibration/);

    helper.getNode("ex09.select").receive({ payload: rows[0] }); // the table's click output
    helper.getNode("ex09.keepUser").receive({ payload: "ana" });
    helper.getNode("ex09.keepNote").receive({ payload: "bearing replaced last week" });
    helper.getNode("ex09.verdict").receive({ payload: "false_alarm" });
    await waitFor(() => kpiTable.length === 1, 10_000, "the KPI table");

    const verdict = events.map((e) => e.payload as { kind: string }).find((p) => p.kind === "verdict");
    assert.ok(validateVerdict(verdict), JSON.stringify(validateVerdict.errors));
    assert.deepEqual([verdict.alarmId, verdict.verdict, verdict.user, verdict.note], [rows[0].id, "false_alarm", "ana", "bearing replaced last week"]);
    const kpi = events.map((e) => e.payload as { kind: string }).find((p) => p.kind === "alarm-kpi");
    assert.ok(validateAlarmKpi(kpi), JSON.stringify(validateAlarmKpi.errors));
    assert.deepEqual(JSON.parse(JSON.stringify(kpiTable[0].payload)), [{ model: "pilot-pump", week: kpi.week, alarms: 1, judged: 1, precision: "0 %", "ack median": `${Math.round(kpi.ackMedianS as number)} s` }]);
    const stored = readVerdictFile(verdictFilePath(dir, "ex09.infer")).alarms;
    assert.deepEqual(stored.map((a) => [a.id, a.verdicts.map((v) => v.verdict)]), [[rows[0].id, ["false_alarm"]]]);
    const last = table[table.length - 1].payload as Array<Record<string, unknown>>;
    assert.equal(last[0].verdict, "false_alarm (ana)");
    assert.deepEqual(errors, []);
  });
});
