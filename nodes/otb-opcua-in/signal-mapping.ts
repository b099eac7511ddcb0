/**
 * OPC UA DataValue -> Signal. The StatusCode travels with the value (Good / Uncertain / Bad, with
 * `opcua:<StatusCodeName>` in reasons), the timestamp is the source's, and values the Signal
 * contract cannot carry (arrays, structures) are marked bad rather than squeezed into a string.
 */
import { DataType, StatusCodes, type DataValue, type StatusCode } from "node-opcua-client";
import type { Quality, Signal, SignalValue } from "../shared";
import type { TagDef } from "./tag-list";

/** OPC UA severity bits: 00 Good, 01 Uncertain, 10/11 Bad (Part 4, 7.39). */
export function qualityOf(status: StatusCode): Quality {
  const severity = status.value >>> 30;
  if (severity === 0) return "good";
  if (severity === 1) return "uncertain";
  return "bad";
}

/** The Overflow info bit (Part 4 §7.39.1, bit 7): the server's queue discarded values before this one (§5.12.1.5). */
const OVERFLOW_BIT = 0x80;

/**
 * `opcua:<Name>` of the code for anything other than Good, and `opcua:Overflow` when the server
 * dropped values before this one. The other info bits (semantics or structure changed, limits)
 * add no reason; a Good value with info bits is not reported as "opcua:Good".
 */
export function statusReasons(status: StatusCode): string[] {
  const out: string[] = [];
  if ((status.value & 0xffff0000) !== StatusCodes.Good.value) {
    const name = status.name && !/^Unknown/.test(status.name) ? status.name.split("#")[0] : `0x${(status.value >>> 0).toString(16).padStart(8, "0")}`;
    out.push(`opcua:${name}`);
  }
  if ((status.value & OVERFLOW_BIT) !== 0) out.push("opcua:Overflow");
  return out;
}

/**
 * Epoch ms of an OPC UA timestamp, or null when it is absent or before 1970: a device without a
 * clock sends the null DateTime (0 ticks, 1601-01-01; Part 6 §5.2.2.5), which a Signal cannot carry.
 */
function epochMs(d: Date | null | undefined): number | null {
  const t = d?.getTime();
  return t !== undefined && Number.isFinite(t) && t >= 0 ? t : null;
}

/** Converts an OPC UA variant value into a Signal value, or explains why it cannot. */
export function toSignalValue(dataType: DataType, arrayType: number, value: unknown): { value: SignalValue; problem?: string } {
  if (arrayType !== 0) return { value: null, problem: "type_mismatch" };
  switch (dataType) {
    case DataType.Null:
      return { value: null };
    case DataType.Boolean:
      return { value: Boolean(value) };
    case DataType.SByte:
    case DataType.Byte:
    case DataType.Int16:
    case DataType.UInt16:
    case DataType.Int32:
    case DataType.UInt32:
    case DataType.Float:
    case DataType.Double:
      return typeof value === "number" && Number.isFinite(value) ? { value } : { value: null, problem: "not_finite" };
    case DataType.Int64:
    case DataType.UInt64: {
      // node-opcua gives [high, low] 32-bit words; beyond 2^53 precision would be lost silently.
      const [hi, lo] = value as [number, number];
      const n = dataType === DataType.Int64 ? (hi | 0) * 4294967296 + (lo >>> 0) : (hi >>> 0) * 4294967296 + (lo >>> 0);
      return Number.isSafeInteger(n) ? { value: n } : { value: null, problem: "precision_loss" };
    }
    case DataType.String:
      return { value: value === null || value === undefined ? null : String(value) };
    case DataType.DateTime:
      return { value: value instanceof Date ? value.getTime() : null };
    case DataType.LocalizedText:
      return { value: (value as { text?: string } | null)?.text ?? null };
    case DataType.QualifiedName:
      return { value: (value as { name?: string } | null)?.name ?? null };
    case DataType.StatusCode:
      return { value: (value as StatusCode).name };
    default:
      return { value: null, problem: "type_mismatch" };
  }
}

export interface SourceInfo {
  /** The endpoint URL, as Signal.source.device; the node id is the address. */
  device: string;
}

export function toSignal(tag: TagDef, dv: DataValue, source: SourceInfo, now: number): Signal {
  const status = dv.statusCode ?? StatusCodes.Good;
  let quality = qualityOf(status);
  const reasons = statusReasons(status);
  const v = dv.value;
  const converted = v ? toSignalValue(v.dataType, v.arrayType, v.value) : { value: null };
  if (converted.problem) {
    quality = "bad";
    reasons.push(converted.problem);
  }
  const ts = epochMs(dv.sourceTimestamp) ?? epochMs(dv.serverTimestamp) ?? now;
  const signal: Signal = {
    tag: tag.tag,
    value: quality === "bad" && converted.problem ? null : converted.value,
    ts,
    quality,
    source: { protocol: "opcua", address: tag.nodeId, device: source.device },
  };
  if (reasons.length > 0) signal.reasons = reasons;
  if (tag.unit) signal.unit = tag.unit;
  return signal;
}

/** A tag that has no value to report: unknown node, refused monitored item, lost connection. */
export function badSignal(tag: TagDef, reason: string, source: SourceInfo, now: number): Signal {
  const signal: Signal = {
    tag: tag.tag,
    value: null,
    ts: now,
    quality: "bad",
    reasons: [reason],
    source: { protocol: "opcua", address: tag.nodeId, device: source.device },
  };
  if (tag.unit) signal.unit = tag.unit;
  return signal;
}
