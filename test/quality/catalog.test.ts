import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import fc from "fast-check";
import { parseCatalog, parseRules, standaloneCatalogSchema } from "../../nodes/otb-validate/catalog";
import { RollingMedian, SpikeDetector } from "../../nodes/otb-validate/detectors";

const CATALOG_DIR = path.resolve(__dirname, "..", "..", "..", "flows", "catalog");
const readJson = (name: string): unknown => JSON.parse(fs.readFileSync(path.join(CATALOG_DIR, name), "utf8"));

describe("tag catalog", () => {
  it("ships a JSON Schema file identical to the one the node enforces", () => {
    assert.deepEqual(readJson("tag-catalog.schema.json"), standaloneCatalogSchema());
  });

  it("accepts the pilot line's catalog: the pump's eight tags", () => {
    const rules = parseCatalog(readJson("pilot-rules.json"));
    assert.deepEqual(rules.map((r) => r.tag), [
      "pump1.motor.current", "pump1.motor.voltage", "pump1.vibration.de_rms", "pump1.vibration.nde_rms",
      "pump1.discharge.pressure", "pump1.flow", "pump1.motor.temperature", "pump1.fluid.temperature",
    ]);
    assert.ok(rules.every((r) => r.type === "number" && r.unit && r.range && r.staleMs), "every tag has a type, unit, range and stale period");
    assert.deepEqual(rules[1].drift, { baselineSamples: 300, lambda: 0.02, limit: 5, mean: 228.5, sigma: 4 }, "defaults are filled in");
  });

  const refused: Array<[string, unknown, RegExp]> = [
    ["an unknown property (a typo)", { version: 1, tags: [{ tag: "a", rnage: {} }] }, /tags\.0 must NOT have additional property "rnage"/],
    ["a missing version", { tags: [] }, /must have required property 'version'/],
    ["a duplicate tag", { version: 1, tags: [{ tag: "a" }, { tag: "a" }] }, /tags\[1\] \(a\): the tag is listed twice/],
    ["a wildcard tag", { version: 1, tags: [{ tag: "a/#" }] }, /cannot contain \/ \+ #/],
    ["bands out of order", { version: 1, tags: [{ tag: "a", range: { uncertainAbove: 10, badAbove: 5 } }] }, /badAbove \(5\) is below uncertainAbove \(10\)/],
    ["numeric rules on a text tag", { version: 1, tags: [{ tag: "a", type: "string", maxRatePerSec: 1 }] }, /need type "number"/],
    ["half a drift baseline", { version: 1, tags: [{ tag: "a", drift: { mean: 1 } }] }, /both mean and sigma/],
    ["a spike window of 2", { version: 1, tags: [{ tag: "a", spike: { window: 2 } }] }, /spike.window must be >= 5/],
  ];
  for (const [what, doc, message] of refused) {
    it(`refuses ${what} with a message naming the place`, () => {
      assert.throws(() => parseCatalog(doc), (err: Error & { code?: string }) => {
        assert.equal(err.code, "config");
        assert.match(err.message, message);
        return true;
      });
    });
  }

  it("reads the form's table with the same checks, naming the row", () => {
    assert.throws(() => parseRules([{ tag: "a" }, { tag: "b", staleMs: "soon" }]), /rules: row 1\.staleMs must be integer/);
  });
});

describe("rolling median and MAD", () => {
  const brute = (xs: number[]): [number, number] => {
    const med = (a: number[]): number => {
      const s = [...a].sort((x, y) => x - y);
      const m = s.length >> 1;
      return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
    };
    const m = med(xs);
    return [m, med(xs.map((x) => Math.abs(x - m)))];
  };

  it("agrees with sorting on random windows, duplicates included", () => {
    fc.assert(
      fc.property(fc.integer({ min: 5, max: 40 }), fc.array(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), { minLength: 1, maxLength: 200 }), (size, xs) => {
        const w = new RollingMedian(size);
        xs.forEach((x, i) => {
          w.push(x);
          const window = xs.slice(Math.max(0, i + 1 - size), i + 1);
          const [m, mad] = brute(window);
          assert.equal(w.median(), m);
          assert.ok(Math.abs(w.mad(w.median()) - mad) <= 1e-9 * Math.max(1, Math.abs(mad)), `mad ${w.mad(m)} vs ${mad}`);
        });
      }),
      { numRuns: 300, seed: 3 },
    );
  });

  it("bounds the MAD from below (the spike detector's shortcut), duplicates included", () => {
    let bounded = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), { minLength: 1, maxLength: 120 }), (size, xs) => {
        const w = new RollingMedian(size);
        for (const x of xs) {
          w.push(x);
          const m = w.median();
          const low = w.madLowerBound(m);
          assert.ok(low >= 0 && low <= w.mad(m), `bound ${low} above mad ${w.mad(m)} for ${w.count} samples`);
          if (low > 0) bounded++;
        }
      }),
      { numRuns: 300, seed: 5 },
    );
    assert.ok(bounded > 1000, `the bound was informative ${bounded} times`);
  });
});

describe("spike detector", () => {
  /** The detector as it was before the MAD shortcut: the full MAD for every value. */
  class FullMadSpike {
    private readonly w: RollingMedian;
    private lastSide = 0;
    constructor(private readonly rule: { window: number; threshold: number; minDeviation: number }) {
      this.w = new RollingMedian(rule.window);
    }
    check(x: number): boolean {
      let spike = false;
      let side = 0;
      if (this.w.count >= this.rule.window) {
        const med = this.w.median();
        const deviation = Math.abs(x - med);
        const scale = 1.4826 * this.w.mad(med);
        const z = scale > 0 ? deviation / scale : deviation > 0 ? Infinity : 0;
        if (z > this.rule.threshold / 2) side = x > med ? 1 : -1;
        spike = z > this.rule.threshold && deviation > this.rule.minDeviation && side !== this.lastSide;
      }
      this.lastSide = side;
      this.w.push(x);
      return spike;
    }
  }

  it("flags exactly the values the full MAD flags: noise, spikes, steps, ramps, flat and quantised runs", () => {
    const segment = fc.oneof(
      fc.record({ kind: fc.constant("noise"), level: fc.double({ min: -100, max: 100, noNaN: true }), sd: fc.double({ min: 0, max: 5, noNaN: true }), n: fc.integer({ min: 1, max: 80 }) }),
      fc.record({ kind: fc.constant("spike"), level: fc.double({ min: -1e4, max: 1e4, noNaN: true }), sd: fc.constant(0), n: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant("flat"), level: fc.integer({ min: -3, max: 3 }), sd: fc.constant(0), n: fc.integer({ min: 1, max: 60 }) }),
      fc.record({ kind: fc.constant("ramp"), level: fc.double({ min: -50, max: 50, noNaN: true }), sd: fc.double({ min: 0, max: 1, noNaN: true }), n: fc.integer({ min: 2, max: 30 }) }),
    );
    let flagged = 0;
    fc.assert(
      fc.property(
        fc.record({ window: fc.integer({ min: 5, max: 41 }), threshold: fc.double({ min: 0.5, max: 12, noNaN: true }), minDeviation: fc.double({ min: 0, max: 20, noNaN: true }) }),
        fc.array(segment, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 1e6 }),
        (rule, segments, seed) => {
          const fast = new SpikeDetector(rule);
          const full = new FullMadSpike(rule);
          let r = seed;
          const noise = (): number => ((r = (r * 48271) % 2147483647) / 2147483647) * 2 - 1;
          let base = 0;
          for (const seg of segments) {
            for (let i = 0; i < seg.n; i++) {
              const x = seg.kind === "ramp" ? base + ((seg.level - base) * (i + 1)) / seg.n + seg.sd * noise()
                : seg.kind === "spike" ? seg.level
                : seg.kind === "flat" ? seg.level
                : Math.round((seg.level + seg.sd * noise()) * 100) / 100;
              const verdict = full.check(x);
              assert.equal(fast.check(x), verdict, `value ${x} of ${JSON.stringify(rule)}`);
              if (verdict) flagged++;
            }
            if (seg.kind !== "spike") base = seg.level;
          }
        },
      ),
      { numRuns: 400, seed: 11 },
    );
    assert.ok(flagged > 50, `only ${flagged} spikes were flagged: the comparison saw too few`);
  });
});
