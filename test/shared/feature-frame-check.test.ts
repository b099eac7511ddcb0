/**
 * isValidFeatureFrame (otb-infer's hand-written check with ajv behind it) must give exactly ajv's
 * verdict on the FeatureFrame schema: on generated frames, each mutated in one to three places
 * (the frame, an element of its names, values or missing lists, or its Context) with values
 * chosen to sit on and around every limit of the schema.
 */
import { strict as assert } from "assert";
import { describeErrors, isValidFeatureFrame, validateFeatureFrame } from "../../nodes/shared";
import { inspect, rng, structuredCloneish as copy } from "./differential";

class Box {
  constructor(public kind = "features") {}
}

const CLEF = "\u{1D11E}"; // one code point, two UTF-16 units: ajv counts it once
const POOL: unknown[] = [
  undefined, null, true, false, 0, -0, 1, -1, 0.5, 1e-300, 8.64e15, 8.64e15 + 2, 1e308, -1e308, NaN, Infinity, -Infinity,
  "", "x", "features", "feature", "good", "uncertain", "bad", "Good", "running", "1",
  "x".repeat(1024), "x".repeat(1025), CLEF.repeat(512), CLEF.repeat(513), "a" + CLEF.repeat(512),
  [], ["a:mean"], [1], [1, 2, 3], new Array(3), ["", "b"], [NaN], [Infinity], ["x".repeat(1025)], [null],
  {}, { enterprise: "e", site: "s", area: "a", line: "l" }, { enterprise: "", site: "s", area: "a", line: "l" },
  { enterprise: "e", site: "s", area: "a", line: "l", mode: "flying" }, { enterprise: "e", site: "s", area: "a" },
  Object.create(null), new Box(), new Date(0), Buffer.from("x"),
];

const FRAME_KEYS = ["kind", "ts", "windowMs", "names", "values", "missing", "quality", "context", "extra"];
const CONTEXT_KEYS = ["enterprise", "site", "area", "line", "cell", "asset", "product", "batch", "order", "shift", "mode", "extra"];

function base(r: () => number): Record<string, unknown> {
  const names = ["pump1.flow:mean", "pump1.flow:std", "pump1.motor.current:max"];
  const f: Record<string, unknown> = { kind: "features", ts: 1_700_000_000_000, windowMs: 10_000, names, values: [32.1, 0.3, 2.5], missing: [], quality: "good" };
  if (r() < 0.3) f.missing = ["pump1.vibration:rms"];
  if (r() < 0.5) f.context = { enterprise: "acme", site: "p1", area: "pumps", line: "line1", shift: "early", mode: "running" };
  return f;
}

function pick(r: () => number): unknown {
  return copy(POOL[Math.floor(r() * POOL.length)]);
}

function mutate(obj: Record<string, unknown>, keys: string[], r: () => number): void {
  const k = keys[Math.floor(r() * keys.length)] as string;
  const roll = r();
  if (roll < 0.2) delete obj[k];
  else if (roll < 0.3) obj[k] = undefined;
  else obj[k] = pick(r);
}

/** Changes, adds or removes one element of a list, if the field still is one. */
function mutateList(list: unknown, r: () => number): void {
  if (!Array.isArray(list)) return;
  const roll = r();
  if (roll < 0.2) list.pop();
  else if (roll < 0.4) list.push(pick(r));
  else list[Math.floor(r() * Math.max(1, list.length))] = pick(r);
}

describe("isValidFeatureFrame agrees with the FeatureFrame schema", () => {
  it("gives ajv's verdict on 30,000 generated frames, valid and invalid", () => {
    const r = rng(19);
    let valid = 0;
    for (let i = 0; i < 30_000; i++) {
      const f = base(r);
      const edits = r() < 0.15 ? 0 : 1 + Math.floor(r() * 3);
      for (let e = 0; e < edits; e++) {
        const where = r();
        if (where < 0.4) mutate(f, FRAME_KEYS, r);
        else if (where < 0.8) mutateList(f[["names", "values", "missing"][Math.floor(r() * 3)] as string], r);
        else if (typeof f.context === "object" && f.context !== null) mutate(f.context as Record<string, unknown>, CONTEXT_KEYS, r);
      }
      // Each side gets its own copy, so neither can see the other's reads.
      const expected = validateFeatureFrame(copy(f));
      const got = isValidFeatureFrame(f);
      if (got !== expected) assert.fail(`frame ${i}: ${inspect(f)}: ajv ${expected}, isValidFeatureFrame ${got}`);
      if (expected) valid++;
    }
    // Both answers must be well represented, or the comparison proves little.
    assert.ok(valid > 3000 && valid < 27_000, `${valid} of 30,000 valid`);
  });

  it("leaves ajv's reasons for a refused frame, as validateFeatureFrame does", () => {
    const bad = { kind: "features", ts: 1, windowMs: 1000, names: ["a"], values: ["1.5"], missing: [], quality: "good" };
    assert.equal(isValidFeatureFrame(bad), false);
    assert.match(describeErrors(validateFeatureFrame.errors), /values\.0 must be number/);
  });

  it("refuses objects that are not plain, and inherited keys, as ajv does", () => {
    const ok = { kind: "features", ts: 1, windowMs: 1000, names: ["a"], values: [1], missing: [], quality: "good" };
    assert.equal(isValidFeatureFrame(ok), true);
    const inherited = Object.assign(Object.create({ extra: 1 }), ok);
    assert.equal(isValidFeatureFrame(inherited), validateFeatureFrame(inherited));
    assert.equal(isValidFeatureFrame(inherited), false);
    const nullProto = Object.assign(Object.create(null), ok);
    assert.equal(isValidFeatureFrame(nullProto), validateFeatureFrame(nullProto));
    assert.equal(isValidFeatureFrame(JSON.parse('{"kind":"features","ts":1,"windowMs":1,"names":[],"values":[],"missing":[],"quality":"good","__proto__":1}')), false);
  });
});
