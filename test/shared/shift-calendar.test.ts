import { strict as assert } from "assert";
import { ShiftCalendar } from "../../nodes/shared";

const shifts = [
  { name: "early", start: "06:00", end: "14:00" },
  { name: "late", start: "14:00", end: "22:00" },
  { name: "night", start: "22:00", end: "06:00" },
];

describe("shift calendar", () => {
  const berlin = new ShiftCalendar("Europe/Berlin", shifts);

  it("finds the shift on an ordinary day in local time", () => {
    // 2026-06-10 05:59 UTC = 07:59 CEST
    assert.deepEqual(berlin.at(Date.UTC(2026, 5, 10, 5, 59)), { name: "early", day: "2026-06-10" });
    assert.deepEqual(berlin.at(Date.UTC(2026, 5, 10, 12, 0)), { name: "late", day: "2026-06-10" });
  });

  it("keeps a night shift on the day it started, after midnight", () => {
    // 2026-06-11 01:30 CEST = 2026-06-10 23:30 UTC
    assert.deepEqual(berlin.at(Date.UTC(2026, 5, 10, 23, 30)), { name: "night", day: "2026-06-10" });
  });

  it("is right on the spring-forward day (night shift 7 real hours)", () => {
    // 2026-03-29: 02:00 CET -> 03:00 CEST. Night shift from 28th 22:00 CET (21:00 UTC) to 06:00 CEST (04:00 UTC).
    assert.deepEqual(berlin.at(Date.UTC(2026, 2, 28, 21, 0)), { name: "night", day: "2026-03-28" });
    assert.deepEqual(berlin.at(Date.UTC(2026, 2, 29, 3, 59)), { name: "night", day: "2026-03-28" });
    assert.deepEqual(berlin.at(Date.UTC(2026, 2, 29, 4, 0)), { name: "early", day: "2026-03-29" });
    assert.equal((Date.UTC(2026, 2, 29, 4, 0) - Date.UTC(2026, 2, 28, 21, 0)) / 3_600_000, 7);
  });

  it("is right on the fall-back day (night shift 9 real hours)", () => {
    // 2026-10-25: 03:00 CEST -> 02:00 CET. Night from 24th 22:00 CEST (20:00 UTC) to 06:00 CET (05:00 UTC).
    assert.deepEqual(berlin.at(Date.UTC(2026, 9, 24, 20, 0)), { name: "night", day: "2026-10-24" });
    assert.deepEqual(berlin.at(Date.UTC(2026, 9, 25, 0, 30)), { name: "night", day: "2026-10-24" }); // 02:30 CEST, first pass
    assert.deepEqual(berlin.at(Date.UTC(2026, 9, 25, 1, 30)), { name: "night", day: "2026-10-24" }); // 02:30 CET, second pass
    assert.deepEqual(berlin.at(Date.UTC(2026, 9, 25, 4, 59)), { name: "night", day: "2026-10-24" });
    assert.deepEqual(berlin.at(Date.UTC(2026, 9, 25, 5, 0)), { name: "early", day: "2026-10-25" });
  });

  it("honours weekdays, including a Friday night shift running into Saturday", () => {
    const weekdays = new ShiftCalendar("UTC", [{ name: "night", start: "22:00", end: "06:00", days: [1, 2, 3, 4, 5] }]);
    assert.deepEqual(weekdays.at(Date.UTC(2026, 10, 21, 2, 0)), { name: "night", day: "2026-11-20" }); // Sat 02:00, started Fri
    assert.equal(weekdays.at(Date.UTC(2026, 10, 22, 2, 0)), null); // Sun 02:00: Sat had no night shift
    assert.equal(weekdays.at(Date.UTC(2026, 10, 21, 23, 0)), null); // Sat 23:00
  });

  it("returns null between shifts and refuses a bad calendar with a clear error", () => {
    const partial = new ShiftCalendar("UTC", [{ name: "day", start: "08:00", end: "16:00" }]);
    assert.equal(partial.at(Date.UTC(2026, 0, 5, 17, 0)), null);
    assert.throws(() => new ShiftCalendar("Mars/Olympus", shifts), /unknown time zone/);
    assert.throws(() => new ShiftCalendar("UTC", [{ name: "x", start: "25:00", end: "06:00" }]), /not a time of day/);
    assert.throws(() => new ShiftCalendar("UTC", [{ name: "x", start: "06:00", end: "06:00" }]), /starts and ends/);
    assert.throws(() => new ShiftCalendar("UTC", [shifts[0], shifts[0]]), /defined twice/);
  });
});
