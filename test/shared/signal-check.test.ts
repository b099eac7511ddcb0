/**
 * isValidSignal (the hot path's hand-written check with ajv behind it) must give exactly ajv's
 * verdict on the Signal schema: on generated Signals, each mutated in one to three places with
 * values chosen to sit on and around every limit of the schema.
 */
import { strict as assert } from "assert";
import { describeErrors, isValidSignal, splitBatch, validateSignal, type Signal } from "../../nodes/shared";
import { inspect, rng, structuredCloneish } from "./differential";

class Box {
  constructor(public tag = "a") {}
}

const CLEF = "\u{1D11E}"; // one code point, two UTF-16 units: ajv counts it once
const POOL: unknown[] = [
  undefined, null, true, false, 0, -0, 1, -1, 0.5, 8.64e15, 8.64e15 + 2, 1e308, NaN, Infinity, -Infinity,
  "", "x", "good", "uncertain", "bad", "sim", "opcua", "modbus", "mqtt", "http", "running", "idle", "paused",
  "x".repeat(64), "x".repeat(65), "x".repeat(256), "x".repeat(257), "x".repeat(1024), "x".repeat(1025),
  CLEF.repeat(128), CLEF.repeat(129), CLEF.repeat(40), "a" + CLEF.repeat(32),
  [], ["r"], [1], new Array(3), Array.from({ length: 64 }, () => "r"), Array.from({ length: 65 }, () => "r"), ["x".repeat(257)],
  {}, { protocol: "sim", address: "x" }, { protocol: "sim" }, { protocol: "sim", address: "x", device: "d", extra: 1 },
  { enterprise: "e", site: "s", area: "a", line: "l" }, { enterprise: "", site: "s", area: "a", line: "l" },
  Object.create(null), new Box(), new Date(0), Buffer.from("x"),
];

const SIGNAL_KEYS = ["tag", "value", "ts", "quality", "reasons", "unit", "source", "context", "extra"];
const SOURCE_KEYS = ["protocol", "address", "device", "port"];
const CONTEXT_KEYS = ["enterprise", "site", "area", "line", "cell", "asset", "product", "batch", "order", "shift", "mode", "extra"];

function base(r: () => number): Record<string, unknown> {
  const s: Record<string, unknown> = { tag: "pump1.flow", value: 32.1, ts: 1_700_000_000_000, quality: "good", source: { protocol: "sim", address: "hr/4" } };
  if (r() < 0.5) s.unit = "l/min";
  if (r() < 0.3) s.reasons = ["spike"];
  if (r() < 0.3) (s.source as Record<string, unknown>).device = "plc1";
  if (r() < 0.5) s.context = { enterprise: "acme", site: "p1", area: "pumps", line: "line1", shift: "early", mode: "running" };
  return s;
}

function mutate(obj: Record<string, unknown>, keys: string[], r: () => number): void {
  const k = keys[Math.floor(r() * keys.length)];
  const roll = r();
  if (roll < 0.2) delete obj[k];
  else if (roll < 0.3) obj[k] = undefined;
  else obj[k] = structuredCloneish(POOL[Math.floor(r() * POOL.length)]);
}

describe("isValidSignal agrees with the Signal schema", () => {
  it("gives ajv's verdict on 30,000 generated items, valid and invalid", () => {
    const r = rng(19);
    let valid = 0;
    for (let i = 0; i < 30_000; i++) {
      const s = base(r);
      const edits = 1 + Math.floor(r() * 3);
      for (let e = 0; e < edits; e++) {
        const where = r();
        if (where < 0.6) mutate(s, SIGNAL_KEYS, r);
        else if (where < 0.8 && typeof s.source === "object" && s.source !== null) mutate(s.source as Record<string, unknown>, SOURCE_KEYS, r);
        else if (typeof s.context === "object" && s.context !== null) mutate(s.context as Record<string, unknown>, CONTEXT_KEYS, r);
      }
      // Each side gets its own copy, so neither can see the other's reads.
      const expected = validateSignal(structuredCloneish(s));
      const got = isValidSignal(s);
      if (got !== expected) assert.fail(`item ${i}: ${inspect(s)}: ajv ${expected}, isValidSignal ${got}`);
      if (expected) valid++;
    }
    // Both answers must be well represented, or the comparison proves little.
    assert.ok(valid > 3000 && valid < 27_000, `${valid} of 30,000 valid`);
  });

  it("leaves ajv's reasons for a refused item, as validateSignal does", () => {
    const bad = { tag: "a", value: 1, ts: "yesterday", quality: "good", source: { protocol: "sim", address: "x" } };
    assert.equal(isValidSignal(bad), false);
    assert.match(describeErrors(validateSignal.errors), /ts must be number/);
  });

  it("refuses objects that are not plain, and inherited keys, as ajv does", () => {
    const ok: Signal = { tag: "a", value: 1, ts: 1, quality: "good", source: { protocol: "sim", address: "x" } };
    const inherited = Object.assign(Object.create({ extra: 1 }), ok);
    assert.equal(isValidSignal(inherited), validateSignal(inherited));
    assert.equal(isValidSignal(inherited), false);
    const nullProto = Object.assign(Object.create(null), ok);
    assert.equal(isValidSignal(nullProto), validateSignal(nullProto));
    assert.equal(isValidSignal(JSON.parse('{"tag":"a","value":1,"ts":1,"quality":"good","source":{"protocol":"sim","address":"x"},"__proto__":1}')), false);
  });

  it("checks a Context shared by the items of a batch once, and still refuses a bad one", () => {
    const r = rng(11);
    for (let round = 0; round < 300; round++) {
      // A few Context objects, some of them broken, shared between the items of one batch.
      const contexts = Array.from({ length: 3 }, () => {
        const c: Record<string, unknown> = { enterprise: "acme", site: "p1", area: "pumps", line: "line1", mode: "running" };
        if (r() < 0.4) mutate(c, CONTEXT_KEYS, r);
        return c;
      });
      const items = Array.from({ length: 20 }, () => {
        const s = base(r);
        s.context = contexts[Math.floor(r() * contexts.length)];
        if (r() < 0.1) mutate(s, SIGNAL_KEYS, r);
        return s;
      });
      const { signals, rejected } = splitBatch(items);
      const expected = items.filter((x) => validateSignal(x));
      assert.deepEqual(signals, expected, `round ${round}`);
      assert.equal(rejected.length, items.length - expected.length);
    }
  });

  it("is what splitBatch uses: same split as ajv item by item", () => {
    const r = rng(7);
    const items: unknown[] = [];
    for (let i = 0; i < 500; i++) {
      const s = base(r);
      if (r() < 0.5) mutate(s, SIGNAL_KEYS, r);
      items.push(s);
    }
    const { signals, rejected } = splitBatch(items);
    assert.equal(signals.length + rejected.length, items.length);
    for (const s of signals) assert.ok(validateSignal(s));
    for (const x of rejected) assert.equal(validateSignal(x.item), false);
  });
});
