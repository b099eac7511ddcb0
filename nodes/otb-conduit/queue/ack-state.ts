/**
 * The queue's "everything up to seq N is resolved" mark (delivered, quarantined or dropped),
 * kept in two fixed slots that are written alternately: a torn write (kill -9, power loss)
 * can damage only the slot being written, and its CRC tells the reader to use the other one.
 * Each slot: generation u64 | resolvedUpTo u64 | crc32 u32 (over the first 16 bytes).
 */
import * as fs from "fs";
import { crc32 } from "zlib";

const SLOT_BYTES = 20;

export interface AckMark {
  generation: number;
  resolvedUpTo: number;
}

export function readAckMark(file: string): AckMark {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return { generation: 0, resolvedUpTo: 0 };
  }
  let best: AckMark = { generation: 0, resolvedUpTo: 0 };
  for (let slot = 0; slot < 2; slot++) {
    const o = slot * SLOT_BYTES;
    if (buf.length < o + SLOT_BYTES) break;
    if (crc32(buf.subarray(o, o + 16)) !== buf.readUInt32LE(o + 16)) continue;
    const mark = { generation: Number(buf.readBigUInt64LE(o)), resolvedUpTo: Number(buf.readBigUInt64LE(o + 8)) };
    if (mark.generation > best.generation) best = mark;
  }
  return best;
}

export class AckStateFile {
  private generation: number;
  private written: number;
  private fd: number;

  constructor(file: string, start: AckMark) {
    this.generation = start.generation;
    this.written = start.resolvedUpTo;
    const fresh = !fs.existsSync(file);
    this.fd = fs.openSync(file, fresh ? "w+" : "r+");
    // Allocate both slots now (zeros fail the CRC, so they read as "no mark"): later writes then
    // overwrite in place and still succeed on a full disk, so segments can always be freed.
    if (fresh) {
      fs.writeSync(this.fd, Buffer.alloc(2 * SLOT_BYTES), 0, 2 * SLOT_BYTES, 0);
      fs.fsyncSync(this.fd);
    }
  }

  /** Writes `resolvedUpTo` if it moved since the last write. Callers serialise their writes. */
  async write(resolvedUpTo: number): Promise<void> {
    if (resolvedUpTo === this.written || this.fd < 0) return;
    {
      this.generation++;
      const slot = Buffer.alloc(SLOT_BYTES);
      slot.writeBigUInt64LE(BigInt(this.generation), 0);
      slot.writeBigUInt64LE(BigInt(resolvedUpTo), 8);
      slot.writeUInt32LE(crc32(slot.subarray(0, 16)), 16);
      const fd = this.fd;
      await new Promise<void>((resolve, reject) =>
        fs.write(fd, slot, 0, SLOT_BYTES, (this.generation % 2) * SLOT_BYTES, (err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
      this.written = resolvedUpTo;
    }
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
