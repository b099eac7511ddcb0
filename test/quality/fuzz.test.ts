/**
 * Property-based bad input: NaN, ±Infinity, -0, wrong types, numeric strings, 1 MB strings,
 * missing fields, integers above 2^53, prototype-pollution keys, unknown and unsafe tags.
 * Invariant: every item comes out exactly once (counts in = counts out), nothing throws, and
 * no output claims a non-finite value as null.
 */
import { strict as assert } from "assert";
import fc from "fast-check";
import { parseRules } from "../../nodes/otb-validate/catalog";
import { QualityEngine } from "../../nodes/otb-validate/engine";
import otbValidate = require("../../nodes/otb-validate/otb-validate");
import { describeErrors, validateSignal, type Signal } from "../../nodes/shared";
import { helper, tab } from "../helpers/red";
import { waitFor } from "../helpers/peers";
import { ruleFor, T0 } from "./streams";

const HUGE = "x".repeat(1 << 20);
const TOTAL_ITEMS = 100_000;

const badValue = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, -0, null, true, "12.5", "", HUGE, 2 ** 53 + 2, -(2 ** 60), Number.MAX_VALUE),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 20 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
  fc.array(fc.double(), { maxLength: 3 }),
);
const tag = fc.oneof(fc.constantFrom("p", "flag", "__proto__", "constructor", "a/b", "+", "#", "$SYS", "", "p".repeat(300)), fc.string({ maxLength: 12 }), fc.integer());
const ts = fc.oneof(fc.integer({ min: 0, max: 8.64e15 }), fc.constantFrom(NaN, -1, Infinity, 1e20, "2026-01-01", null), fc.double());
const source = fc.oneof(
  fc.constant({ protocol: "sim", address: "x" }),
  fc.record({ protocol: fc.constantFrom("opcua", "modbus", "ftp", 7), address: fc.oneof(fc.string({ maxLength: 5 }), fc.integer()) }, { requiredKeys: [] }),
);
const signalish = fc.record(
  {
    tag,
    value: badValue,
    ts,
    quality: fc.constantFrom("good", "uncertain", "bad", "perfect", 1),
    reasons: fc.oneof(fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), fc.constant("comm_lost"), fc.constant(Array.from({ length: 64 }, () => "r"))),
    unit: fc.oneof(fc.constantFrom("bar", "psi"), fc.integer()),
    source,
    extra: fc.constantFrom(0, "x", null, [], {}),
  },
  { requiredKeys: [] },
);
/** Mostly Signal-shaped junk, some of it valid, plus anything at all and JSON-parsed hostile keys. */
const item = fc.oneof(
  { weight: 6, arbitrary: signalish },
  { weight: 2, arbitrary: signalish.map((s) => ({ ...s, tag: "p", ts: T0, quality: "good", source: { protocol: "sim", address: "x" } })) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 1, maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.constant(null).map(() => JSON.parse('{"tag":"p","value":1,"ts":1,"quality":"good","source":{"protocol":"sim","address":"x"},"__proto__":{"polluted":true}}')) },
);

const rules = (): ReturnType<typeof parseRules> => parseRules([ruleFor("p"), { tag: "flag", type: "boolean" }]);

function checkOutputs(passed: Signal[], quarantined: Signal[]): void {
  for (const s of passed) assert.notEqual(s.quality, "bad");
  for (const s of quarantined) {
    assert.equal(s.quality, "bad");
    assert.ok(s.reasons && s.reasons.length > 0, "a quarantined Signal says why");
  }
  for (const s of [...passed, ...quarantined]) {
    assert.ok(validateSignal(s), `an output Signal breaks the contract: ${describeErrors(validateSignal.errors)}`);
    if (s.reasons?.includes("not_finite")) assert.equal(typeof s.value, "string", "non-finite travels as text, never as null");
  }
}

describe("otb-validate under property-based bad input", () => {
  afterEach(() => helper.unload());

  it(`engine: counts in = counts out for ${TOTAL_ITEMS.toLocaleString("en")} bad items, no throw`, () => {
    const engine = new QualityEngine({ rules: rules(), unknownTags: "uncertain" });
    let seen = 0;
    fc.assert(
      fc.property(fc.array(item, { minLength: 50, maxLength: 60 }), (batch) => {
        seen += batch.length;
        const r = engine.processBatch(batch);
        assert.equal(r.passed.length + r.quarantined.length + r.invalid.length, batch.length);
        const out = new Set<unknown>([...r.passed, ...r.quarantined, ...r.invalid.map((x) => x.item)]);
        for (const x of batch) if (typeof x === "object" && x !== null) assert.ok(out.has(x), "every item is in exactly one output");
        checkOutputs(r.passed, r.quarantined);
      }),
      { numRuns: Math.ceil(TOTAL_ITEMS / 50), seed: 42 },
    );
    assert.ok(seen >= TOTAL_ITEMS, `only ${seen} items generated`);
    const s = engine.counters.summary(Date.now(), engine.catalogTags);
    assert.equal(s.totals.in, seen, "the counters saw every item");
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "no prototype pollution");
  });

  it(`node: counts in = counts out for ${TOTAL_ITEMS.toLocaleString("en")} bad items through Node-RED, no crash`, async function () {
    this.timeout(60_000);
    await helper.load(otbValidate, tab([
      { id: "v", type: "otb-validate", rulesFrom: "table", rules: [ruleFor("p"), { tag: "flag", type: "boolean" }], summaryInterval: "0", wires: [["ok"], ["q"], []] },
      { id: "ok", type: "helper" },
      { id: "q", type: "helper" },
    ]));
    type Listening = { on(event: string, fn: (m: never) => void): void; receive(m: unknown): void; error: { resetHistory(): void } };
    const v = helper.getNode("v") as unknown as Listening;
    // The node reports each message with invalid items to Catch; keep the log quiet here.
    v.error.resetHistory();
    let out = 0;
    let errors = 0;
    (helper.getNode("ok") as unknown as Listening).on("input", (m: { payload: Signal[] }) => {
      out += m.payload.length;
      checkOutputs(m.payload, []);
    });
    (helper.getNode("q") as unknown as Listening).on("input", (m: { payload: Signal[]; invalid: unknown[] }) => {
      out += m.payload.length + m.invalid.length;
      checkOutputs([], m.payload);
    });
    v.on("call:error", () => errors++);
    const batches = fc.sample(fc.array(item, { minLength: 50, maxLength: 60 }), { numRuns: Math.ceil(TOTAL_ITEMS / 50), seed: 7 });
    let sent = 0;
    for (const [i, batch] of batches.entries()) {
      sent += batch.length;
      v.receive({ payload: batch });
      if (i % 50 === 49) await waitFor(() => out === sent, 10_000, `outputs to catch up (${out}/${sent})`, 1);
    }
    await waitFor(() => out === sent, 10_000, `every item out (${out}/${sent})`);
    assert.ok(sent >= TOTAL_ITEMS, `only ${sent} items sent`);
    assert.ok(errors > 0, "invalid items were reported as errors");
  });
});
