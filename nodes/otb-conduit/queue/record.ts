/**
 * One queue record on disk. Little-endian frame:
 *
 *   magic u32 "OTBQ" | bodyLength u32 | seq u64 | crc32 u32 | body
 *   body = ts u64 (ms) | kind u8 | topicLength u16 | topic (UTF-8) | payload
 *
 * The CRC covers seq and body, so a bit flip anywhere but the magic and length is caught, and
 * a flip there makes the frame fail to parse. The magic lets a reader find the next frame
 * after a damaged one instead of giving up on the rest of the segment.
 */
import { crc32 } from "zlib";

export const MAGIC = 0x5142544f; // "OTBQ" read as little-endian u32
export const HEADER_BYTES = 20;
const BODY_FIXED_BYTES = 11;
/**
 * Kind of the queue's own marker records (never published): "seqs <payload>..<seq> were never
 * written" after a failed commit, so recovery tells a write failure (already counted) from damage.
 */
export const GAP_KIND = 255;
/** Refuses absurd lengths from a corrupted header before allocating anything. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface RecordInput {
  ts: number;
  /** Message kind code (see KIND_CODES); lets replay and quarantine say what a record was. */
  kind: number;
  topic: string;
  payload: Buffer;
}

export interface QueueRecord extends RecordInput {
  seq: number;
}

export function encodedSize(r: RecordInput): number {
  return HEADER_BYTES + BODY_FIXED_BYTES + Buffer.byteLength(r.topic) + r.payload.length;
}

export function encodeRecord(seq: number, r: RecordInput): Buffer {
  const topicLength = Buffer.byteLength(r.topic);
  const bodyLength = BODY_FIXED_BYTES + topicLength + r.payload.length;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + bodyLength);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(bodyLength, 4);
  writeU64(buf, seq, 8);
  const body = HEADER_BYTES;
  writeU64(buf, Math.max(0, Math.trunc(r.ts)), body);
  buf.writeUInt8(r.kind & 0xff, body + 8);
  buf.writeUInt16LE(topicLength, body + 9);
  buf.write(r.topic, body + BODY_FIXED_BYTES, topicLength, "utf8");
  r.payload.copy(buf, body + BODY_FIXED_BYTES + topicLength);
  buf.writeUInt32LE(checksum(buf, body, bodyLength), 16);
  return buf;
}

function checksum(buf: Buffer, bodyStart: number, bodyLength: number): number {
  return crc32(buf.subarray(bodyStart, bodyStart + bodyLength), crc32(buf.subarray(8, 16)));
}

export type ParseResult =
  | { status: "ok"; record: QueueRecord; size: number }
  | { status: "incomplete" } // the frame runs past the end of the buffer
  | { status: "corrupt" }; // no valid frame starts here

/** Parses the frame starting at `offset`. */
export function parseRecord(buf: Buffer, offset: number): ParseResult {
  if (buf.length - offset < HEADER_BYTES) return { status: "incomplete" };
  if (buf.readUInt32LE(offset) !== MAGIC) return { status: "corrupt" };
  const bodyLength = buf.readUInt32LE(offset + 4);
  if (bodyLength < BODY_FIXED_BYTES || bodyLength > MAX_BODY_BYTES) return { status: "corrupt" };
  if (buf.length - offset < HEADER_BYTES + bodyLength) return { status: "incomplete" };
  const body = offset + HEADER_BYTES;
  const stored = buf.readUInt32LE(offset + 16);
  const actual = crc32(buf.subarray(body, body + bodyLength), crc32(buf.subarray(offset + 8, offset + 16)));
  if (stored !== actual) return { status: "corrupt" };
  const topicLength = buf.readUInt16LE(body + 9);
  if (BODY_FIXED_BYTES + topicLength > bodyLength) return { status: "corrupt" };
  const topicStart = body + BODY_FIXED_BYTES;
  return {
    status: "ok",
    size: HEADER_BYTES + bodyLength,
    record: {
      seq: readU64(buf, offset + 8),
      ts: readU64(buf, body),
      kind: buf.readUInt8(body + 8),
      topic: buf.toString("utf8", topicStart, topicStart + topicLength),
      // A copy, so the read buffer can be reused and a held record never pins a whole chunk.
      payload: Buffer.from(buf.subarray(topicStart + topicLength, body + bodyLength)),
    },
  };
}

const MAGIC_BYTES = Buffer.from([0x4f, 0x54, 0x42, 0x51]);

/** Where the next frame might start after a corrupt byte at `offset` (-1: none in this buffer). */
export function findNextMagic(buf: Buffer, offset: number): number {
  return buf.indexOf(MAGIC_BYTES, offset + 1);
}

/**
 * Parses the frame at `offset` as part of a whole file (or the whole committed part of one):
 * a frame that claims to run past `end` cannot be a torn write there, so its length field is
 * damaged and it is reported corrupt, letting the caller resync on the next magic.
 */
export function parseWithin(buf: Buffer, offset: number, atEnd: boolean): ParseResult {
  const r = parseRecord(buf, offset);
  return r.status === "incomplete" && atEnd ? { status: "corrupt" } : r;
}

// Seqs and timestamps are u64 on disk and exact JS numbers below 2^53; two u32 halves avoid
// a BigInt per field on the hot read and write paths.
function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % 0x100000000, at);
  buf.writeUInt32LE(Math.floor(value / 0x100000000), at + 4);
}

function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 4) * 0x100000000 + buf.readUInt32LE(at);
}
