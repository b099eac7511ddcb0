import { strict as assert } from "assert";
import fc from "fast-check";
import {
  DataType, SparkplugDecodeError, buildTopic, decodePayload, encodePayload, parseTopic, stateTopic,
  type SparkplugPayload,
} from "../../nodes/shared/sparkplug";

// The independent reference: Eclipse Tahu's JavaScript codec, with its own generated protobuf code.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tahu = require("sparkplug-payload").get("spBv1.0") as {
  encodePayload(p: unknown): Uint8Array;
  decodePayload(b: Uint8Array): { timestamp?: unknown; seq?: unknown; metrics?: TahuMetric[] };
};
interface TahuMetric { name?: string; alias?: unknown; timestamp?: unknown; type: string; value: unknown;
  isNull?: boolean; isHistorical?: boolean; isTransient?: boolean }

/** Tahu returns 64-bit integers as `long` instances; compare them as decimal strings. */
const str = (v: unknown): string => String(v);

const birth: SparkplugPayload = {
  timestamp: 1_700_000_000_123,
  seq: 0,
  metrics: [
    { name: "bdSeq", datatype: DataType.Int64, value: 7n, timestamp: 1_700_000_000_000 },
    { name: "Node Control/Rebirth", datatype: DataType.Boolean, value: false },
    { name: "pump1/current", alias: 1, datatype: DataType.Double, value: 12.5, timestamp: 1_700_000_000_001 },
    { name: "pump1/running", alias: 2, datatype: DataType.Boolean, value: true },
    { name: "pump1/state", alias: 3, datatype: DataType.String, value: "Ready ✓" },
    { name: "pump1/i8", alias: 4, datatype: DataType.Int8, value: -100 },
    { name: "pump1/i16", alias: 5, datatype: DataType.Int16, value: -30_000 },
    { name: "pump1/i32", alias: 6, datatype: DataType.Int32, value: -2_000_000_000 },
    { name: "pump1/u8", alias: 7, datatype: DataType.UInt8, value: 250 },
    { name: "pump1/u16", alias: 8, datatype: DataType.UInt16, value: 65_000 },
    { name: "pump1/i64", alias: 9, datatype: DataType.Int64, value: -(2n ** 62n) - 1n },
    { name: "pump1/u64", alias: 10, datatype: DataType.UInt64, value: 2n ** 64n - 1n },
    { name: "pump1/float", alias: 11, datatype: DataType.Float, value: 1.5 },
    { name: "pump1/when", alias: 12, datatype: DataType.DateTime, value: 1_700_000_000_999 },
    { name: "pump1/note", alias: 13, datatype: DataType.Text, value: "long text" },
    { name: "pump1/missing", alias: 14, datatype: DataType.Double, isNull: true },
    { name: "pump1/old", alias: 15, datatype: DataType.Double, value: 3, isHistorical: true, isTransient: true },
  ],
};

describe("sparkplug codec", () => {
  it("encodes a BIRTH that Eclipse Tahu decodes to the same names, aliases, types and values", () => {
    const decoded = tahu.decodePayload(encodePayload(birth));
    assert.equal(str(decoded.timestamp), "1700000000123");
    assert.equal(str(decoded.seq), "0");
    const byName = new Map((decoded.metrics ?? []).map((m) => [m.name, m]));
    for (const m of birth.metrics) {
      const t = byName.get(m.name);
      assert.ok(t, `${m.name} missing`);
      assert.equal(t.type, DataType[m.datatype], m.name);
      if (m.alias !== undefined) assert.equal(str(t.alias), String(m.alias));
      if (m.timestamp !== undefined) assert.equal(str(t.timestamp), String(m.timestamp));
      assert.equal(t.isHistorical ?? false, m.isHistorical ?? false, m.name);
      assert.equal(t.isTransient ?? false, m.isTransient ?? false, m.name);
      if (m.isNull) {
        assert.equal(t.value, null, "Tahu reports is_null as a null value");
      } else if (typeof m.value === "bigint") {
        // Tahu returns a long; whether it re-signs Int64 depends on which copy of "long" it finds,
        // so compare the 64 bits, read with the metric's signedness.
        const bits = BigInt(str(t.value));
        const read = m.datatype === DataType.Int64 ? BigInt.asIntN(64, bits) : BigInt.asUintN(64, bits);
        assert.equal(read, m.value, m.name);
      } else if (m.datatype === DataType.DateTime) {
        assert.equal(str(t.value), String(m.value));
      } else {
        assert.equal(t.value, m.value, m.name);
      }
    }
  });

  it("decodes what Eclipse Tahu encodes, including its UInt32 in long_value", () => {
    const bytes = tahu.encodePayload({
      timestamp: 5, seq: 255,
      metrics: [
        { name: "a", alias: 3, type: "Int16", value: -5, timestamp: 9 },
        { name: "b", type: "UInt32", value: 4_000_000_000 },
        { alias: 4, type: "Double", value: 2.25 },
        { name: "c", type: "String", value: "x", isHistorical: true },
        { name: "d", type: "Int64", value: -3 },
        { name: "e", type: "Boolean", value: false },
        { name: "f", type: "Float", isNull: true, value: null },
      ],
    });
    const p = decodePayload(bytes);
    assert.equal(p.timestamp, 5);
    assert.equal(p.seq, 255);
    assert.deepEqual(p.metrics, [
      { name: "a", alias: 3, timestamp: 9, datatype: DataType.Int16, value: -5 },
      { name: "b", datatype: DataType.UInt32, value: 4_000_000_000 },
      { alias: 4, datatype: DataType.Double, value: 2.25 },
      { name: "c", datatype: DataType.String, value: "x", isHistorical: true },
      { name: "d", datatype: DataType.Int64, value: -3n },
      { name: "e", datatype: DataType.Boolean, value: false },
      { name: "f", datatype: DataType.Float, value: null, isNull: true },
    ]);
  });

  it("round-trips through itself for any scalar metric", () => {
    const metric = fc.oneof(
      fc.record({ datatype: fc.constant(DataType.Int32), value: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
      fc.record({ datatype: fc.constant(DataType.UInt32), value: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
      fc.record({ datatype: fc.constant(DataType.Int64), value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
      fc.record({ datatype: fc.constant(DataType.UInt64), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
      fc.record({ datatype: fc.constant(DataType.Double), value: fc.double({ noNaN: true }) }),
      fc.record({ datatype: fc.constant(DataType.Boolean), value: fc.boolean() }),
      fc.record({ datatype: fc.constant(DataType.String), value: fc.string() }),
    );
    fc.assert(fc.property(fc.array(metric, { maxLength: 8 }), fc.nat(255), (metrics, seq) => {
      const p: SparkplugPayload = { seq, metrics: metrics.map((m, i) => ({ ...m, alias: i })) };
      const back = decodePayload(encodePayload(p));
      assert.equal(back.seq, seq);
      assert.deepEqual(back.metrics.map((m) => m.value), metrics.map((m) => m.value));
    }), { numRuns: 300 });
  });

  it("throws one clear error on truncated or bit-flipped input, never anything else", () => {
    const good = encodePayload(birth);
    assert.throws(() => decodePayload(good.subarray(0, good.length - 3)), (e: unknown) =>
      e instanceof SparkplugDecodeError && /truncated or malformed/.test(e.message));
    assert.throws(() => decodePayload(Buffer.from([0x12, 0xff, 0xff, 0xff, 0x0f])), SparkplugDecodeError);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        decodePayload(bytes);
      } catch (err) {
        assert.ok(err instanceof SparkplugDecodeError, String(err));
      }
    }), { numRuns: 2000 });
    fc.assert(fc.property(fc.nat(good.length * 8 - 1), (bit) => {
      const flipped = Uint8Array.from(good);
      flipped[bit >> 3] ^= 1 << (bit & 7);
      try {
        decodePayload(flipped);
      } catch (err) {
        assert.ok(err instanceof SparkplugDecodeError, String(err));
      }
    }), { numRuns: 500 });
  });

  it("refuses a value that does not fit its datatype instead of sending garbage", () => {
    assert.throws(() => encodePayload({ metrics: [{ name: "x", datatype: DataType.Int32, value: 1.5 }] }), /integer/);
    assert.throws(() => encodePayload({ metrics: [{ name: "x", datatype: DataType.Boolean, value: "yes" }] }), /boolean/);
    assert.throws(() => encodePayload({ seq: -1, metrics: [] }), /non-negative/);
  });

  it("builds and parses topics, and refuses ids that would inject levels or wildcards", () => {
    assert.equal(buildTopic({ group: "G1", type: "NBIRTH", edgeNode: "E1" }), "spBv1.0/G1/NBIRTH/E1");
    assert.equal(buildTopic({ group: "G1", type: "DDATA", edgeNode: "E1", device: "D1" }), "spBv1.0/G1/DDATA/E1/D1");
    assert.equal(stateTopic("scada"), "spBv1.0/STATE/scada");
    assert.deepEqual(parseTopic("spBv1.0/G1/NCMD/E1"), { group: "G1", type: "NCMD", edgeNode: "E1" });
    assert.deepEqual(parseTopic("spBv1.0/G1/DCMD/E1/D1"), { group: "G1", type: "DCMD", edgeNode: "E1", device: "D1" });
    assert.deepEqual(parseTopic("spBv1.0/STATE/scada"), { type: "STATE", hostId: "scada" });
    for (const bad of ["spBv1.0/G1/NDATA/E1/D1", "spBv1.0/G1/DDATA/E1", "spBv1.0/G1/XDATA/E1", "spAv1.0/G1/NDATA/E1",
      "spBv1.0/G1/NDATA/+", "spBv1.0//NDATA/E1", "a/b"]) assert.equal(parseTopic(bad), null, bad);
    for (const id of ["", "a/b", "+", "x#"]) {
      assert.throws(() => buildTopic({ group: id, type: "NDATA", edgeNode: "E" }), /group id/);
    }
    assert.throws(() => buildTopic({ group: "G", type: "DDATA", edgeNode: "E" }), /device id/);
  });
});
