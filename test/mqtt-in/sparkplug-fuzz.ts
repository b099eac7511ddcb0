/**
 * Sparkplug B payloads in which metric values agree or disagree with their datatype, with the
 * outcome a host must produce for each. Encoded by Eclipse Tahu (sparkplug-payload): its
 * encodePayload for the BIRTH, its generated protobuf Payload class for DATA, because Tahu's
 * encoder always writes the field of the declared type and so cannot produce a mismatch.
 *
 * Classes of mismatch: wrong value field for the datatype, a UUID that is not one, unknown datatype (0, 22, 999, ...),
 * DataSet/Template/PropertySet, empty or missing name, integers out of range for Int8/16/32 and
 * UInt8/16/32 (and DateTime past 2^53), NaN/Infinity in Float and Double, and a datatype in
 * DATA that differs from the BIRTH's. Valid metrics cover every scalar datatype at its limits,
 * addressed by name or alias, with or without the datatype (DATA may omit it).
 */
import { Rng } from "../../cli/sim/rng";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tahuPayload = require("sparkplug-payload");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Proto = require("sparkplug-payload/lib/sparkplugPayloadProto").org.eclipse.tahu.protobuf.Payload as {
  encode(m: unknown): { finish(): Uint8Array };
  fromObject(o: unknown): unknown;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Long = require(require.resolve("long", { paths: [require.resolve("sparkplug-payload")] })) as { fromString(s: string, unsigned: boolean): unknown };

const tahu = tahuPayload.get("spBv1.0") as { encodePayload(p: unknown): Uint8Array };

export const EDGE = "fz";
export const GROUP = "g";

type Expect =
  | { kind: "good"; tag: string; value: unknown; reasons?: string[] }
  | { kind: "bad"; tag: string; reason: string }
  | { kind: "untagged"; reason: string };

export interface FuzzPayload {
  bytes: Buffer;
  expect: Expect[];
}

/** name, Tahu type name, datatype code, alias */
const BORN: Array<[string, string, number, number]> = [
  ["Int8", "Int8", 1, 1], ["Int16", "Int16", 2, 2], ["Int32", "Int32", 3, 3], ["Int64", "Int64", 4, 4],
  ["UInt8", "UInt8", 5, 5], ["UInt16", "UInt16", 6, 6], ["UInt32", "UInt32", 7, 7], ["UInt64", "UInt64", 8, 8],
  ["Float", "Float", 9, 9], ["Double", "Double", 10, 10], ["Boolean", "Boolean", 11, 11], ["String", "String", 12, 12],
  ["DateTime", "DateTime", 13, 13], ["Text", "Text", 14, 14], ["UUID", "UUID", 15, 15], ["Bytes", "Bytes", 17, 17], ["File", "File", 18, 18],
];
const INT_BITS: Record<number, [number, boolean]> = { 1: [8, true], 2: [16, true], 3: [32, true], 5: [8, false], 6: [16, false], 7: [32, false] };
const FIELDS = ["intValue", "longValue", "floatValue", "doubleValue", "booleanValue", "stringValue", "bytesValue"];
const ACCEPTS: Record<number, string[]> = {};
for (const [, , dt] of BORN) {
  ACCEPTS[dt] = dt <= 8 || dt === 13 ? ["intValue", "longValue"] : dt === 9 ? ["floatValue"] : dt === 10 ? ["doubleValue"] : dt === 11 ? ["booleanValue"] : dt === 17 || dt === 18 ? ["bytesValue"] : ["stringValue"];
}
const TS = 1_760_000_000_000;

export function birthPayload(): Buffer {
  const metrics: unknown[] = [{ name: "bdSeq", type: "UInt64", value: 0 }, { name: "Node Control/Rebirth", type: "Boolean", value: false }];
  for (const [name, type, dt, alias] of BORN) metrics.push({ name, alias, type, value: sample(dt, 0.5).tahu });
  return Buffer.from(tahu.encodePayload({ timestamp: TS, seq: 0, metrics }));
}

/** What the BIRTH's metrics come out as. */
export function birthExpect(): Expect[] {
  return BORN.map(([name, , dt]) => good(name, sample(dt, 0.5)));
}

function good(name: string, s: Sample): Expect {
  return s.reasons ? { kind: "good", tag: `${EDGE}.${name}`, value: s.signal, reasons: s.reasons } : { kind: "good", tag: `${EDGE}.${name}`, value: s.signal };
}

interface Sample {
  /** The value given to Tahu's encodePayload. */
  tahu: unknown;
  field: string;
  /** The raw protobuf field value. */
  raw: unknown;
  /** What the Signal carries. */
  signal: unknown;
  reasons?: string[];
}

/** A valid value of datatype `dt`; `u` in [0,1) picks it (0 and near 1 reach the limits). */
function sample(dt: number, u: number): Sample {
  if (INT_BITS[dt]) {
    const [bits, signed] = INT_BITS[dt];
    const min = signed ? -(2 ** (bits - 1)) : 0;
    const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    const v = u < 0.1 ? min : u > 0.9 ? max : Math.floor(min + (max - min) * u);
    // UInt32 goes in long_value as Tahu writes it; the others in int_value as two's complement.
    if (dt === 7) return { tahu: v, field: "longValue", raw: Long.fromString(String(v), true), signal: v };
    return { tahu: v, field: "intValue", raw: v >>> 0, signal: v };
  }
  switch (dt) {
    case 4: case 8: { // Int64, UInt64: beyond 2^53 the Signal carries a string
      const big = dt === 4 ? (u < 0.2 ? -(2n ** 63n) : BigInt(Math.floor((u - 0.5) * 1e15))) : u > 0.8 ? 2n ** 64n - 1n : BigInt(Math.floor(u * 1e15));
      const safe = big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER);
      const raw = Long.fromString(BigInt.asUintN(64, big).toString(), true);
      return { tahu: raw, field: "longValue", raw, signal: safe ? Number(big) : big.toString() };
    }
    case 13: { const v = TS + Math.floor(u * 1e6); return { tahu: v, field: "longValue", raw: Long.fromString(String(v), true), signal: v }; }
    case 9: { const v = Math.fround((u - 0.5) * 1e6); return { tahu: v, field: "floatValue", raw: v, signal: v }; }
    case 10: { const v = u < 0.1 ? Number.MAX_VALUE : (u - 0.5) * 1e12; return { tahu: v, field: "doubleValue", raw: v, signal: v }; }
    case 11: return { tahu: u < 0.5, field: "booleanValue", raw: u < 0.5, signal: u < 0.5 };
    case 17: case 18: { const b = Buffer.from([Math.floor(u * 256), 1, 2]); return { tahu: b, field: "bytesValue", raw: b, signal: b.toString("base64"), reasons: ["bytes_base64"] }; }
    case 15: { const s = `1b4e28ba-2fa1-11d2-883f-${Math.floor(u * 1e12).toString().padStart(12, "0")}`; return { tahu: s, field: "stringValue", raw: s, signal: s }; }
    default: { const s = u < 0.1 ? "" : `v${u}`; return { tahu: s, field: "stringValue", raw: s, signal: s }; }
  }
}

/** A raw value for `field` that is not what the datatype expects (the value itself is well formed). */
function wrongValue(field: string, rng: Rng): unknown {
  switch (field) {
    case "intValue": return rng.int(0, 1000);
    case "longValue": return Long.fromString(String(rng.int(0, 1e9)), true);
    case "floatValue": return Math.fround(rng.between(-10, 10));
    case "doubleValue": return rng.between(-10, 10);
    case "booleanValue": return rng.next() < 0.5;
    case "stringValue": return rng.pick(["abc", "42", "", "NaN"]);
    default: return Buffer.from("xyz");
  }
}

/** Out-of-range raw bits for an integer datatype (int_value or long_value), or null when it has none. */
function outOfRange(dt: number, rng: Rng): [string, unknown] | null {
  const long = (v: bigint): [string, unknown] => ["longValue", Long.fromString(v.toString(), true)];
  switch (dt) {
    case 1: return ["intValue", rng.int(256, 2 ** 32 - 129)]; // neither 8-bit two's complement nor its sign extension
    case 2: return ["intValue", rng.int(65536, 2 ** 32 - 32769)];
    case 5: return rng.next() < 0.5 ? ["intValue", rng.int(256, 2 ** 32 - 1)] : long(2n ** 40n);
    case 6: return ["intValue", rng.int(65536, 2 ** 32 - 1)];
    case 7: return long(2n ** 32n + BigInt(rng.int(0, 1e6)));
    case 3: return long(2n ** 33n + BigInt(rng.int(0, 1e6)));
    case 13: return long(2n ** 53n + BigInt(rng.int(1, 1e6)));
    default: return null;
  }
}

export type MismatchClass = "invalid_uuid" | "wrong_field" | "unknown_datatype" | "unsupported_datatype" | "no_name" | "out_of_range" | "not_finite" | "datatype_changed";
export const CLASSES: MismatchClass[] = ["invalid_uuid", "wrong_field", "unknown_datatype", "unsupported_datatype", "no_name", "out_of_range", "not_finite", "datatype_changed"];
export const REASON: Record<MismatchClass, string> = {
  invalid_uuid: "type_mismatch", wrong_field: "type_mismatch", unknown_datatype: "sparkplug:unknown_datatype", unsupported_datatype: "sparkplug:unsupported_datatype",
  no_name: "sparkplug:no_name", out_of_range: "sparkplug:int_out_of_range", not_finite: "not_finite", datatype_changed: "sparkplug:datatype_changed",
};

export class SparkplugFuzzer {
  private readonly rng: Rng;
  private seq = 0;
  private unborn = 0;

  constructor(seed: number) {
    this.rng = Rng.derive(seed, "sparkplug-fuzz");
  }

  /** The next NDATA: 1-6 metrics, each valid or of one mismatch class, half of them mismatched. */
  next(): FuzzPayload {
    const metrics: Array<Record<string, unknown>> = [];
    const expect: Expect[] = [];
    const n = this.rng.int(1, 6);
    for (let i = 0; i < n; i++) {
      const [m, e] = this.rng.next() < 0.5 ? this.valid() : this.mismatch(this.rng.pick(CLASSES));
      metrics.push(m);
      expect.push(e);
    }
    this.seq = (this.seq + 1) % 256;
    const bytes = Buffer.from(Proto.encode(Proto.fromObject({ timestamp: Long.fromString(String(TS + this.seq), true), seq: Long.fromString(String(this.seq), true), metrics })).finish());
    return { bytes, expect };
  }

  private valid(): [Record<string, unknown>, Expect] {
    const [name, , dt, alias] = this.rng.pick(BORN);
    const s = sample(dt, this.rng.next());
    const m: Record<string, unknown> = { [s.field]: s.raw };
    const how = this.rng.int(0, 2); // by name with datatype, by alias without it, by alias with it
    if (how === 0) Object.assign(m, { name, datatype: dt });
    else Object.assign(m, how === 1 ? { alias } : { alias, datatype: dt });
    return [m, good(name, s)];
  }

  private mismatch(cls: MismatchClass): [Record<string, unknown>, Expect] {
    const reason = REASON[cls];
    const rng = this.rng;
    const [name, , dt, alias] = rng.pick(BORN);
    const ref = rng.next() < 0.5 ? { name } : { alias };
    const bad = (m: Record<string, unknown>, tag = `${EDGE}.${name}`): [Record<string, unknown>, Expect] => [m, { kind: "bad", tag, reason }];
    switch (cls) {
      case "invalid_uuid":
        return [{ ...(rng.next() < 0.5 ? { name: "UUID" } : { alias: 15 }), stringValue: rng.pick(["", "not-a-uuid", "1b4e28ba-2fa1-11d2-883f", "{1b4e28ba-2fa1-11d2-883f-0016d3cca427}"]) }, { kind: "bad", tag: `${EDGE}.UUID`, reason }];
      case "wrong_field": {
        const field = rng.pick(FIELDS.filter((f) => !ACCEPTS[dt].includes(f)));
        return bad({ ...ref, datatype: rng.next() < 0.5 ? dt : undefined, [field]: wrongValue(field, rng) });
      }
      case "unknown_datatype":
      case "unsupported_datatype": {
        // A name the BIRTH did not declare, so the datatype cannot be compared with the BIRTH's.
        const fresh = `x${this.unborn++}`;
        const code = cls === "unknown_datatype" ? rng.pick([0, 22, 23, 99, 999, 65535, 2 ** 31]) : rng.pick([16, 19, 20, 21]);
        const field = rng.pick(FIELDS);
        return bad({ name: fresh, datatype: code, [field]: wrongValue(field, rng) }, `${EDGE}.${fresh}`);
      }
      case "no_name": {
        const s = sample(dt, rng.next());
        const m: Record<string, unknown> = { datatype: dt, [s.field]: s.raw };
        if (rng.next() < 0.5) m.name = "";
        return [m, { kind: "untagged", reason }];
      }
      case "out_of_range": {
        const ints = BORN.filter(([, , d]) => outOfRange(d, rng) !== null);
        const [iname, , idt, ialias] = rng.pick(ints);
        const [field, raw] = outOfRange(idt, rng)!;
        return [{ ...(rng.next() < 0.5 ? { name: iname, datatype: idt } : { alias: ialias }), [field]: raw }, { kind: "bad", tag: `${EDGE}.${iname}`, reason }];
      }
      case "not_finite": {
        const isFloat = rng.next() < 0.5;
        const v = rng.pick([NaN, Infinity, -Infinity]);
        return [{ ...(rng.next() < 0.5 ? { name: isFloat ? "Float" : "Double" } : { alias: isFloat ? 9 : 10 }), datatype: isFloat ? 9 : 10, [isFloat ? "floatValue" : "doubleValue"]: v }, { kind: "bad", tag: `${EDGE}.${isFloat ? "Float" : "Double"}`, reason }];
      }
      case "datatype_changed": {
        const other = rng.pick(BORN.filter(([, , d]) => d !== dt))[2];
        const s = sample(other, rng.next());
        return bad({ ...ref, datatype: other, [s.field]: s.raw });
      }
    }
  }
}

/** Counts of what a list of expectations amounts to. */
export function tally(expect: Expect[]): { good: number; bad: number; untagged: number; byReason: Record<string, number> } {
  const t = { good: 0, bad: 0, untagged: 0, byReason: {} as Record<string, number> };
  for (const e of expect) {
    if (e.kind === "good") t.good++;
    else {
      t[e.kind]++;
      t.byReason[e.reason] = (t.byReason[e.reason] ?? 0) + 1;
    }
  }
  return t;
}

export type { Expect };
