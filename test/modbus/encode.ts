/** Independent encoding for tests: what a device with a given byte/word order holds, via Buffer writes. */
import type { DataType, Order } from "../../nodes/otb-modbus-in/register-map";

/** Words as a device with the given byte/word order would hold them, built with Buffer writes. */
export function wordsFor(type: DataType, value: number, byteOrder: Order, wordOrder: Order): number[] {
  const size = type === "float64" ? 8 : type === "int16" || type === "uint16" ? 2 : 4;
  const b = Buffer.alloc(size);
  if (type === "int16") b.writeInt16BE(value);
  else if (type === "uint16") b.writeUInt16BE(value);
  else if (type === "int32") b.writeInt32BE(value);
  else if (type === "uint32") b.writeUInt32BE(value);
  else if (type === "float32") b.writeFloatBE(value);
  else b.writeDoubleBE(value);
  const words: number[] = [];
  for (let i = 0; i < size; i += 2) words.push(byteOrder === "big" ? b.readUInt16BE(i) : b.readUInt16LE(i));
  return wordOrder === "big" ? words : words.reverse();
}

