import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import otbLine = require("../../nodes/otb-line/otb-line");
import otbSpc = require("../../nodes/otb-spc/otb-spc");
import { validateKpi, type Kpi, type Signal } from "../../nodes/shared";
import { helper, tab, withCoreNodes } from "../helpers/red";
import { waitFor } from "../helpers/peers";
import { Rng } from "../quality/streams";

const T0 = Date.UTC(2026, 5, 10, 6, 0);
const LINE = { id: "line", type: "otb-line", enterprise: "acme", site: "plant1", area: "packaging", line: "line1", timeZone: "UTC", shifts: [] };

function sig(tag: string, value: Signal["value"], ts: number, quality: Signal["quality"] = "good"): Signal {
  return { tag, value, ts, quality, source: { protocol: "sim", address: tag } };
}
interface TestNode { receive(msg: Record<string, unknown>): void; on(e: string, f: (m: never) => void): void }
const node = (id: string): TestNode => helper.getNode(id) as unknown as TestNode;
interface Seen { kpis: Kpi[]; events: Array<Record<string, unknown>>; rejected: Array<Record<string, unknown>>; caught: Array<Record<string, unknown>> }

function flow(extra: Record<string, unknown> = {}): Array<Record<string, unknown>> {
  return tab([
    LINE,
    { id: "spc", type: "otb-spc", line: "line", source: "form", tag: "filler.volume", chart: "imr", baselinePoints: 25,
      rules: "nelson1,nelson2", lsl: 495, usl: 505, target: 500, capabilityEvery: 0, persist: false, wires: [["kpis"], ["events"], ["rejected"]], ...extra },
    { id: "kpis", type: "helper" },
    { id: "events", type: "helper" },
    { id: "rejected", type: "helper" },
    { id: "c", type: "catch", scope: ["spc"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper" },
  ]);
}
function collect(): Seen {
  const seen: Seen = { kpis: [], events: [], rejected: [], caught: [] };
  node("kpis").on("input", (m: { payload: Kpi }) => seen.kpis.push(m.payload));
  node("events").on("input", (m: { payload: Record<string, unknown> }) => seen.events.push(m.payload));
  node("rejected").on("input", (m: Record<string, unknown>) => seen.rejected.push(m));
  node("caught").on("input", (m: Record<string, unknown>) => seen.caught.push(m));
  return seen;
}

describe("otb-spc node", function () {
  this.timeout(120_000);
  let userDir = "";
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-spc-"));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    helper.settings({ userDir: undefined });
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it("phase I excludes and reports an outlier, then raises and clears rules on a mean shift", async () => {
    await helper.load(withCoreNodes([otbLine, otbSpc]), flow());
    const seen = collect();
    // In-control common-cause variation (a deterministic pattern, so the test cannot flake).
    const base = Array.from({ length: 25 }, (_, i) => 500 + 0.3 * Math.sin(i * 2.1));
    base[12] = 509; // a gross outlier in the baseline
    base.forEach((v, i) => node("spc").receive({ payload: sig("filler.volume", v, T0 + i * 1000) }));
    await waitFor(() => seen.kpis.some((k) => k.scope === "baseline"), 30_000);
    const b = seen.kpis.find((k) => k.scope === "baseline")!;
    assert.ok(validateKpi(b));
    const excluded = (b.detail as { excluded: Array<{ index: number; reason: string }> }).excluded;
    assert.deepEqual(excluded.map((e) => e.index), [12], "the outlier, and only it, was excluded and reported");
    assert.ok(Math.abs(b.values.center! - 500) < 0.3, `centre ${b.values.center} from the clean points`);
    // Monitor: 5 in control, then 9 shifted by +1.2 sigma (rule 2 fires at the 9th), then a 3-sigma jump and back.
    const sigma = b.values.sigma!;
    const center = b.values.center!;
    const later = [...Array(5).fill(center), ...Array(9).fill(center + 1.2 * sigma), center - 0.5 * sigma, center + 4 * sigma, center];
    later.forEach((v, i) => node("spc").receive({ payload: [sig("filler.volume", v, T0 + (100 + i) * 1000)] }));
    await waitFor(() => seen.kpis.filter((k) => k.scope === "point").length >= 24 + later.length, 30_000);
    const rules = seen.events.filter((e) => e.rule !== "dispersion").map((e) => `${e.state}:${e.rule}`);
    assert.deepEqual(rules, ["raised:nelson2", "cleared:nelson2", "raised:nelson1", "cleared:nelson1"]);
    assert.ok(seen.events.some((e) => e.rule === "dispersion" && e.state === "raised"), "the 4-sigma jump also breaks the moving-range limit");
    const points = seen.kpis.filter((k) => k.scope === "point" && (k.detail as { phase: string }).phase === "monitor");
    assert.equal(points.length, later.length, "one point per measurement");
    assert.deepEqual((points[13].detail as { violations: string[] }).violations, ["nelson2"]);
    assert.ok(points.every((p) => validateKpi(p)));
    assert.equal(seen.caught.length, 0);
  });

  it("routes unusable measurements to output 3 and Catch, and never plots them", async () => {
    await helper.load(withCoreNodes([otbLine, otbSpc]), flow({ chart: "p", n: 50 }));
    const seen = collect();
    node("spc").receive({ payload: [
      sig("filler.volume", 3, T0), sig("filler.volume", "abc", T0 + 1), sig("filler.volume", 2, T0 + 2, "bad"),
      sig("filler.volume", -1, T0 + 3), sig("filler.volume", 51, T0 + 4), sig("other.tag", 1, T0 + 5),
    ] });
    await waitFor(() => seen.rejected.length === 1 && seen.caught.length === 1, 30_000);
    const r = seen.rejected[0].rejected as Array<{ index: number; reason: string }>;
    assert.deepEqual(r.map((x) => x.index), [1, 2, 3, 4]);
    assert.match(r[0].reason, /^not_numeric/);
    assert.match(r[1].reason, /^bad_quality/);
    assert.match(r[2].reason, /non-negative/);
    assert.match(r[3].reason, /exceeds the sample size/);
    assert.equal(seen.kpis.filter((k) => k.scope === "point").length, 1, "only the good sample is plotted");
  });

  it("uses fixed limits from a catalog file and reports capability with its caveats", async () => {
    const catalog = { characteristics: [{ tag: "filler.volume", name: "fill volume", chart: "xbar-r", n: 5, rules: ["nelson1"],
      spec: { lsl: 497, usl: 503, target: 500 }, limits: { center: 500, sigma: 0.5, dispersion: 1.163 } }] };
    fs.writeFileSync(path.join(userDir, "spc.json"), JSON.stringify(catalog));
    await helper.load(withCoreNodes([otbLine, otbSpc]), flow({ source: "file", catalogFile: "spc.json" }));
    const seen = collect();
    const rng = new Rng(3);
    for (let i = 0; i < 100; i++) node("spc").receive({ payload: sig("filler.volume", 500 + 0.5 * rng.gauss(), T0 + i * 1000) });
    await waitFor(() => seen.kpis.filter((k) => k.scope === "point").length === 20, 30_000);
    const p = seen.kpis.find((k) => k.scope === "point")!;
    assert.ok(Math.abs(p.values.ucl! - (500 + 3 * 0.5 / Math.sqrt(5))) < 1e-6, "UCL = centre + 3 sigma / sqrt(n)");
    assert.ok(Math.abs(p.values.dispersionUcl! - 2.114 * 1.163) < 0.01, "R chart UCL = D4 R-bar");
    assert.equal(seen.kpis.filter((k) => k.scope === "baseline").length, 0, "no phase I with fixed limits");
    node("spc").receive({ topic: "capability" });
    await waitFor(() => seen.kpis.some((k) => k.name === "capability"), 30_000);
    const cap = seen.kpis.find((k) => k.name === "capability")!;
    assert.ok(validateKpi(cap));
    assert.equal(cap.values.n, 100);
    assert.ok(Math.abs(cap.values.cp! - 6 / (6 * 0.5)) < 1e-9, "Cp uses the within sigma of the fixed limits");
    assert.ok(cap.values.ppk! > 1.5 && cap.values.ppk! < 2.5);
    assert.ok((cap.detail as { caveats: string[] }).caveats.length >= 1);
  });

  it("refuses a catalog with an unknown rule, naming it, and charts nothing", async () => {
    fs.writeFileSync(path.join(userDir, "spc.json"), JSON.stringify({ characteristics: [{ tag: "x", chart: "imr", rules: ["nelson9"] }] }));
    await helper.load(withCoreNodes([otbLine, otbSpc]), flow({ source: "file", catalogFile: "spc.json" }));
    const seen = collect();
    await waitFor(() => seen.caught.length >= 1, 30_000);
    assert.match(String((seen.caught[0]!.error as { message: string }).message), /rule "nelson9"/, "reported once the flow has started");
    const item = sig("x", 1, T0);
    node("spc").receive({ payload: item });
    // A node that cannot run hands each message to Catch and to its reject output, with the reason.
    await waitFor(() => seen.caught.length >= 2 && seen.rejected.length >= 1, 30_000);
    assert.deepEqual(seen.caught[1]!.payload, item);
    assert.match(String((seen.caught[1]!.error as { message: string }).message), /rule "nelson9"/);
    assert.match(JSON.stringify(seen.rejected[0]), /otb-spc is not configured: .*nelson9/);
    assert.deepEqual([seen.caught.length, seen.rejected.length, seen.kpis.length], [2, 1, 0]);
  });

  it("keeps its limits across a restart", async () => {
    await helper.load(withCoreNodes([otbLine, otbSpc]), flow({ persist: true, baselinePoints: 10 }));
    for (let i = 0; i < 10; i++) node("spc").receive({ payload: sig("filler.volume", 500 + (i % 2 ? 0.3 : -0.3), T0 + i * 1000) });
    await helper.unload();
    await helper.load(withCoreNodes([otbLine, otbSpc]), flow({ persist: true, baselinePoints: 10 }));
    const seen = collect();
    node("spc").receive({ payload: sig("filler.volume", 500, T0 + 20_000) });
    await waitFor(() => seen.kpis.length === 1, 30_000);
    assert.equal((seen.kpis[0].detail as { phase: string }).phase, "monitor", "no new baseline after the restart");
    assert.equal(seen.kpis[0].values.center, 500);
  });

  it("publishes its rule events as alarms through otb-publish, each under _alarms/spc-<characteristic>", async () => {
    await helper.load(withCoreNodes([otbLine, otbSpc]), flow());
    const seen = collect();
    const base = Array.from({ length: 25 }, (_, i) => 500 + 0.3 * Math.sin(i * 2.1));
    base.forEach((v, i) => node("spc").receive({ payload: sig("filler.volume", v, T0 + i * 1000) }));
    await waitFor(() => seen.kpis.some((k) => k.scope === "baseline"), 30_000);
    const b = seen.kpis.find((k) => k.scope === "baseline")!;
    const jump = [b.values.center!, b.values.center! + 4 * b.values.sigma!, b.values.center!];
    jump.forEach((v, i) => node("spc").receive({ payload: [sig("filler.volume", v, T0 + (100 + i) * 1000)] }));
    await waitFor(() => seen.events.some((e) => e.state === "cleared"), 30_000);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Publisher } = require("../../nodes/otb-publish/publish-logic");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { TopicPolicy } = require("../../nodes/otb-conduit/topic-policy");
    const publisher = new Publisher({ topicMode: "uns", template: "", rbe: true, deadband: 0, sparkplugTopic: null }, new TopicPolicy(["acme/#"], new Set(["alarms"]), 65_536));
    const context = { enterprise: "acme", site: "plant1", area: "packaging", line: "line1" };
    for (const e of seen.events) {
      const out = publisher.prepare({ ...e, context }, { line: null });
      assert.deepEqual(out.refused, [], JSON.stringify(e));
      assert.equal(out.records[0].topic, "acme/plant1/packaging/line1/_alarms/spc-filler.volume");
      assert.equal(out.records[0].kind, 4);
    }
    const { rule: _rule, ...noRule } = seen.events[0];
    const bad = publisher.prepare({ ...noRule, context }, { line: null });
    assert.equal(bad.records.length, 0);
    assert.match(JSON.stringify(bad.refused), /rule/);
  });
});
