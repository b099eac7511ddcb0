/**
 * Sparkplug B 3.0 codec shared by otb-publish (edge node side) and otb-mqtt-in (reading sensors).
 *
 * API:
 * - `DataType`                      Tahu datatype codes (Int8 = 1 ... Text = 14, Bytes = 17, File = 18).
 * - `encodePayload(p)`              SparkplugPayload -> protobuf bytes; a value that does not fit its datatype
 *                                   throws ValidationError (detail "type_mismatch").
 * - `decodePayload(buf)`            protobuf bytes -> SparkplugPayload; throws `SparkplugDecodeError`
 *                                   (a ValidationError, detail "sparkplug_malformed") on truncated or malformed input, never
 *                                   anything else, so a bad payload from the wire is one catchable error.
 * - `buildTopic({group, type, edgeNode, device?})`  `spBv1.0/<group>/<type>/<edgeNode>[/<device>]`;
 *   `stateTopic(hostId)`            `spBv1.0/STATE/<hostId>`; both throw ConfigError on an id that is
 *                                   empty or holds `/`, `+` or `#`.
 * - `parseTopic(topic)`             the inverse of both, or null when the topic is not Sparkplug B.
 *
 * Values: numbers for the 8/16/32-bit types, Float, Double and DateTime (ms since epoch); `bigint`
 * for Int64 and UInt64 (so 2^53+1 survives; encode also accepts a safe-integer number); boolean;
 * string for String, Text and UUID; Uint8Array for Bytes and File. `isNull: true` sends no value.
 * Signed 8/16/32-bit values travel as two's complement in the uint32 `int_value`, as the spec says.
 * UInt32 is written to `int_value` (spec 3.0, "Google Protocol Buffer Type: uint32"); older Tahu
 * encoders put it in `long_value`, so the decoder accepts either field for every integer type.
 * DataSet, Template, PropertySet and metadata are out of scope: the decoder skips those fields.
 */
import type * as Protobuf from "protobufjs";
import { ConfigError, ValidationError } from "./errors";
import protoJson = require("./sparkplug-b.proto.json");

export enum DataType {
  Unknown = 0, Int8 = 1, Int16 = 2, Int32 = 3, Int64 = 4, UInt8 = 5, UInt16 = 6, UInt32 = 7, UInt64 = 8,
  Float = 9, Double = 10, Boolean = 11, String = 12, DateTime = 13, Text = 14, UUID = 15, Bytes = 17, File = 18,
}

export type MetricValue = number | bigint | boolean | string | Uint8Array;

export interface SparkplugMetric {
  name?: string;
  alias?: number;
  /** ms since epoch, UTC */
  timestamp?: number;
  datatype: DataType;
  value?: MetricValue | null;
  isNull?: boolean;
  isHistorical?: boolean;
  isTransient?: boolean;
  /** Decode only: the protobuf value field the sender set ("intValue", "stringValue", ...), so a host can tell a value that contradicts its datatype. */
  valueField?: string;
  /** Decode only: the raw unsigned bits of int_value/long_value, for re-reading with the BIRTH's datatype when DATA omits it. */
  valueBits?: bigint;
}

export interface SparkplugPayload {
  timestamp?: number;
  seq?: number;
  uuid?: string;
  body?: Uint8Array;
  metrics: SparkplugMetric[];
}

export type MessageType =
  | "NBIRTH" | "NDEATH" | "NDATA" | "NCMD" | "DBIRTH" | "DDEATH" | "DDATA" | "DCMD";

export const NAMESPACE = "spBv1.0";
const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>(
  ["NBIRTH", "NDEATH", "NDATA", "NCMD", "DBIRTH", "DDEATH", "DDATA", "DCMD"]);

export class SparkplugDecodeError extends ValidationError {
  constructor(message: string) {
    super(message, "sparkplug_malformed");
    this.name = "SparkplugDecodeError";
  }
}

/**
 * protobufjs and the Payload type, loaded on the first encode or decode: Node-RED loads every node
 * of the pack, and a process that never speaks Sparkplug need not carry them (about 8 MB RSS;
 * issue 19, memory per line process).
 */
let codec: { PayloadType: Protobuf.Type; Long: LongClass } | null = null;
function sparkplugCodec(): NonNullable<typeof codec> {
  if (!codec) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const protobuf = require("protobufjs") as typeof Protobuf;
    const root = protobuf.Root.fromJSON(protoJson as Protobuf.INamespace);
    codec = {
      PayloadType: root.lookupType("org.eclipse.tahu.protobuf.Payload"),
      Long: protobuf.util.Long as unknown as LongClass,
    };
  }
  return codec;
}
type LongLike = { toString(): string; low: number; high: number; unsigned: boolean };
type LongClass = { fromString(s: string, unsigned: boolean): LongLike };

// ---------------------------------------------------------------------------------------- encode

export function encodePayload(p: SparkplugPayload): Uint8Array {
  const message: Record<string, unknown> = { metrics: p.metrics.map(encodeMetric) };
  if (p.timestamp !== undefined) message.timestamp = toUint64(p.timestamp, "payload timestamp");
  if (p.seq !== undefined) message.seq = toUint64(p.seq, "seq");
  if (p.uuid !== undefined) message.uuid = p.uuid;
  if (p.body !== undefined) message.body = p.body;
  const { PayloadType } = sparkplugCodec();
  return PayloadType.encode(PayloadType.fromObject(message)).finish();
}

function encodeMetric(m: SparkplugMetric): Record<string, unknown> {
  const out: Record<string, unknown> = { datatype: m.datatype };
  const label = m.name ?? `alias ${m.alias}`;
  if (m.name !== undefined) out.name = m.name;
  if (m.alias !== undefined) out.alias = toUint64(m.alias, `${label} alias`);
  if (m.timestamp !== undefined) out.timestamp = toUint64(m.timestamp, `${label} timestamp`);
  if (m.isHistorical) out.isHistorical = true;
  if (m.isTransient) out.isTransient = true;
  if (m.isNull || m.value === null || m.value === undefined) {
    out.isNull = true;
    return out;
  }
  const v = m.value;
  switch (m.datatype) {
    case DataType.Int8: case DataType.Int16: case DataType.Int32:
    case DataType.UInt8: case DataType.UInt16: case DataType.UInt32:
      out.intValue = Number(expectInteger(v, label)) >>> 0;
      break;
    case DataType.Int64: case DataType.UInt64:
      out.longValue = toUint64(BigInt.asUintN(64, BigInt(expectInteger(v, label))), label);
      break;
    case DataType.DateTime:
      out.longValue = toUint64(expectInteger(v, label), label);
      break;
    case DataType.Float: out.floatValue = expect(v, "number", label); break;
    case DataType.Double: out.doubleValue = expect(v, "number", label); break;
    case DataType.Boolean: out.booleanValue = expect(v, "boolean", label); break;
    case DataType.String: case DataType.Text: case DataType.UUID:
      out.stringValue = expect(v, "string", label);
      break;
    case DataType.Bytes: case DataType.File:
      if (!(v instanceof Uint8Array)) throw new ValidationError(`${label}: expected bytes`, "type_mismatch");
      out.bytesValue = v;
      break;
    default:
      throw new ValidationError(`${label}: datatype ${m.datatype} is not supported`, "type_mismatch");
  }
  return out;
}

function expect<T extends "number" | "boolean" | "string">(v: MetricValue, type: T, label: string): MetricValue {
  if (typeof v !== type) throw new ValidationError(`${label}: expected a ${type}, got ${typeof v}`, "type_mismatch");
  return v;
}

function expectInteger(v: MetricValue, label: string): number | bigint {
  if (typeof v === "bigint" || (typeof v === "number" && Number.isSafeInteger(v))) return v;
  throw new ValidationError(`${label}: expected an integer, got ${String(v)}`, "type_mismatch");
}

/** uint64 fields take a Long so that values above 2^53 are exact. */
function toUint64(v: number | bigint, label: string): LongLike {
  if (typeof v === "number" && !(Number.isSafeInteger(v) && v >= 0)) {
    throw new ValidationError(`${label}: expected a non-negative integer, got ${v}`, "type_mismatch");
  }
  if (typeof v === "bigint" && (v < 0n || v >= 1n << 64n)) {
    throw new ValidationError(`${label}: out of uint64 range`, "type_mismatch");
  }
  return sparkplugCodec().Long.fromString(v.toString(), true);
}

// ---------------------------------------------------------------------------------------- decode

export function decodePayload(buf: Uint8Array): SparkplugPayload {
  if (!(buf instanceof Uint8Array)) throw new SparkplugDecodeError("Sparkplug payload must be bytes");
  let raw: Record<string, unknown>;
  try {
    raw = sparkplugCodec().PayloadType.decode(buf) as unknown as Record<string, unknown>;
  } catch (err) {
    throw new SparkplugDecodeError(`Sparkplug payload is truncated or malformed: ${(err as Error).message}`);
  }
  const out: SparkplugPayload = { metrics: [] };
  if (has(raw, "timestamp")) out.timestamp = toNumber(raw.timestamp, "payload timestamp");
  if (has(raw, "seq")) out.seq = toNumber(raw.seq, "seq");
  if (has(raw, "uuid")) out.uuid = raw.uuid as string;
  if (has(raw, "body")) out.body = raw.body as Uint8Array;
  for (const m of (raw.metrics as Record<string, unknown>[]) ?? []) out.metrics.push(decodeMetric(m));
  return out;
}

function decodeMetric(raw: Record<string, unknown>): SparkplugMetric {
  const datatype = has(raw, "datatype") ? (raw.datatype as number) : DataType.Unknown;
  const m: SparkplugMetric = { datatype };
  if (has(raw, "name")) m.name = raw.name as string;
  if (has(raw, "alias")) m.alias = toNumber(raw.alias, "alias");
  if (has(raw, "timestamp")) m.timestamp = toNumber(raw.timestamp, "metric timestamp");
  if (raw.isHistorical === true) m.isHistorical = true;
  if (raw.isTransient === true) m.isTransient = true;
  const field = raw.value as string | undefined; // protobufjs names the set member of the oneof
  if (raw.isNull === true || field === undefined) {
    m.isNull = true;
    m.value = null;
    return m;
  }
  const v = raw[field];
  // Not enumerable: callers comparing decoded metrics see the same objects as before.
  Object.defineProperty(m, "valueField", { value: field, enumerable: false });
  if (field === "intValue" || field === "longValue") {
    const unsigned = field === "intValue" ? BigInt(v as number) : BigInt((v as LongLike).toString());
    Object.defineProperty(m, "valueBits", { value: unsigned, enumerable: false });
    m.value = integerValue(datatype, unsigned);
  } else {
    m.value = v as MetricValue;
  }
  return m;
}

/** Interprets the raw unsigned bits of int_value or long_value according to the datatype. */
export function integerValue(datatype: DataType, bits: bigint): MetricValue {
  switch (datatype) {
    case DataType.Int8: return Number(BigInt.asIntN(8, bits));
    case DataType.Int16: return Number(BigInt.asIntN(16, bits));
    case DataType.Int32: return Number(BigInt.asIntN(32, bits));
    case DataType.UInt8: return Number(BigInt.asUintN(8, bits));
    case DataType.UInt16: return Number(BigInt.asUintN(16, bits));
    case DataType.UInt32: return Number(BigInt.asUintN(32, bits));
    case DataType.Int64: return BigInt.asIntN(64, bits);
    case DataType.UInt64: return bits;
    case DataType.DateTime: return Number(bits);
    default: return bits <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(bits) : bits;
  }
}

function toNumber(v: unknown, label: string): number {
  const n = typeof v === "number" ? v : Number((v as LongLike).toString());
  if (!Number.isSafeInteger(n)) throw new SparkplugDecodeError(`Sparkplug ${label} ${String(v)} is beyond 2^53`);
  return n;
}

function has(o: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key) && o[key] !== null && o[key] !== undefined;
}

// ---------------------------------------------------------------------------------------- topics

export interface TopicParts {
  group: string;
  type: MessageType;
  edgeNode: string;
  device?: string;
}

export type ParsedTopic = TopicParts | { type: "STATE"; hostId: string };

export function buildTopic(t: TopicParts): string {
  if (!MESSAGE_TYPES.has(t.type)) throw new ConfigError(`unknown Sparkplug message type "${t.type}"`);
  const levels = [checkId(t.group, "group id"), t.type, checkId(t.edgeNode, "edge node id")];
  const deviceLevel = t.type.startsWith("D");
  if (deviceLevel && t.device === undefined) throw new ConfigError(`${t.type} needs a device id`);
  if (!deviceLevel && t.device !== undefined) throw new ConfigError(`${t.type} takes no device id`);
  if (t.device !== undefined) levels.push(checkId(t.device, "device id"));
  return `${NAMESPACE}/${levels.join("/")}`;
}

export function stateTopic(hostId: string): string {
  return `${NAMESPACE}/STATE/${checkId(hostId, "host id")}`;
}

export function parseTopic(topic: string): ParsedTopic | null {
  const levels = topic.split("/");
  if (levels[0] !== NAMESPACE || levels.some((l) => !isValidId(l))) return null;
  const [, group = "", kind = "", edgeNode = "", device] = levels;
  if (group === "STATE") return levels.length === 3 ? { type: "STATE", hostId: kind } : null;
  if (levels.length < 4 || levels.length > 5 || !MESSAGE_TYPES.has(kind)) return null;
  const type = kind as MessageType;
  const wantsDevice = type.startsWith("D");
  if (wantsDevice !== (device !== undefined)) return null;
  const parts: TopicParts = { group, type, edgeNode };
  if (device !== undefined) parts.device = device;
  return parts;
}

function isValidId(id: string): boolean {
  return typeof id === "string" && id.length > 0 && !/[/+#]/.test(id);
}

function checkId(id: string, what: string): string {
  if (!isValidId(id)) throw new ConfigError(`Sparkplug ${what} "${id}" must be non-empty and free of / + #`);
  return id;
}
