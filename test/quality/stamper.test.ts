import { strict as assert } from "assert";
import { createModeDeriver } from "../../nodes/otb-context/mode";
import { ContextStamper } from "../../nodes/otb-context/stamper";
import { ShiftCalendar, type ContextEvent } from "../../nodes/shared";
import { signal } from "./streams";

const calendar = new ShiftCalendar("Europe/Berlin", [
  { name: "early", start: "06:00", end: "14:00" },
  { name: "late", start: "14:00", end: "22:00" },
]);
const identity = { enterprise: "acme", site: "plant1", area: "pumps", line: "line1" };
const AT = (h: number, m = 0): number => Date.UTC(2026, 5, 10, h - 2, m); // local CEST hour

describe("context stamper", () => {
  it("stamps a late Signal with its own shift without announcing a change", () => {
    const s = new ContextStamper({ identity, shiftAt: (ts) => calendar.at(ts), mode: null });
    const events: ContextEvent[] = [];
    const batch = [signal("a", 1, AT(14, 5)), signal("a", 2, AT(13, 58)), signal("a", 3, AT(14, 6))];
    s.stamp(batch, events);
    assert.deepEqual(batch.map((x) => x.context?.shift), ["late", "early", "late"]);
    assert.deepEqual(events.map((e) => e.changed), [["shift"]], "only the initial announcement");
    assert.equal(batch[0].context, batch[2].context);
  });

  it("leaves the shift out outside every shift, and announces leaving it", () => {
    const s = new ContextStamper({ identity, shiftAt: (ts) => calendar.at(ts), mode: null });
    const events: ContextEvent[] = [];
    const batch = [signal("a", 1, AT(21, 59)), signal("a", 2, AT(22, 0))];
    s.stamp(batch, events);
    assert.equal(batch[1].context?.shift, undefined);
    assert.ok(!("shift" in batch[1].context!), "absent, not undefined, so the schema holds");
    assert.deepEqual(events.map((e) => [e.changed, e.context.shift]), [[["shift"], "late"], [["shift"], undefined]]);
  });

  it("ignores bad or non-numeric values of the mode tag", () => {
    const s = new ContextStamper({ identity, shiftAt: () => null, mode: createModeDeriver({ kind: "threshold", tag: "i", threshold: 1, hysteresis: 0 }) });
    const events: ContextEvent[] = [];
    const batch = [signal("i", 5, AT(8)), { ...signal("i", 0, AT(8)), quality: "bad" as const }, signal("i", "0", AT(8)), signal("x", 1, AT(8))];
    s.stamp(batch, events);
    assert.deepEqual(batch.map((x) => x.context?.mode), ["running", "running", "running", "running"]);
  });

  it("reports unknown until the mode tag has spoken", () => {
    const s = new ContextStamper({ identity, shiftAt: () => null, mode: createModeDeriver({ kind: "state", tag: "st", map: {} }) });
    const events: ContextEvent[] = [];
    const batch = [signal("x", 1, AT(8)), signal("st", "running", AT(8))];
    s.stamp(batch, events);
    assert.deepEqual(batch.map((x) => x.context?.mode), ["unknown", "running"]);
  });
});
