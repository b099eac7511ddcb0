import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import fc from "fast-check";
import { parseCatalog, parseRules, standaloneCatalogSchema } from "../../nodes/otb-validate/catalog";
import { RollingMedian } from "../../nodes/otb-validate/detectors";

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
});
