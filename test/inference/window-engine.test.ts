import { strict as assert } from "assert";
import type { Quality, Signal } from "../../nodes/shared";
import { validateFeatureFrame } from "../../nodes/shared";
import { aggregate, parseFeatureName } from "../../nodes/otb-window/aggregations";
import { featuresFromCard, parseWindowConfig } from "../../nodes/otb-window/window-config";
import { WindowEngine, type WindowOptions } from "../../nodes/otb-window/window-engine";

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);

function sig(tag: string, value: Signal["value"], ts: number, quality: Quality = "good"): Signal {
  return { tag, value, ts, quality, source: { protocol: "sim", address: tag } };
}

function engine(overrides: Partial<WindowOptions> = {}, features = ["a:mean", "b:max"]): WindowEngine {
  return new WindowEngine({
    lengthMs: 10_000, hopMs: 10_000, features: featuresFromCard({ features }), acceptUncertain: false, missing: "mark",
    lateToleranceMs: 0, closeOnWallClock: true, closeWhenTagsPass: true, maxFutureMs: 300_000, maxSamplesPerTag: 100_000, maxCatchUpWindows: 1000,
    ...overrides,
  });
}

describe("otb-window aggregations", () => {
  const s = { ts: [0, 1000, 2000, 3000], values: [1, 3, 5, 7] };
  it("computes every aggregation to known values", () => {
    assert.equal(aggregate("last", s), 7);
    assert.equal(aggregate("mean", s), 4);
    assert.equal(aggregate("min", s), 1);
    assert.equal(aggregate("max", s), 7);
    assert.equal(aggregate("std", s), Math.sqrt(5)); // population: ((9+1+1+9)/4)
    assert.equal(aggregate("rms", s), Math.sqrt((1 + 9 + 25 + 49) / 4));
    assert.equal(aggregate("slope", s), 2); // 2 units per second
    assert.equal(aggregate("count", s), 4);
  });
  it("says what it cannot compute instead of inventing a number", () => {
    const empty = { ts: [], values: [] };
    assert.equal(aggregate("mean", empty), undefined);
    assert.equal(aggregate("count", empty), 0);
    assert.equal(aggregate("slope", { ts: [5, 5], values: [1, 2] }), undefined);
    assert.equal(aggregate("last", { ts: [20, 10], values: [1, 2] }), 1, "latest timestamp, not latest arrival");
  });
  it("parses feature names on the last colon", () => {
    assert.deepEqual(parseFeatureName("ns=2;s=a:b:mean"), { tag: "ns=2;s=a:b", agg: "mean" });
    assert.equal(parseFeatureName("a:median"), null);
  });
});

describe("otb-window engine", () => {
  it("emits tumbling frames in the configured order, stamped with the window end", () => {
    const e = engine({}, ["b:max", "a:mean"]);
    e.add([sig("a", 1, T0), sig("a", 3, T0 + 5000), sig("b", 9, T0 + 1000), sig("x", 100, T0)], T0 + 5000);
    assert.deepEqual(e.advance(T0 + 9000), [], "window still open");
    e.add([sig("a", 10, T0 + 10_000), sig("b", 2, T0 + 12_000)], T0 + 10_000);
    const [frame] = e.advance(T0 + 10_000);
    assert.deepEqual(frame, { kind: "features", ts: T0 + 10_000, windowMs: 10_000, names: ["b:max", "a:mean"], values: [9, 2], missing: [], quality: "good" });
    assert.ok(validateFeatureFrame(frame));
  });

  it("slides: a 10 s window every 5 s sees each sample twice", () => {
    const e = engine({ hopMs: 5000 }, ["a:count", "a:mean"]);
    for (let i = 0; i < 30; i++) e.add([sig("a", i, T0 + i * 1000)], T0 + i * 1000);
    const frames = e.advance(T0 + 30_000);
    assert.deepEqual(frames.map((f) => f.ts - T0), [10_000, 15_000, 20_000, 25_000, 30_000]);
    assert.deepEqual(frames.map((f) => f.values[0]), [10, 10, 10, 10, 10]);
    assert.deepEqual(frames.map((f) => f.values[1]), [4.5, 9.5, 14.5, 19.5, 24.5]);
  });

  it("counts only good values; uncertain ones only when accepted, and then says so", () => {
    const batch = [sig("a", 1, T0), sig("a", 100, T0 + 1, "bad"), sig("a", 3, T0 + 2, "uncertain"), sig("b", 1, T0)];
    const strict = engine();
    strict.add(batch, T0);
    assert.deepEqual(strict.advance(T0 + 10_000)[0].values, [1, 1]);
    assert.equal(strict.counters.ignoredQuality, 2);
    const lenient = engine({ acceptUncertain: true });
    lenient.add(batch, T0);
    const [f] = lenient.advance(T0 + 10_000);
    assert.deepEqual([f.values, f.quality], [[2, 1], "uncertain"]);
  });

  it("applies each missing-value policy", () => {
    const run = (missing: "mark" | "hold" | "skip") => {
      const e = engine({ missing });
      e.add([sig("a", 1, T0), sig("b", 5, T0)], T0);
      e.add([sig("a", 2, T0 + 10_000)], T0 + 10_000); // b is silent in the 2nd window
      e.add([sig("a", 3, T0 + 20_000)], T0 + 20_000);
      return { frames: e.advance(T0 + 20_000), counters: e.counters };
    };
    const mark = run("mark").frames[1];
    assert.deepEqual([mark.values, mark.missing, mark.quality], [[2, 0], ["b:max"], "bad"]);
    const hold = run("hold").frames[1];
    assert.deepEqual([hold.values, hold.missing, hold.quality], [[2, 5], [], "uncertain"]);
    const skip = run("skip");
    assert.equal(skip.frames.length, 1);
    assert.equal(skip.counters.skippedFrames, 1);
  });

  it("accepts data within the late tolerance and refuses it after, counted", () => {
    const e = engine({ lateToleranceMs: 2000 });
    e.add([sig("a", 1, T0), sig("b", 1, T0)], T0);
    e.add([sig("a", 2, T0 + 11_000)], T0 + 11_000);
    assert.equal(e.advance(T0 + 11_000).length, 0, "tolerance keeps the first window open");
    assert.deepEqual(e.add([sig("a", 5, T0 + 9000)], T0 + 11_000), [], "late but tolerated");
    const [f] = e.advance(T0 + 12_000);
    assert.equal(f.values[0], 3);
    const refused = e.add([sig("a", 7, T0 + 9500)], T0 + 12_000);
    assert.deepEqual(refused.map((r) => r.reason), ["late"]);
    assert.equal(e.counters.late, 1);
  });

  it("closes a window once every feature's tag is past its end, without waiting the tolerance; a silent tag keeps the wait", () => {
    const e = engine({ lateToleranceMs: 5000 });
    e.add([sig("a", 1, T0), sig("b", 4, T0 + 500)], T0 + 500);
    e.add([sig("a", 3, T0 + 10_000)], T0 + 10_000);
    assert.equal(e.advance(T0 + 10_000).length, 0, "b has not reached the end yet: b's value for the window may still come");
    assert.deepEqual(e.add([sig("b", 6, T0 + 9900)], T0 + 10_100), [], "b's value inside the window, after a's next one");
    assert.equal(e.advance(T0 + 10_100).length, 0);
    // A bad value counts as the tag having moved on (the source has), though it is not data.
    e.add([sig("b", 0, T0 + 10_000, "bad")], T0 + 10_200);
    const [f] = e.advance(T0 + 10_200);
    assert.deepEqual([f.ts - T0, f.values], [10_000, [1, 6]], "closed 4.8 s before the tolerance would have");
    // Out of order within its own tag after the close: late, refused and counted as before.
    assert.deepEqual(e.add([sig("a", 9, T0 + 9999)], T0 + 10_300).map((r) => r.reason), ["late"]);
    assert.equal(e.counters.late, 1);
    // b goes silent: the next window waits for the tolerance, then closes with b missing.
    e.add([sig("a", 5, T0 + 20_500)], T0 + 20_500);
    assert.equal(e.advance(T0 + 24_000).length, 0, "b silent: the tolerance still applies");
    const [g] = e.advance(T0 + 25_100);
    assert.deepEqual([g.ts - T0, g.missing], [20_000, ["b:max"]]);
  });

  it("with closeWhenTagsPass off, every window waits the whole tolerance (a source whose tags come out of order)", () => {
    const e = engine({ lateToleranceMs: 5000, closeWhenTagsPass: false });
    e.add([sig("a", 1, T0), sig("b", 4, T0 + 500)], T0 + 500);
    e.add([sig("a", 3, T0 + 10_000), sig("b", 5, T0 + 10_000)], T0 + 10_000);
    assert.equal(e.advance(T0 + 14_900).length, 0, "both tags past the end, still within the tolerance");
    assert.deepEqual(e.add([sig("a", 2, T0 + 9000)], T0 + 14_900), [], "a's out-of-order value is taken");
    const [f] = e.advance(T0 + 15_000);
    assert.deepEqual([f.ts - T0, f.values], [10_000, [1.5, 4]]);
  });

  it("closes windows by the wall clock when the input dies, marking the data missing", () => {
    const e = engine();
    e.add([sig("a", 1, T0), sig("b", 1, T0)], T0 + 300); // source clock 300 ms behind
    assert.equal(e.advance(T0 + 10_000).length, 0);
    const frames = e.advance(T0 + 30_400);
    assert.deepEqual(frames.map((f) => [f.ts - T0, f.missing.length]), [[10_000, 0], [20_000, 2], [30_000, 2]]);
  });

  it("refuses future timestamps and non-numeric values, and bounds catch-up after a gap", () => {
    const e = engine({ maxCatchUpWindows: 5 });
    const refused = e.add([sig("a", 1, T0), sig("a", "on", T0), sig("b", 1, T0 + 3_600_000)], T0);
    assert.deepEqual(refused.map((r) => r.reason), ["not_numeric", "future_ts"]);
    e.add([sig("a", 1, T0 + 100_000)], T0);
    assert.equal(e.advance(T0).length, 5);
    assert.equal(e.counters.gapWindows, 5);
  });

  it("only closes on event time when the wall clock is off (replays)", () => {
    const e = engine({ closeOnWallClock: false });
    e.add([sig("a", 1, T0), sig("b", 1, T0)], 0);
    assert.equal(e.advance(T0 + 3_600_000).length, 0);
  });
});

describe("otb-window config", () => {
  it("refuses unusable configuration with the field named", () => {
    assert.throws(() => parseWindowConfig({ windowName: "a/b", length: 1, features: [{ tag: "a", agg: "mean" }] }), /^ConfigError: windowName "a\/b" cannot be a topic level/);
    assert.throws(() => parseWindowConfig({ windowName: "w", length: "x", features: [{ tag: "a", agg: "mean" }] }), /length/);
    assert.throws(() => parseWindowConfig({ windowName: "w", mode: "sliding", length: 1, hop: 2, features: [{ tag: "a", agg: "mean" }] }), /hop/);
    assert.throws(() => parseWindowConfig({ windowName: "w", length: 1, features: [{ tag: "a", agg: "median" }] }), /aggregation/);
    assert.throws(() => parseWindowConfig({ windowName: "w", length: 1, features: [{ tag: "a", agg: "mean" }, { tag: "a", agg: "mean" }] }), /twice/);
    assert.throws(() => featuresFromCard({ features: ["current"] }), /not "<tag>:/);
  });
  it("reads the editor's strings", () => {
    const c = parseWindowConfig({ windowName: "w", mode: "sliding", length: "2.5", hop: "0.5", lateTolerance: "0", acceptUncertain: "true", features: '[{"tag":"a","agg":"rms"}]' });
    assert.deepEqual([c.options.lengthMs, c.options.hopMs, c.options.lateToleranceMs, c.options.acceptUncertain, c.options.features[0].name], [2500, 500, 0, true, "a:rms"]);
    const named = parseWindowConfig({ windowName: "w", length: 10, features: ["pump.current:mean", { tag: "b", agg: "max" }] });
    assert.deepEqual(named.options.features.map((f) => [f.tag, f.agg]), [["pump.current", "mean"], ["b", "max"]]);
    assert.throws(() => parseWindowConfig({ windowName: "w", length: 10, features: ["pump.current"] }), /features 1: aggregation "" is not one of last, mean/);
  });
});
