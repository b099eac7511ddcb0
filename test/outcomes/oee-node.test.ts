import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import otbLine = require("../../nodes/otb-line/otb-line");
import otbOee = require("../../nodes/otb-oee/otb-oee");
import { validateKpi, type Kpi, type Signal } from "../../nodes/shared";
import { helper, tab, withCoreNodes } from "../helpers/red";
import { waitFor } from "../helpers/peers";

const MIN = 60_000;
const T0 = Date.UTC(2026, 5, 10, 6, 0);
const LINE = {
  id: "line", type: "otb-line", enterprise: "acme", site: "plant1", area: "packaging", line: "line1", timeZone: "UTC",
  shifts: [{ name: "day", start: "06:00", end: "14:00", stops: [{ name: "break", start: "08:00", end: "08:15" }, { name: "meal", start: "10:00", end: "10:30" }, { name: "break2", start: "12:00", end: "12:15" }] }],
};

function sig(tag: string, value: Signal["value"], ts: number, quality: Signal["quality"] = "good"): Signal {
  return { tag, value, ts, quality, source: { protocol: "sim", address: tag } };
}

interface Seen { kpis: Kpi[]; rejected: Array<Record<string, unknown>>; caught: Array<Record<string, unknown>> }
interface TestNode { receive(msg: Record<string, unknown>): void; on(e: string, f: (m: never) => void): void }
const node = (id: string): TestNode => helper.getNode(id) as unknown as TestNode;

function flow(extra: Record<string, unknown> = {}): Array<Record<string, unknown>> {
  return tab([
    LINE,
    { id: "oee", type: "otb-oee", line: "line", stateFrom: "tag", stateTag: "line1.state", faultTag: "line1.fault", counting: "total-reject",
      totalTag: "line1.total", rejectTag: "line1.reject", energyTag: "meter.kwh", idealCycleSec: 1, microStopSec: 120, maxGapSec: 120,
      windowEverySec: 0, followClock: false, persist: false, wires: [["kpis"], ["rejected"]], ...extra },
    { id: "kpis", type: "helper" },
    { id: "rejected", type: "helper" },
    { id: "c", type: "catch", scope: ["oee"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper" },
  ]);
}

function collect(): Seen {
  const seen: Seen = { kpis: [], rejected: [], caught: [] };
  node("kpis").on("input", (m: { payload: Kpi }) => seen.kpis.push(m.payload));
  node("rejected").on("input", (m: Record<string, unknown>) => seen.rejected.push(m));
  node("caught").on("input", (m: Record<string, unknown>) => seen.caught.push(m));
  return seen;
}

/** The Vorne/OEE.com worked example as Signals: state every minute, a 47-min fault F12, counters. */
function vorneShift(send: (batch: Signal[]) => void): void {
  for (let m = 0; m <= 480; m++) {
    const ts = T0 + m * MIN;
    const fault = m >= 150 && m < 197;
    const batch = [sig("line1.state", "running", ts), sig("line1.fault", fault ? "F12" : 0, ts)];
    if (m === 0) batch.push(sig("line1.total", 0, ts), sig("line1.reject", 0, ts), sig("meter.kwh", 1000, ts));
    if (m === 479) batch.push(sig("line1.total", 19_271, ts), sig("line1.reject", 423, ts), sig("meter.kwh", 1942.4, ts));
    send(batch);
  }
  send([sig("line1.state", "running", T0 + 482 * MIN)]);
}

describe("otb-oee node", function () {
  this.timeout(120_000);
  let userDir = "";
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-oee-"));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    helper.settings({ userDir: undefined });
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it("publishes the shift KPI of the Vorne/OEE.com example when the shift ends, with waterfall, Pareto and energy per part", async () => {
    await helper.load(withCoreNodes([otbLine, otbOee]), flow());
    const seen = collect();
    vorneShift((payload) => node("oee").receive({ payload }));
    await waitFor(() => seen.kpis.some((k) => k.scope === "shift"), 30_000);
    const k = seen.kpis.find((x) => x.scope === "shift")!;
    assert.ok(validateKpi(k), "the KPI matches its schema");
    assert.equal(k.name, "oee");
    assert.equal(k.period.label, "2026-06-10/day");
    assert.equal(k.values.availability, 0.888095);
    assert.equal(k.values.performance, 0.861081);
    assert.equal(k.values.quality, 0.97805);
    assert.ok(Math.abs(k.values.oee! - 0.7479) < 0.00005);
    assert.equal(k.values.good, 18_848);
    assert.equal(k.values.energyPerGoodPartKWh, Number((942.4 / 18_848).toFixed(6)));
    const detail = k.detail as { downtime: Array<{ reason: string; ms: number }>; waterfall: Record<string, number> };
    assert.deepEqual(detail.downtime.map((d) => [d.reason, d.ms]), [["F12", 47 * MIN]]);
    assert.equal(detail.waterfall.plannedProduction, 420 * MIN);
    assert.equal(k.quality, "good");
    assert.deepEqual(k.context, { enterprise: "acme", site: "plant1", area: "packaging", line: "line1" });
    assert.equal(seen.caught.length, 0);
  });

  it("routes bad input to output 2 with reasons and to Catch, and keeps counting the good items", async () => {
    await helper.load(withCoreNodes([otbLine, otbOee]), flow());
    const seen = collect();
    node("oee").receive({ payload: [sig("line1.state", "running", T0), sig("line1.total", 0, T0)] });
    node("oee").receive({ payload: [
      sig("line1.total", 50, T0 + MIN),
      sig("line1.total", 60, T0 + MIN, "bad"),
      sig("line1.total", "lots", T0 + MIN),
      sig("line1.reject", -3, T0 + MIN),
      sig("line1.state", "dancing", T0 + MIN),
      { nonsense: true },
    ] });
    await waitFor(() => seen.rejected.length === 1 && seen.caught.length === 1, 30_000);
    const rejected = seen.rejected[0].rejected as Array<{ index: number; reason: string }>;
    assert.deepEqual(rejected.map((r) => [r.index, r.reason.split(":")[0]]), [
      [1, "bad_quality"], [2, "not_numeric"], [3, "negative_count"], [4, "unknown_state"], [5, "not a Signal (needs tag and a numeric ts)"],
    ]);
    assert.match(String((seen.caught[0].error as { message: string }).message), /5 item\(s\) not used for OEE/);
    node("oee").receive({ topic: "report", payload: T0 + 2 * MIN });
    await waitFor(() => seen.kpis.some((k) => k.scope === "demand"), 30_000);
    const shift = seen.kpis.find((k) => k.scope === "demand" && String(k.period.label).startsWith("shift"))!;
    assert.equal(shift.values.total, 50, "the good counter reading counted, the bad ones not");
  });

  it("takes an operator's downtime reason from a ContextEvent, and closes a month from its days", async () => {
    await helper.load(withCoreNodes([otbLine, otbOee]), flow({ microStopSec: 60 }));
    const seen = collect();
    const lastDay = Date.UTC(2026, 5, 30, 6, 0);
    for (let m = 0; m <= 30; m++) node("oee").receive({ payload: [sig("line1.state", m >= 10 && m < 20 ? "idle" : "running", lastDay + m * MIN)] });
    node("oee").receive({ payload: { kind: "context", ts: lastDay + 30 * MIN, context: { enterprise: "acme", site: "plant1", area: "packaging", line: "line1" }, changed: [], reason: "waiting for material" } });
    node("oee").receive({ topic: "report", payload: lastDay + 31 * MIN });
    await waitFor(() => seen.kpis.some((k) => k.scope === "demand"), 30_000);
    const shift = seen.kpis.find((k) => k.scope === "demand")!;
    assert.deepEqual((shift.detail as { downtime: Array<{ reason: string; ms: number }> }).downtime.map((d) => [d.reason, d.ms]), [["waiting for material", 10 * MIN]]);
    // 1 July: the day of 30 June closes, and with the first day of July June's month closes too.
    node("oee").receive({ payload: [sig("line1.state", "running", Date.UTC(2026, 6, 1, 6, 0))] });
    node("oee").receive({ payload: [sig("line1.state", "running", Date.UTC(2026, 6, 2, 6, 0))] });
    await waitFor(() => seen.kpis.some((k) => k.scope === "month"), 30_000);
    const month = seen.kpis.find((k) => k.scope === "month")!;
    assert.equal(month.period.label, "2026-06");
    assert.ok(validateKpi(month));
  });

  it("scales an energy register in Wh to kWh per good part", async () => {
    await helper.load(withCoreNodes([otbLine, otbOee]), flow({ energyUnit: "Wh" }));
    const seen = collect();
    node("oee").receive({ payload: [sig("line1.state", "running", T0), sig("line1.total", 0, T0), sig("line1.reject", 0, T0), sig("meter.kwh", 5_000_000, T0)] });
    node("oee").receive({ payload: [sig("line1.state", "running", T0 + MIN), sig("line1.total", 60, T0 + MIN), sig("meter.kwh", 5_003_000, T0 + MIN)] });
    node("oee").receive({ topic: "report", payload: T0 + MIN });
    await waitFor(() => seen.kpis.some((k) => k.scope === "demand"), 30_000);
    const k = seen.kpis.find((x) => x.scope === "demand")!;
    assert.equal(k.values.energyKWh, 3);
    assert.equal(k.values.energyPerGoodPartKWh, 0.05);
  });

  it("refuses Signals stamped far in the future when time follows the system clock", async () => {
    await helper.load(withCoreNodes([otbLine, otbOee]), flow({ followClock: true }));
    const seen = collect();
    node("oee").receive({ payload: [sig("line1.state", "running", Date.now()), sig("line1.total", 5, Date.now() + 86_400_000)] });
    await waitFor(() => seen.rejected.length === 1, 30_000);
    const r = seen.rejected[0].rejected as Array<{ index: number; reason: string }>;
    assert.deepEqual(r.map((x) => x.index), [1]);
    assert.match(r[0].reason, /^future_timestamp/);
  });

  it("starts fresh on an unreadable saved state and says so once in Catch", async () => {
    fs.mkdirSync(path.join(userDir, "otbridge", "oee"), { recursive: true });
    fs.writeFileSync(path.join(userDir, "otbridge", "oee", "oee.json"), "{not json");
    await helper.load(withCoreNodes([otbLine, otbOee]), flow({ persist: true }));
    const seen = collect();
    await waitFor(() => seen.caught.length >= 1, 30_000);
    assert.match(String((seen.caught[0]!.error as { message: string }).message), /saved OEE state .*oee\.json is unreadable, starting fresh/);
    node("oee").receive({ payload: [sig("line1.state", "running", T0), sig("line1.total", 0, T0), sig("line1.reject", 0, T0)] });
    node("oee").receive({ topic: "report", payload: T0 + MIN });
    await waitFor(() => seen.kpis.some((k) => k.scope === "demand"), 30_000);
    assert.equal(seen.caught.length, 1, "one report, and the node runs");
  });

  it("refuses to keep its state without a userDir, saying how to fix it", async () => {
    helper.settings({ userDir: undefined });
    await helper.load(withCoreNodes([otbLine, otbOee]), flow({ persist: true }));
    const seen = collect();
    await waitFor(() => seen.caught.length >= 1, 30_000);
    assert.match(String((seen.caught[0]!.error as { message: string }).message), /no userDir, so otb-oee's saved state \(persist\) has nowhere durable to live: set userDir/);
  });

  it("keeps its state across a restart: parts counted while Node-RED was down are not lost", async () => {
    await helper.load(withCoreNodes([otbLine, otbOee]), flow({ persist: true }));
    node("oee").receive({ payload: [sig("line1.state", "running", T0), sig("line1.total", 0, T0), sig("line1.reject", 0, T0)] });
    node("oee").receive({ payload: [sig("line1.state", "running", T0 + MIN), sig("line1.total", 60, T0 + MIN)] });
    await helper.unload();
    assert.ok(fs.existsSync(path.join(userDir, "otbridge", "oee", "oee.json")), "state written on close");
    await helper.load(withCoreNodes([otbLine, otbOee]), flow({ persist: true }));
    const seen = collect();
    node("oee").receive({ payload: [sig("line1.state", "running", T0 + 11 * MIN), sig("line1.total", 660, T0 + 11 * MIN)] });
    node("oee").receive({ topic: "report", payload: T0 + 11 * MIN });
    await waitFor(() => seen.kpis.some((k) => k.scope === "demand"), 30_000);
    const shift = seen.kpis.find((k) => k.scope === "demand" && String(k.period.label).startsWith("shift"))!;
    assert.equal(shift.values.total, 660);
    assert.equal(shift.values.missingMs, 8 * MIN, "10 min down minus the 2-min allowance is missing, not guessed");
    assert.equal(shift.quality, "uncertain");
  });

  it("publishes value created against the business case with the arithmetic", async () => {
    const bc = {
      line: "line1", currency: "EUR",
      baseline: { measuredAt: "2026-05-04", oee: 0.62, energyPerPartKWh: 0.06, scrapRate: 0.03 },
      unitValues: { marginPerGoodPart: 0.4, costPerKWh: 0.2, costPerScrapPart: 0.25 },
      expected: { valuePerMonth: 20_000 },
    };
    fs.writeFileSync(path.join(userDir, "bc.json"), JSON.stringify(bc));
    await helper.load(withCoreNodes([otbLine, otbOee]), flow({ businessCaseFile: "bc.json" }));
    const seen = collect();
    vorneShift((payload) => node("oee").receive({ payload }));
    await waitFor(() => seen.kpis.some((k) => k.name === "value" && k.scope === "shift"), 30_000);
    const v = seen.kpis.find((k) => k.name === "value" && k.scope === "shift")!;
    assert.ok(validateKpi(v));
    const oee = 0.888095 * 0.861081 * 0.97805;
    const extra = 18_848 - (18_848 * 0.62) / oee;
    assert.ok(Math.abs(v.values.throughput! - extra * 0.4) < 0.05, `throughput ${v.values.throughput} vs ${extra * 0.4}`);
    const scrap = (0.03 - 423 / 19_271) * 19_271 * 0.25;
    assert.equal(v.values.scrap, Math.round(scrap * 100) / 100);
    const terms = (v.detail as { terms: Array<{ term: string; arithmetic: string }> }).terms;
    assert.match(terms.find((t) => t.term === "throughput")!.arithmetic, /^good 18848 - good at baseline OEE \(18848 x 0.62 \/ 0.7479/);
    assert.equal(v.units!.valueCreated, "EUR");
  });

  it("refuses a business case that does not match the schema, naming the field", async () => {
    fs.writeFileSync(path.join(userDir, "bc.json"), JSON.stringify({ line: "line1", currency: "euro", baseline: { measuredAt: "x", oee: 2 }, unitValues: {}, expected: {} }));
    await helper.load(withCoreNodes([otbLine, otbOee]), flow({ businessCaseFile: "bc.json" }));
    const seen = collect();
    await waitFor(() => seen.caught.length >= 1, 30_000);
    assert.match(String((seen.caught[0]!.error as { message: string }).message), /business case: .*currency/, "reported once the flow has started");
    assert.match(String((helper.getNode("oee") as unknown as { status: { lastCall: { args: Array<{ text: string }> } } }).status.lastCall.args[0]!.text), /^config: /);
    const batch = [sig("line1.state", "running", T0)];
    node("oee").receive({ payload: batch });
    // A node that cannot run hands each message to Catch and to its reject output, with the reason.
    await waitFor(() => seen.caught.length >= 2 && seen.rejected.length >= 1, 30_000);
    assert.deepEqual(seen.caught[1]!.payload, batch);
    assert.match(String((seen.caught[1]!.error as { message: string }).message), /business case: .*currency/);
    assert.match(JSON.stringify(seen.rejected[0]), /otb-oee is not configured: .*business case/);
    assert.deepEqual([seen.caught.length, seen.rejected.length, seen.kpis.length], [2, 1, 0]);
  });
});
