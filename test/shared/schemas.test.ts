import { strict as assert } from "assert";
import {
  contextEventKeys, contextEventSchema, contextKeys, contextSchema, featureFrameKeys, featureFrameSchema,
  inferenceKeys, inferenceSchema, signalKeys, signalSchema, validateContextEvent, validateFeatureFrame,
  validateInference, validateSignal, describeErrors,
  type Context, type ContextEvent, type FeatureFrame, type Inference, type Signal,
} from "../../nodes/shared";

/** The keys of T that are not optional. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
/** Exactly the required keys of T: a missing or extra key is a compile error. */
type RequiredOf<T> = { [K in RequiredKeys<T>]: true };

const required = {
  signal: { tag: true, value: true, ts: true, quality: true, source: true } satisfies RequiredOf<Signal>,
  context: { enterprise: true, site: true, area: true, line: true } satisfies RequiredOf<Context>,
  features: { kind: true, ts: true, windowMs: true, names: true, values: true, missing: true, quality: true } satisfies RequiredOf<FeatureFrame>,
  inference: { kind: true, ts: true, model: true, outputs: true, latencyMs: true } satisfies RequiredOf<Inference>,
  event: { kind: true, ts: true, context: true, changed: true } satisfies RequiredOf<ContextEvent>,
};

const ctx: Context = { enterprise: "acme", site: "plant1", area: "pumps", line: "line1", product: "P-100", mode: "running" };
const examples = {
  signal: { tag: "pump1.motor.current", value: 12.5, ts: 1_700_000_000_000, quality: "good", unit: "A", source: { protocol: "opcua", address: "ns=1;s=x" }, context: ctx } satisfies Signal,
  features: { kind: "features", ts: 1, windowMs: 10_000, names: ["a:mean"], values: [1.5], missing: [], quality: "good", context: ctx } satisfies FeatureFrame,
  inference: {
    kind: "inference", ts: 1, model: { name: "m", version: "1", sha256: "a".repeat(64) }, outputs: { score: [0.3] },
    score: 0.3, threshold: 1, anomaly: false, latencyMs: 0.2, drift: 0.1, contributions: { "a:mean": 0.3 }, context: ctx,
  } satisfies Inference,
  event: { kind: "context", ts: 1, context: ctx, changed: ["product"] } satisfies ContextEvent,
};

describe("message schemas agree with the TypeScript types", () => {
  const cases = [
    ["Signal", signalSchema, signalKeys, required.signal],
    ["Context", contextSchema, contextKeys, required.context],
    ["FeatureFrame", featureFrameSchema, featureFrameKeys, required.features],
    ["Inference", inferenceSchema, inferenceKeys, required.inference],
    ["ContextEvent", contextEventSchema, contextEventKeys, required.event],
  ] as const;
  for (const [name, schema, keys, req] of cases) {
    it(`${name}: same properties and the same required ones`, () => {
      assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(keys).sort());
      assert.deepEqual([...schema.required].sort(), Object.keys(req).sort());
      assert.equal(schema.additionalProperties, false, "unknown properties are refused");
    });
  }

  it("accepts a typed example of every shape", () => {
    assert.ok(validateSignal(examples.signal), describeErrors(validateSignal.errors));
    assert.ok(validateFeatureFrame(examples.features), describeErrors(validateFeatureFrame.errors));
    assert.ok(validateInference(examples.inference), describeErrors(validateInference.errors));
    assert.ok(validateContextEvent(examples.event), describeErrors(validateContextEvent.errors));
  });

  it("refuses what JSON would silently mangle or a typo would hide", () => {
    const bad: Array<[string, unknown]> = [
      ["NaN value", { ...examples.signal, value: NaN }],
      ["Infinity value", { ...examples.signal, value: Infinity }],
      ["unknown quality", { ...examples.signal, quality: "ok" }],
      ["missing source", { ...examples.signal, source: undefined }],
      ["extra property", { ...examples.signal, qualty: "good" }],
      ["object value", { ...examples.signal, value: { v: 1 } }],
      ["string timestamp", { ...examples.signal, ts: "2026-01-01" }],
      ["unknown protocol", { ...examples.signal, source: { protocol: "profinet", address: "x" } }],
      ["bad mode", { ...examples.signal, context: { ...ctx, mode: "sleeping" } }],
    ];
    for (const [what, value] of bad) assert.equal(validateSignal(value), false, what);
    assert.equal(validateFeatureFrame({ ...examples.features, values: [NaN] }), false, "NaN feature");
    assert.equal(validateInference({ ...examples.inference, model: { ...examples.inference.model, sha256: "xyz" } }), false, "bad sha256");
  });

  it("explains a refusal in words an engineer can act on", () => {
    validateSignal({ ...examples.signal, ts: "yesterday" });
    assert.match(describeErrors(validateSignal.errors), /ts must be number/);
  });
});
