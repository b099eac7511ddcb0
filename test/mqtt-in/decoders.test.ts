/**
 * The decoders alone, under fuzzing (fast-check): random bytes, truncated and mutated Sparkplug
 * protobuf, random JSON. Never a throw, never an invalid Signal, every refusal with a reason.
 */
import * as assert from "assert";
import fc from "fast-check";
import { JsonDecoder } from "../../nodes/otb-mqtt-in/json-decoder";
import { SparkplugDecoder } from "../../nodes/otb-mqtt-in/sparkplug-decoder";
import { validateSignal, type Signal } from "../../nodes/shared";
import { DataType, encodePayload } from "../../nodes/shared/sparkplug";

function checkSignals(signals: Signal[]): void {
  for (const s of signals) assert.ok(validateSignal(s), JSON.stringify(s));
}

describe("otb-mqtt-in decoders under fuzzing", () => {
  it("Sparkplug: random bytes, truncations and bit flips of real payloads never throw", () => {
    const dec = new SparkplugDecoder();
    const birth = Buffer.from(encodePayload({ seq: 0, metrics: [{ name: "a", alias: 1, datatype: DataType.Double, value: 1.5 }, { name: "b", alias: 2, datatype: DataType.Int64, value: 2n ** 60n }] }));
    assert.ok(!("error" in dec.decode("spBv1.0/g/NBIRTH/e", birth, Date.now())!));
    const data = Buffer.from(encodePayload({ seq: 1, metrics: [{ alias: 1, datatype: DataType.Double, value: 2 }, { alias: 2, datatype: DataType.Int64, value: -5n }] }));
    const topics = ["spBv1.0/g/NDATA/e", "spBv1.0/g/NBIRTH/e", "spBv1.0/g/DDATA/e/d", "spBv1.0/g/NDEATH/e", "spBv1.0/g/DBIRTH/e/d", "spBv1.0/x", "junk"];
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.nat({ max: data.length }).map((n) => data.subarray(0, n)),
      fc.tuple(fc.nat({ max: data.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([i, v]) => {
        const b = Buffer.from(data);
        b[i] = v;
        return b;
      }),
    );
    const times: number[] = [];
    fc.assert(
      fc.property(fc.constantFrom(...topics), payload, (topic, bytes) => {
        const t0 = performance.now();
        const r = dec.decode(topic, Buffer.from(bytes), Date.now());
        times.push(performance.now() - t0);
        if (r === null) return;
        if ("error" in r) assert.ok(r.reason.length > 0);
        else checkSignals(r.signals);
      }),
      { numRuns: 20_000 },
    );
    // p99 per payload, as reliability.md B3 asks (a single GC pause on a shared CPU is not a hang).
    times.sort((a, b) => a - b);
    assert.ok(times[Math.floor(times.length * 0.99)] < 10, `p99 ${times[Math.floor(times.length * 0.99)].toFixed(2)} ms`);
  });

  it("Sparkplug: a 64-bit value beyond 2^53 is carried as a string, never rounded", () => {
    const dec = new SparkplugDecoder();
    const r = dec.decode("spBv1.0/g/NBIRTH/e", Buffer.from(encodePayload({ seq: 0, metrics: [{ name: "big", alias: 1, datatype: DataType.UInt64, value: 2n ** 60n + 1n }] })), 1)!;
    assert.ok(!("error" in r));
    assert.strictEqual(r.signals[0].value, (2n ** 60n + 1n).toString());
  });

  it("JSON: arbitrary JSON values and strings never throw and yield only valid Signals", () => {
    const mapped = new JsonDecoder([{ field: "a.b", tag: "{1}.x" }, { field: "v", tsField: "t" }]);
    const auto = new JsonDecoder([]);
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string(), fc.jsonValue().map((v) => JSON.stringify({ v, t: v, a: { b: v } }))), (text) => {
        for (const dec of [mapped, auto]) {
          const r = dec.decode("s/x/y", Buffer.from(text), Date.now());
          if ("error" in r) assert.ok(["malformed_json", "no_mapped_fields"].includes(r.reason));
          else checkSignals(r.signals);
        }
      }),
      { numRuns: 20_000 },
    );
  });
});
