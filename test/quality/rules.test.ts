import { strict as assert } from "assert";
import { parseRules } from "../../nodes/otb-validate/catalog";
import { QualityEngine } from "../../nodes/otb-validate/engine";
import type { Signal } from "../../nodes/shared";
import { firstWith, ruleFor, signal, stream, T0, type Fault } from "./streams";

/** Runs a stream through a fresh engine in batches of 10; the Signals are stamped in place. */
function run(signals: Signal[], rules = parseRules([ruleFor("p")])): { engine: QualityEngine; signals: Signal[] } {
  const engine = new QualityEngine({ rules, now: () => T0 });
  for (let i = 0; i < signals.length; i += 10) engine.processBatch(signals.slice(i, i + 10));
  return { engine, signals };
}

const ONSET = 600;

describe("otb-validate rules on hand-made fault streams", () => {
  it("stays quiet on the normal run (false alarms per hour reported)", function () {
    // 24 h at 1 Hz for four tags with every rule on: 345,600 values. An alarm is an episode:
    // a Signal with the reason whose predecessor of the same tag did not have it.
    const hours = 24;
    const tags = ["a", "b", "c", "d"];
    const rules = parseRules(tags.map(ruleFor));
    const engine = new QualityEngine({ rules, now: () => T0 });
    const episodes: Record<string, number> = {};
    const flagged: Record<string, number> = {};
    let total = 0;
    tags.forEach((tag, k) => {
      const s = stream(tag, "normal", hours * 3600, Infinity, 100 + k);
      for (let i = 0; i < s.length; i += 100) engine.processBatch(s.slice(i, i + 100));
      s.forEach((x, i) => {
        for (const r of x.reasons ?? []) {
          flagged[r] = (flagged[r] ?? 0) + 1;
          if (!s[i - 1]?.reasons?.includes(r)) episodes[r] = (episodes[r] ?? 0) + 1;
        }
      });
      total += s.length;
    });
    const tagHours = hours * tags.length;
    const rate = (r: string): number => (episodes[r] ?? 0) / tagHours;
    console.log(
      `      normal run: ${total} values in ${tagHours} tag-hours; false alarms per tag-hour: ` +
        ["out_of_range", "rate_of_change", "flatline", "spike", "drift"].map((r) => `${r} ${rate(r).toFixed(3)}`).join(", ") +
        `; flagged values ${JSON.stringify(flagged)}`,
    );
    for (const r of ["out_of_range", "rate_of_change", "flatline", "not_finite", "type_mismatch"]) assert.equal(episodes[r] ?? 0, 0, `${r} fired on the normal run`);
    assert.ok(rate("spike") <= 0.02, `spike: ${rate("spike")} false alarms per tag-hour`);
    assert.ok(rate("drift") <= 0.02, `drift: ${rate("drift")} false alarms per tag-hour`);
    assert.ok((flagged.drift ?? 0) + (flagged.spike ?? 0) <= total * 0.001, "under 0.1 % of normal values flagged");
  });

  const immediate: Array<[Fault, string, string]> = [
    ["spike", "spike", "bad"],
    ["nan", "not_finite", "bad"],
    ["out_of_range", "out_of_range", "bad"],
    ["step", "rate_of_change", "bad"], // the step is also a spike, which is bad
  ];
  for (const [fault, reason, quality] of immediate) {
    it(`flags ${fault} as ${reason} on the faulty sample itself`, () => {
      const { signals } = run(stream("p", fault, ONSET + 60, ONSET));
      assert.equal(firstWith(signals, reason), ONSET);
      assert.equal(signals[ONSET].quality, quality);
      assert.equal(firstWith(signals.slice(0, ONSET), reason), -1, "no alarm before the onset");
    });
  }

  it("carries NaN as the text 'NaN' so JSON cannot turn it into null", () => {
    const { signals } = run(stream("p", "nan", ONSET + 1, ONSET));
    assert.equal(signals[ONSET].value, "NaN");
    assert.ok(!JSON.stringify(signals[ONSET]).includes("null"));
  });

  it("flags a stuck sensor as flatline after forMs (30 s) of unchanged values, not before", () => {
    const { signals } = run(stream("p", "flatline", ONSET + 120, ONSET));
    const at = firstWith(signals, "flatline");
    assert.equal(at, ONSET + 30, `flatline at sample ${at}`);
    assert.equal(signals[at].quality, "bad");
  });

  it("flags a slow drift as uncertain long before it leaves the normal range", () => {
    // 0.02 sigma/s: the uncertain band (mean + 10 sigma) is reached after 500 s.
    const { signals } = run(stream("p", "drift", ONSET + 900, ONSET));
    const drift = firstWith(signals, "drift");
    const range = firstWith(signals, "out_of_range");
    assert.ok(drift > ONSET && drift - ONSET <= 150, `drift flagged ${drift - ONSET} s after onset`);
    assert.ok(range - ONSET >= 350, `range fired ${range - ONSET} s after onset`);
    assert.equal(signals[drift].quality, "uncertain");
    assert.equal(signals[drift].reasons?.join(), "drift");
  });

  it("flags a one-sigma step as drift within about 34 samples (the documented delay)", () => {
    const s = stream("p", "normal", ONSET + 100, Infinity);
    for (let i = ONSET; i < s.length; i++) (s[i].value as number) += 1;
    const { signals } = run(s);
    const at = firstWith(signals, "drift");
    assert.ok(at >= ONSET + 15 && at - ONSET <= 60, `drift after ${at - ONSET} samples`);
  });

  it("uses the uncertain band before the bad band", () => {
    const s = [signal("p", 50, T0), signal("p", 55, T0 + 1000), signal("p", 61, T0 + 2000), signal("p", 39, T0 + 3000), signal("p", -1, T0 + 10000)];
    const rules = parseRules([{ tag: "p", range: { badBelow: 0, uncertainBelow: 40, uncertainAbove: 60, badAbove: 100 } }]);
    const { signals } = run(s, rules);
    assert.deepEqual(signals.map((x) => x.quality), ["good", "good", "uncertain", "uncertain", "bad"]);
  });

  it("learns a drift baseline from the first good samples when none is given", () => {
    const rules = parseRules([{ tag: "p", drift: { baselineSamples: 300 } }]);
    const { signals } = run(stream("p", "drift", 1500, 600), rules);
    const at = firstWith(signals, "drift");
    assert.ok(at > 600 && at < 800, `learned-baseline drift at ${at}`);
  });

  it("checks type, unit, huge integers, long strings and keeps source-bad Signals bad", () => {
    const rules = parseRules([{ tag: "p", type: "number", unit: "bar" }, { tag: "s", type: "string" }]);
    const engine = new QualityEngine({ rules, maxStringLength: 100, now: () => T0 });
    const items: Signal[] = [
      signal("p", "12.5", T0),
      { ...signal("p", 1, T0), unit: "psi" },
      signal("p", 2 ** 53 + 2, T0),
      signal("s", "x".repeat(101), T0),
      { ...signal("p", null, T0), quality: "bad", reasons: ["comm_lost"] },
      signal("p", 3, T0),
    ];
    const r = engine.processBatch(items);
    assert.deepEqual(r.quarantined.map((s) => s.reasons), [["type_mismatch"], ["unit_mismatch"], ["unsafe_integer"], ["too_long"], ["comm_lost"]]);
    assert.equal(r.passed.length, 1);
    assert.equal(r.passed[0].unit, "bar", "the catalog's unit is filled in");
  });

  it("applies the catalog's severity override", () => {
    const rules = parseRules([{ tag: "p", spike: { window: 31, threshold: 8, minDeviation: 3 }, severity: { spike: "uncertain" } }]);
    const { signals } = run(stream("p", "spike", ONSET + 1, ONSET), rules);
    assert.equal(signals[ONSET].quality, "uncertain");
  });

  it("treats unknown tags by policy and refuses tags that cannot be a topic level", () => {
    const e = new QualityEngine({ rules: [], unknownTags: "uncertain", now: () => T0 });
    const r = e.processBatch([signal("x", 1, T0), signal("a/b", 1, T0)]);
    assert.deepEqual(r.passed[0].reasons, ["unknown_tag"]);
    assert.deepEqual(r.quarantined[0].reasons, ["unsafe_tag", "unknown_tag"]);
  });

  it("emits a tag once as bad/stale after staleMs without updates, and again only after it recovered", () => {
    let now = T0;
    const e = new QualityEngine({ rules: parseRules([ruleFor("p")]), now: () => now });
    e.processBatch([signal("p", 50, now)]);
    now += 4999;
    assert.equal(e.sweepStale().length, 0);
    now += 1;
    const stale = e.sweepStale();
    assert.equal(stale.length, 1);
    assert.deepEqual({ ...stale[0], source: undefined }, { tag: "p", value: null, ts: now, quality: "bad", reasons: ["stale"], unit: "bar", source: undefined });
    assert.equal(stale[0].source.address, "ns=1;s=p", "the last source is kept");
    now += 10_000;
    assert.equal(e.sweepStale().length, 0, "one report per episode");
    assert.equal(e.staleCount, 1);
    e.processBatch([signal("p", 50, now)]);
    assert.equal(e.staleCount, 0);
  });

  it("counts every item once per tag, invalid items separately", () => {
    const e = new QualityEngine({ rules: parseRules([ruleFor("p")]), now: () => T0 });
    e.processBatch([signal("p", 50, T0), signal("p", 120, T0 + 1000), 42, { tag: "p" }, signal("q", 1, T0)]);
    const s = e.counters.summary(T0, e.catalogTags);
    assert.deepEqual(s.totals, { in: 5, good: 2, uncertain: 0, bad: 3, stale: 0, goodPct: 40, invalid: 2 });
    const p = s.tags.find((t) => t.tag === "p")!;
    assert.equal(p.bad, 1);
    assert.equal(p.reasons.out_of_range, 1);
    assert.deepEqual(s.neverSeen, []);
  });
});
