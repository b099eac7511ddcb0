/**
 * Register words to typed values. Modbus only defines 16-bit registers, big-endian; everything
 * wider is a device convention, which is why the incumbent pack leaves it to function nodes.
 * Here each tag states its byte order (inside a register) and word order (between registers),
 * and decodeTag() assembles the bytes most-significant first before reading them.
 */
import { at } from "../shared/checked";
import type { SignalValue } from "../shared";
import type { TagDef } from "./register-map";

/** Bytes of `words`, most significant first, after undoing the tag's byte and word order. */
export function canonicalBytes(words: readonly number[], byteOrder: TagDef["byteOrder"], wordOrder: TagDef["wordOrder"]): Buffer {
  const ordered = wordOrder === "little" ? [...words].reverse() : words;
  const buf = Buffer.allocUnsafe(ordered.length * 2);
  ordered.forEach((w, i) => {
    const hi = (w >> 8) & 0xff;
    const lo = w & 0xff;
    buf[i * 2] = byteOrder === "big" ? hi : lo;
    buf[i * 2 + 1] = byteOrder === "big" ? lo : hi;
  });
  return buf;
}

/** Decodes one register-area tag from its own words (already sliced to the tag's width). */
export function decodeRegisters(tag: TagDef, words: readonly number[]): SignalValue {
  if (tag.type === "bool") {
    const w = at(words, 0) & 0xffff; // extractTag refuses a reply shorter than the tag's width
    return tag.bit === undefined ? w !== 0 : ((w >> tag.bit) & 1) === 1;
  }
  if (tag.type === "string") {
    // Characters run in register order; only the order of the two bytes inside a register varies.
    const bytes = canonicalBytes(words, tag.byteOrder, "big");
    let end = bytes.indexOf(0);
    if (end < 0) end = bytes.length;
    return bytes.subarray(0, end).toString("latin1").replace(/\s+$/, "");
  }
  const b = canonicalBytes(words, tag.byteOrder, tag.wordOrder);
  let raw: number;
  switch (tag.type) {
    case "int16":
      raw = b.readInt16BE(0);
      break;
    case "uint16":
      raw = b.readUInt16BE(0);
      break;
    case "int32":
      raw = b.readInt32BE(0);
      break;
    case "uint32":
      raw = b.readUInt32BE(0);
      break;
    case "float32":
      raw = b.readFloatBE(0);
      break;
    case "float64":
      raw = b.readDoubleBE(0);
      break;
  }
  return scaled(raw, tag);
}

/** scale and offset apply to numbers only; 1/0 leaves the raw value untouched (no float noise). */
export function scaled(raw: number, tag: Pick<TagDef, "scale" | "offset">): number {
  if (tag.scale === 1 && tag.offset === 0) return raw;
  return raw * tag.scale + tag.offset;
}

/**
 * Picks a tag's value out of a coalesced block read starting at `blockStart`.
 * `data` holds register words (holding/input) or booleans (coil/discrete).
 */
export function extractTag(tag: TagDef, blockStart: number, data: ReadonlyArray<number | boolean>, width: number): SignalValue {
  const from = tag.address - blockStart;
  if (from < 0 || from + width > data.length) throw new RangeError(`short reply: ${tag.tag} needs ${from + width} items, got ${data.length}`);
  if (tag.area === "coil" || tag.area === "discrete") return Boolean(data[from]);
  return decodeRegisters(tag, data.slice(from, from + width) as number[]);
}
