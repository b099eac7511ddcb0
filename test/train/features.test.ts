import { strict as assert } from "assert";
import type { Signal } from "../../nodes/shared";
import { WindowEngine } from "../../nodes/otb-window/window-engine";
import { parseCsv, parseTimestamp } from "../../cli/train/csv";
import { parseFeatureSpec, windowFrames } from "../../cli/train/features";

const SKAB_LIKE = [
  "datetime;Current;Pressure;Volume Flow RateRMS;anomaly;changepoint",
  "2020-03-09 10:14:33;1.33;0.05;32.0;0.0;0.0",
  "2020-03-09 10:14:34;1.35;0.38;32.0;0.0;0.0",
  "2020-03-09 10:14:35;1.10;;31.0;1.0;1.0",
  "",
].join("\n");

describe("train/csv", () => {
  it("reads SKAB's format: ';', datetime as UTC, tags, labels apart, empty cells as NaN", () => {
    const t = parseCsv(SKAB_LIKE);
    assert.deepEqual(t.tags, ["Current", "Pressure", "Volume Flow RateRMS"]);
    assert.equal(t.ts[0], Date.UTC(2020, 2, 9, 10, 14, 33));
    assert.deepEqual(t.rows[1], [1.35, 0.38, 32]);
    assert.ok(Number.isNaN(t.rows[2][1]));
    assert.deepEqual(t.labels, { anomaly: [0, 0, 1], changepoint: [0, 0, 1] });
  });

  it("reads comma files and epoch seconds or milliseconds", () => {
    const t = parseCsv("timestamp,a\n1583748873,1\n1583748874000,2\n");
    assert.deepEqual(t.ts, [1583748873000, 1583748874000]);
    assert.equal(parseTimestamp("2020-03-09T10:14:33+01:00"), Date.UTC(2020, 2, 9, 9, 14, 33));
  });

  it("refuses files it cannot read, saying where", () => {
    assert.throws(() => parseCsv("a;b\n1;2\n", "x.csv"), /x.csv: no time column/);
    assert.throws(() => parseCsv("datetime;a\n2020-01-01 00:00:00;1;2\n", "x.csv"), /line 2 has 3 fields, header has 2/);
    assert.throws(() => parseCsv("datetime;a\nyesterday;1\n", "x.csv"), /line 2: cannot read time "yesterday"/);
    assert.throws(() => parseCsv("datetime;anomaly\n2020-01-01 00:00:00;1\n", "x.csv"), /no tag columns/);
  });
});

describe("train/features", () => {
  const tags = ["Current", "Pressure", "Temperature"];

  it("expands --features: bare aggregations for every tag, tag:agg, bare tags", () => {
    assert.deepEqual(parseFeatureSpec("mean,std", tags).map((f) => f.name), [
      "Current:mean", "Current:std", "Pressure:mean", "Pressure:std", "Temperature:mean", "Temperature:std",
    ]);
    assert.deepEqual(parseFeatureSpec("Current:mean,Temperature:slope", tags).map((f) => f.name), ["Current:mean", "Temperature:slope"]);
    assert.deepEqual(parseFeatureSpec("Pressure,max", tags).map((f) => f.name), ["Pressure:max"]);
    assert.deepEqual(parseFeatureSpec("Pressure", tags).map((f) => f.name), ["Pressure:last"]);
    assert.throws(() => parseFeatureSpec("Flow:mean", tags), /unknown tag "Flow"/);
    assert.throws(() => parseFeatureSpec("Current:median", tags), /"median" is not one of last, mean/);
  });

  it("takes a quoted tag that holds a comma (a CSV header such as \"Pressure, bar\"), and says when quoting is broken", () => {
    const withComma = ["Pressure, bar", "Flow"];
    assert.deepEqual(parseFeatureSpec('"Pressure, bar:mean", Flow:std', withComma).map((f) => f.name), ["Pressure, bar:mean", "Flow:std"]);
    assert.deepEqual(parseFeatureSpec('max,"Pressure, bar"', withComma).map((f) => f.name), ["Pressure, bar:max"]);
    assert.throws(() => parseFeatureSpec('"Pressure, bar:mean', withComma), /--features is a comma-separated list \(quote an item that holds a comma\)/);
  });

  it("computes the same frames, times and values as otb-window's engine, across a gap in the data", () => {
    // 1 Hz rows with a missing second (as several SKAB files have), two tags.
    const t0 = Date.UTC(2020, 2, 9, 10, 0, 0);
    const seconds = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15];
    const table = {
      ts: seconds.map((s) => t0 + s * 1000),
      tags: ["a", "b"],
      rows: seconds.map((s) => [Math.sin(s) * 3 + s, (s * s) % 7]),
      labels: {},
    };
    const features = parseFeatureSpec("a:mean,a:slope,b:std,b:last,a:count,b:rms,a:min,b:max", table.tags);
    const ours = windowFrames(table, features, 4000, 1000);

    const engine = new WindowEngine({
      lengthMs: 4000, hopMs: 1000, features, acceptUncertain: false, missing: "skip", lateToleranceMs: 0,
      closeOnWallClock: false, closeWhenTagsPass: true, maxFutureMs: Infinity, maxSamplesPerTag: 100_000, maxCatchUpWindows: 1000,
    });
    const theirs: Array<{ ts: number; values: number[] }> = [];
    table.ts.forEach((ts, r) => {
      const batch: Signal[] = table.tags.map((tag, j) => ({ tag, value: table.rows[r][j], ts, quality: "good", source: { protocol: "sim", address: "t" } }));
      engine.add(batch, ts);
      theirs.push(...engine.advance(ts));
    });
    // The engine closes a window once a later sample shows its end has passed: all but our last.
    assert.ok(theirs.length >= 10);
    assert.deepEqual(theirs.map((f) => f.ts), ours.ts.slice(0, theirs.length));
    theirs.forEach((f, i) => f.values.forEach((v, j) => assert.ok(Math.abs(v - ours.values[i][j]) < 1e-12, `frame ${i} ${features[j].name}: ${v} vs ${ours.values[i][j]}`)));
    // A frame over the gap (end 5 s) exists and predicts the row before it.
    const gapFrame = ours.ts.indexOf(t0 + 5000);
    assert.ok(gapFrame >= 0);
    assert.equal(ours.row[gapFrame], 3);
  });

  it("leaves out frames a feature cannot be computed for (a slope from one sample)", () => {
    const table = { ts: [0, 1000, 2000], tags: ["a"], rows: [[1], [2], [3]], labels: {} };
    const f = windowFrames(table, parseFeatureSpec("a:slope", ["a"]), 1000, 1000);
    assert.deepEqual(f.row, []);
    const g = windowFrames(table, parseFeatureSpec("a:slope", ["a"]), 3000, 1000);
    assert.deepEqual(g.row, [2]);
    assert.deepEqual(g.values, [[1]]);
  });

  it("jumps over a gap of days instead of emitting empty windows", () => {
    const day = 86_400_000;
    const table = { ts: [0, 1000, day, day + 1000], tags: ["a"], rows: [[1], [2], [3], [4]], labels: {} };
    const f = windowFrames(table, parseFeatureSpec("a:mean", ["a"]), 2000, 1000);
    assert.ok(f.ts.length <= 8, `${f.ts.length} frames`);
    assert.deepEqual(f.row, [1, 1, 2, 3]);
  });
});
