import { strict as assert } from "assert";
import { ShiftCalendar, type ShiftDef } from "../../nodes/shared/shift-calendar";
import { OeeEngine, type OeeOptions } from "../../nodes/shared/outcomes/oee";
import { figures, sixBigLosses, sumTallies, waterfall, type Tally } from "../../nodes/shared/outcomes/tally";
import { oeeKpi, rollupKpis } from "../../nodes/shared/outcomes/kpi";
import { validateKpi } from "../../nodes/shared/schemas";

const MIN = 60_000;
const close = (a: number | null, b: number, tol: number, what: string): void =>
  assert.ok(a !== null && Math.abs(a - b) <= tol, `${what}: ${a} is not ${b} (+-${tol})`);

/** The Vorne/OEE.com calculation worksheet's shift: 8 h, two 15-min breaks and a 30-min meal. */
const VORNE_SHIFT = {
  name: "day", start: "06:00", end: "14:00",
  stops: [{ name: "break", start: "08:00", end: "08:15" }, { name: "meal", start: "10:00", end: "10:30" }, { name: "break2", start: "12:00", end: "12:15" }],
};
const T0 = Date.UTC(2026, 5, 10, 6, 0); // 06:00 UTC

function engine(extra: Partial<OeeOptions> = {}, shifts: ShiftDef[] = [VORNE_SHIFT], tz = "UTC"): OeeEngine {
  return new OeeEngine({ calendar: new ShiftCalendar(tz, shifts), idealCycleSec: 1, microStopSec: 120, maxGapSec: 120, ...extra });
}

/** Drives one line: running all the time except `stops`, a state Signal every minute. */
function runShift(e: OeeEngine, from: number, minutes: number, stops: Array<{ at: number; min: number; mode?: "fault" | "idle" | "changeover"; reason?: string }>): void {
  for (let m = 0; m <= minutes; m++) {
    const ts = from + m * MIN;
    const stop = stops.find((s) => m >= s.at && m < s.at + s.min);
    e.setMode(ts, stop ? stop.mode ?? "fault" : "running", stop?.reason);
  }
}

describe("OEE engine", () => {
  it("reproduces the Vorne/OEE.com worked example: A 88.81%, P 86.11%, Q 97.80%, OEE 74.79%", () => {
    // oee.com "OEE Calculation" worksheet: shift 480 min, breaks 2 x 15 + meal 30, downtime 47 min,
    // ideal run rate 60 parts/min, total 19,271, rejects 423.
    const e = engine();
    e.count(T0, "total", 0);
    e.count(T0, "reject", 0);
    runShift(e, T0, 480, [{ at: 150, min: 47, reason: "F12 jam" }]);
    e.count(T0 + 479 * MIN, "total", 19_271);
    e.count(T0 + 479 * MIN, "reject", 423);
    e.advance(T0 + 481 * MIN);
    const closed = e.drain().filter((p) => p.scope === "shift");
    assert.equal(closed.length, 1, "the shift closed once at 14:00");
    const t = closed[0].tally;
    const f = figures(t);
    assert.equal(t.allMs, 480 * MIN);
    assert.equal(t.plannedStopMs, 60 * MIN);
    assert.equal(f.plannedProductionMs, 420 * MIN);
    assert.equal(t.downMs, 47 * MIN);
    assert.equal(f.operatingMs, 373 * MIN);
    assert.equal(t.good, 18_848);
    close(f.availability, 0.8881, 0.00005, "availability");
    close(f.performance, 0.8611, 0.00005, "performance");
    close(f.quality, 0.978, 0.00005, "quality");
    close(f.oee, 0.7479, 0.00005, "OEE");
    assert.deepEqual(t.downtime["F12 jam"], { ms: 47 * MIN, stops: 1 });
    assert.deepEqual(t.plannedStops, { break: 15 * MIN, meal: 30 * MIN, break2: 15 * MIN });
    const w = waterfall(t);
    assert.equal(w.allTime - w.unscheduled - w.plannedStops - w.missingData - w.availabilityLoss - w.performanceLoss - w.qualityLoss, w.fullyProductive, "the waterfall adds up");
    close(w.fullyProductive / w.plannedProduction, 0.7479, 0.00005, "OEE = fully productive / planned");
  });

  it("splits stops into minor stops (performance) and downtime (availability) by duration, with reasons", () => {
    const e = engine({ microStopSec: 300 });
    e.count(T0, "total", 0);
    runShift(e, T0, 120, [{ at: 10, min: 2, mode: "idle", reason: "starved" }, { at: 30, min: 20, reason: "F7" }, { at: 70, min: 15, mode: "changeover" }]);
    const t = e.current().shift!.tally;
    assert.equal(t.smallStopMs, 2 * MIN);
    assert.equal(t.smallStops, 1);
    assert.equal(t.downMs, 20 * MIN);
    assert.equal(t.setupMs, 15 * MIN);
    assert.deepEqual(Object.keys(t.downtime).sort(), ["F7", "changeover", "micro-stops"]);
    assert.deepEqual(t.downtime.changeover, { ms: 15 * MIN, stops: 1 });
    const losses = sixBigLosses(t);
    assert.equal(losses.breakdownsMs, 20 * MIN);
    assert.equal(losses.setupAdjustmentsMs, 15 * MIN);
    assert.equal(losses.minorStopsMs, 2 * MIN);
  });

  it("moves a stop's time to the reason an operator enters, during or just after the stop", () => {
    const e = engine({ microStopSec: 60 });
    runShift(e, T0, 20, [{ at: 5, min: 10, reason: "fault" }]);
    assert.equal(e.setReason(T0 + 20 * MIN, "material shortage"), true);
    const t = e.current().shift!.tally;
    assert.deepEqual(t.downtime["material shortage"], { ms: 10 * MIN, stops: 1 });
    assert.equal(t.downtime.fault, undefined);
    const w = e.current().window;
    assert.deepEqual(w.downtime["material shortage"], { ms: 10 * MIN, stops: 1 }, "the rolling window (minute slots) counts the stop once");
  });

  it("counts across a counter rollover and a counter reset, and says so", () => {
    const e = engine({ counterMax: 65_535 });
    e.setMode(T0, "running");
    e.count(T0, "total", 65_000);
    e.count(T0 + MIN, "total", 65_535);
    e.count(T0 + 2 * MIN, "total", 100); // wrapped: 65,535 -> 0 -> 100
    e.count(T0 + 3 * MIN, "total", 40_000);
    e.count(T0 + 4 * MIN, "total", 30); // PLC restarted its counter
    const t = e.current().shift!.tally;
    assert.equal(t.total, 535 + 101 + 39_900 + 30);
    assert.deepEqual(t.counterEvents, { rollover: 1, reset: 1 });
  });

  it("refuses negative and non-numeric counter readings without changing the counts", () => {
    const e = engine();
    e.setMode(T0, "running");
    e.count(T0, "total", 10);
    e.count(T0 + 1000, "total", 20);
    assert.throws(() => e.count(T0 + 2000, "total", -5), /negative/);
    assert.throws(() => e.count(T0 + 3000, "total", Number.NaN), /finite/);
    e.count(T0 + 4000, "total", 25);
    assert.equal(e.current().shift!.tally.total, 15);
  });

  it("survives a restart: state persisted as JSON, the outage marked missing, parts made meanwhile counted", () => {
    const a = engine();
    a.count(T0, "total", 0);
    runShift(a, T0, 60, []);
    a.count(T0 + 60 * MIN, "total", 3600);
    const saved = JSON.parse(JSON.stringify(a.snapshot()));
    const b = engine();
    b.restore(saved);
    // Node-RED was down 30 min; the line kept running and counting.
    b.count(T0 + 90 * MIN, "total", 5400);
    runShift(b, T0 + 90 * MIN, 30, []);
    const t = b.current().shift!.tally;
    assert.equal(t.total, 5400, "no part lost across the restart");
    assert.equal(t.missingMs, 28 * MIN, "30 min without data minus the 2-min gap allowance is missing");
    assert.equal(t.gaps, 1);
    assert.equal(t.runMs, 62 * MIN + 30 * MIN);
    // 1,800 parts since the last reading, 28 of its 30 min missing: 1,680 made in the outage.
    assert.equal(t.gapParts, 1680, "the state file carried each counter's last reading across the restart");
    const f = figures(t);
    close(f.availability, 1, 1e-12, "availability over the known time");
  });

  it("parts made during a data gap are in the counts and quality but not in performance, which stays at 100 %", () => {
    // Ideal cycle 1 s and the line makes one part a second throughout; the counter and the state
    // are read every minute, except for 30 min (06:30-07:00) when nothing arrives at all.
    const e = engine();
    e.count(T0, "reject", 0);
    for (const m of [...Array.from({ length: 31 }, (_, i) => i), ...Array.from({ length: 31 }, (_, i) => 60 + i)]) {
      const ts = T0 + m * MIN;
      e.setMode(ts, "running");
      e.count(ts, "total", m * 60);
    }
    e.count(T0 + 90 * MIN, "reject", 90);
    const t = e.current().shift!.tally;
    const f = figures(t);
    assert.equal(t.total, 5400, "every part counted");
    assert.equal(t.missingMs, 28 * MIN, "30 min without data minus the 2-min allowance");
    assert.equal(f.operatingMs, 62 * MIN);
    // The reading at 07:00 carries 1,800 parts over 30 min, 28 of them missing: 1,680 gap parts.
    assert.equal(t.gapParts, 1680);
    close(f.performance, 1, 1e-12, "performance over the known operating time (1.45 when gap parts were credited)");
    close(f.quality, 5310 / 5400, 1e-12, "quality over every part, gap parts included");
    const kpi = oeeKpi("shift", "day", t, T0 + 90 * MIN);
    assert.ok(validateKpi(kpi), JSON.stringify(validateKpi.errors));
    assert.ok(kpi.reasons?.some((r) => r.startsWith("gap_parts: 1680 part(s)")), JSON.stringify(kpi.reasons));
    assert.ok(!kpi.reasons?.some((r) => r.startsWith("performance_over_100")), JSON.stringify(kpi.reasons));
    const w = waterfall(t);
    assert.equal(w.allTime - w.unscheduled - w.plannedStops - w.missingData - w.availabilityLoss - w.performanceLoss - w.qualityLoss, w.fullyProductive, "the waterfall adds up");
    assert.ok(w.performanceLoss >= 0 && w.qualityLoss >= 0, JSON.stringify(w));
  });

  it("marks time without data as missing and keeps it out of availability", () => {
    const e = engine();
    runShift(e, T0, 10, []);
    e.advance(T0 + 40 * MIN); // timer: no data for 30 min
    const t = e.current().shift!.tally;
    assert.equal(t.runMs, 12 * MIN);
    assert.equal(t.missingMs, 28 * MIN);
    assert.equal(figures(t).knownPlannedMs, 12 * MIN);
  });

  for (const [label, nightStartUtc, hours] of [
    ["spring-forward 2026-03-29", Date.UTC(2026, 2, 28, 21), 7],
    ["fall-back 2026-10-25", Date.UTC(2026, 9, 24, 20), 9],
  ] as const) {
    it(`DST ${label}: the 22:00-06:00 night shift in Europe/Berlin has ${hours} h of planned time`, () => {
      const shifts = [{ name: "night", start: "22:00", end: "06:00", stops: [{ name: "meal", start: "01:00", end: "01:30" }] }];
      const e = engine({ maxGapSec: 600 }, shifts, "Europe/Berlin");
      for (let m = -60; m <= (hours + 1) * 60; m += 5) e.setMode(nightStartUtc + m * MIN, "running");
      const night = e.drain().filter((p) => p.scope === "shift");
      assert.equal(night.length, 1);
      assert.equal(night[0].tally.allMs, hours * 3600_000);
      assert.equal(night[0].tally.plannedStopMs, 30 * MIN);
      assert.equal(figures(night[0].tally).plannedProductionMs, hours * 3600_000 - 30 * MIN);
    });
  }

  it("rolls lines up by adding times and counts, not by averaging OEEs", () => {
    const plain = [{ name: "day", start: "06:00", end: "14:00" }];
    const a = engine({}, plain);
    a.count(T0, "total", 0);
    runShift(a, T0, 60, []);
    a.count(T0 + 60 * MIN, "total", 3600); // 100% performance, 60 min
    const b = engine({ idealCycleSec: 2 }, plain);
    b.count(T0, "total", 0);
    runShift(b, T0, 180, [{ at: 0, min: 135, reason: "F1" }]);
    b.count(T0 + 180 * MIN, "total", 1350); // 45 min running at the ideal rate of 2 s
    const ta: Tally = a.current().shift!.tally;
    const tb: Tally = b.current().shift!.tally;
    const oa = figures(ta).oee!;
    const ob = figures(tb).oee!;
    const sum = figures(sumTallies([ta, tb]));
    close(oa, 1, 1e-9, "line A");
    close(ob, 0.25, 1e-3, "line B");
    // Fully productive 60 + 45 min over 60 + 180 min planned = 43.75%; the average of the two OEEs
    // (62.5%) would overstate the area because line B had three times the planned time.
    close(sum.oee, (60 + 45) / 240, 1e-9, "area OEE from sums");
    assert.ok(Math.abs(sum.oee! - (oa + ob) / 2) > 0.1);
    const area = rollupKpis([oeeKpi("shift", "A", ta, 1), oeeKpi("shift", "B", tb, 1)], "shift", "area", 2);
    assert.ok(validateKpi(area));
    close(area.values.oee, 0.4375, 1e-6, "rollupKpis on KPI messages");
    assert.throws(() => rollupKpis([{ ...area, detail: {} }], "shift", "x", 3), /detail.tally/);
  });

  it("energy per good part by product and shift, across an energy register rollover and a meter reset", () => {
    const e = engine({ energyWrap: 100_000 }, [{ name: "day", start: "06:00", end: "14:00" }]);
    e.setProduct(T0, "P-100");
    e.count(T0, "total", 0);
    e.count(T0, "reject", 0);
    e.count(T0, "energy", 99_990);
    runShift(e, T0, 30, []);
    e.count(T0 + 30 * MIN, "total", 1000);
    e.count(T0 + 30 * MIN, "reject", 50);
    e.count(T0 + 30 * MIN, "energy", 9.9); // the register wraps at 100,000: 10 + 9.9 kWh
    e.setProduct(T0 + 30 * MIN, "P-200");
    runShift(e, T0 + 30 * MIN, 30, []);
    e.count(T0 + 60 * MIN, "total", 1600);
    e.count(T0 + 60 * MIN, "energy", 3); // meter replaced: counts from 0 again, 3 kWh since
    const t = e.current().shift!.tally;
    const p1 = t.products["P-100"];
    const p2 = t.products["P-200"];
    assert.equal(p1.good, 950);
    close(p1.energyKWh, 19.9, 1e-9, "P-100 energy across the rollover");
    assert.equal(p2.good, 600);
    close(p2.energyKWh, 3, 1e-9, "P-200 energy after the reset");
    close(figures(t).energyPerGoodPartKWh, 22.9 / 1550, 1e-12, "shift energy per good part");
    assert.deepEqual(t.counterEvents, { rollover: 1, reset: 1 });
  });

  it("per-product ideal cycle times weight performance by what was made", () => {
    const e = engine({ idealCycleSec: 1, idealCycleByProduct: { slow: 2 } }, [{ name: "day", start: "06:00", end: "14:00" }]);
    e.count(T0, "total", 0);
    e.setProduct(T0, "slow");
    runShift(e, T0, 60, []);
    e.count(T0 + 60 * MIN, "total", 1800); // 1800 x 2 s = 60 min: 100%
    const f = figures(e.current().shift!.tally);
    close(f.performance, 1, 1e-9, "performance with the product's own ideal cycle");
  });

  it("after more than a week without data, closes the open periods and restarts accounting instead of filling weeks", () => {
    const e = engine();
    e.count(T0, "total", 0);
    runShift(e, T0, 10, []);
    e.setMode(T0 + 30 * 86_400_000, "running");
    const closed = e.drain();
    assert.deepEqual(closed.map((p) => p.scope), ["shift", "day"]);
    assert.equal(closed[0].tally.allMs, 10 * MIN, "the old shift ends as it was");
    e.setMode(T0 + 30 * 86_400_000 + MIN, "running");
    assert.equal(e.current().shift!.tally.runMs, MIN);
  });

  it("a line without a shift calendar plans all time (24/7), reported per local day", () => {
    const e = engine({}, []);
    e.count(T0, "total", 0);
    runShift(e, T0, 60, []);
    e.count(T0 + 60 * MIN, "total", 3600);
    const day = e.current().day!.tally;
    assert.equal(e.current().shift, null);
    assert.equal(figures(day).plannedProductionMs, 60 * MIN);
    close(figures(day).oee, 1, 1e-9, "OEE");
  });

  it("counts rejects within the startup time after a changeover as startup rejects", () => {
    const e = engine({ startupSec: 300 }, [{ name: "day", start: "06:00", end: "14:00" }]);
    e.count(T0, "total", 0);
    e.count(T0, "reject", 0);
    runShift(e, T0, 40, [{ at: 0, min: 10, mode: "changeover" }]);
    e.count(T0 + 12 * MIN, "reject", 4); // 2 min after the restart: startup
    e.count(T0 + 30 * MIN, "reject", 6); // 20 min after: production
    const t = e.current().shift!.tally;
    assert.equal(t.startupReject, 4);
    const l = sixBigLosses(t);
    assert.equal(l.startupRejects, 4);
    assert.equal(l.productionRejects, 2);
  });
});

describe("shift calendar segments (planned stops)", () => {
  it("finds the next edge of a shift, a planned stop and a local date, in local time", () => {
    const cal = new ShiftCalendar("Europe/Berlin", [{ name: "early", start: "06:00", end: "14:00", stops: [{ name: "break", start: "09:00", end: "09:15" }] }]);
    const at0830 = Date.UTC(2026, 5, 10, 6, 30); // 08:30 CEST
    assert.deepEqual(cal.segment(at0830).stop, null);
    assert.equal(cal.nextChange(at0830), Date.UTC(2026, 5, 10, 7, 0), "the break starts 09:00 local");
    assert.equal(cal.segment(Date.UTC(2026, 5, 10, 7, 5)).stop, "break");
    assert.equal(cal.nextChange(Date.UTC(2026, 5, 10, 7, 5)), Date.UTC(2026, 5, 10, 7, 15));
    assert.equal(cal.nextChange(Date.UTC(2026, 5, 10, 11, 0)), Date.UTC(2026, 5, 10, 12, 0), "shift ends 14:00 local");
    assert.equal(cal.nextChange(Date.UTC(2026, 5, 10, 13, 0)), Date.UTC(2026, 5, 10, 22, 0), "local midnight changes the date");
    assert.throws(() => new ShiftCalendar("UTC", [{ name: "x", start: "06:00", end: "14:00", stops: [{ name: "b", start: "10:00", end: "10:00" }] }]), /starts and ends/);
  });
});
