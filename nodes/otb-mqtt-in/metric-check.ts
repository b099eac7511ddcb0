/**
 * Does a decoded Sparkplug B metric's value agree with its datatype? The wire format cannot
 * enforce it: the value is a protobuf oneof and the datatype a separate number, so an edge node
 * can send an Int32 carrying a string, datatype 999, or 300 in an Int8. A host that passes such a
 * value on as good would feed a model garbage (issue 14 item 8), so every disagreement is named.
 *
 * Reasons (Signal reason codes):
 * - `type_mismatch`                 the value field is not the one the datatype uses (Sparkplug 3.0
 *                                   section 6.4.16; integers may use int_value or long_value, as Tahu encoders differ),
 *                                   or a UUID metric whose string is not a UUID (RFC 4122 text form)
 * - `sparkplug:unknown_datatype`    datatype 0 (Unknown) or a number the spec does not define
 * - `sparkplug:unsupported_datatype` DataSet, Template, PropertySet(List): defined, but not a scalar this node reads
 * - `sparkplug:int_out_of_range`    an integer beyond its datatype's range (UInt8 300, Int16 70000, a DateTime past 2^53)
 * - `not_finite`                    a Float or Double that is NaN or infinite: no Signal value can carry it
 */
import { DataType, integerValue, type MetricValue, type SparkplugMetric } from "../shared/sparkplug";

export type MetricCheck = { ok: true; value: MetricValue | null } | { ok: false; reason: string; detail: string };

const INTEGERS = new Set<number>([DataType.Int8, DataType.Int16, DataType.Int32, DataType.Int64, DataType.UInt8, DataType.UInt16, DataType.UInt32, DataType.UInt64, DataType.DateTime]);
const FIELD: Record<number, string> = {
  [DataType.Float]: "floatValue", [DataType.Double]: "doubleValue", [DataType.Boolean]: "booleanValue",
  [DataType.String]: "stringValue", [DataType.Text]: "stringValue", [DataType.UUID]: "stringValue",
  [DataType.Bytes]: "bytesValue", [DataType.File]: "bytesValue",
};
/** DataSet 16, Template 19, PropertySet 20, PropertySetList 21 (Sparkplug 3.0 section 6.4.16). */
const UNSUPPORTED_NAMES: Record<number, string> = { 16: "DataSet", 19: "Template", 20: "PropertySet", 21: "PropertySetList" };
const UNSUPPORTED = new Set(Object.keys(UNSUPPORTED_NAMES).map(Number));
const BITS: Record<number, number> = { [DataType.Int8]: 8, [DataType.Int16]: 16, [DataType.Int32]: 32, [DataType.UInt8]: 8, [DataType.UInt16]: 16, [DataType.UInt32]: 32 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SIGNED = new Set<number>([DataType.Int8, DataType.Int16, DataType.Int32]);

export function datatypeName(datatype: number): string {
  return DataType[datatype] ?? UNSUPPORTED_NAMES[datatype] ?? `datatype ${datatype}`;
}

/**
 * Checks `m` against `datatype` (the metric's own, or its BIRTH's when DATA omits it, as the
 * spec recommends) and returns the value read with that datatype.
 */
export function checkMetric(m: SparkplugMetric, datatype: number): MetricCheck {
  if (datatype === DataType.Unknown || (!(datatype in DataType) && !UNSUPPORTED.has(datatype))) {
    return { ok: false, reason: "sparkplug:unknown_datatype", detail: `datatype ${datatype} is not a Sparkplug B datatype` };
  }
  if (UNSUPPORTED.has(datatype)) return { ok: false, reason: "sparkplug:unsupported_datatype", detail: `${datatypeName(datatype)} metrics are not read by otb-mqtt-in` };
  if (m.isNull || m.value === null || m.value === undefined) return { ok: true, value: null };
  const field = m.valueField;
  const name = datatypeName(datatype);
  if (INTEGERS.has(datatype)) {
    if ((field !== "intValue" && field !== "longValue") || m.valueBits === undefined) return mismatch(name, field);
    const bits = m.valueBits;
    if (!fits(datatype, bits, field === "longValue" ? 64 : 32)) {
      return { ok: false, reason: "sparkplug:int_out_of_range", detail: `${bits} in ${field === "longValue" ? "long_value" : "int_value"} does not fit ${name}` };
    }
    return { ok: true, value: integerValue(datatype, bits) };
  }
  if (field !== FIELD[datatype]) return mismatch(name, field);
  if (datatype === DataType.UUID && !UUID.test(String(m.value))) return { ok: false, reason: "type_mismatch", detail: `UUID metric carries "${String(m.value).slice(0, 40)}", not a UUID` };
  if (typeof m.value === "number" && !Number.isFinite(m.value)) return { ok: false, reason: "not_finite", detail: `${name} value ${m.value}` };
  return { ok: true, value: m.value };
}

function mismatch(name: string, field: string | undefined): MetricCheck {
  return { ok: false, reason: "type_mismatch", detail: `${name} metric carries ${field ? field.replace("Value", "_value") : "no value field"}` };
}

/**
 * Whether raw unsigned `bits` (from a `width`-bit field) is a value of `datatype`. Signed types
 * accept the positive range, their own two's complement (0xF8 for Int8 -8, which some encoders
 * send) and the sign extension to the field's width (0xFFFFFFF8, what Tahu sends).
 */
function fits(datatype: number, bits: bigint, width: 32 | 64): boolean {
  if (datatype === DataType.Int64 || datatype === DataType.UInt64) return true;
  if (datatype === DataType.DateTime) return bits <= BigInt(Number.MAX_SAFE_INTEGER);
  const n = BITS[datatype];
  // Only the integer datatypes reach here, and every one but the three above has a width in BITS.
  if (n === undefined) throw new RangeError(`no bit width for ${datatypeName(datatype)}`);
  if (!SIGNED.has(datatype)) return bits < 1n << BigInt(n);
  if (bits < 1n << BigInt(n)) return true;
  const fieldMax = 1n << BigInt(width);
  return bits >= fieldMax - (1n << BigInt(n - 1)) && bits < fieldMax;
}
