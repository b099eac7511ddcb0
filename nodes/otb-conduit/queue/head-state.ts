/**
 * The highest seq known to be committed (written and fdatasync'ed), so recovery can count the
 * records a damaged, emptied or missing last segment held: without it, records cut from the end
 * of the newest segment would leave no trace. One 16-byte slot (seq u64 | crc32 u32 | zero u32)
 * overwritten in place after each commit, without its own fsync: after a power cut it may lag
 * by a commit, so it can only under-count, never report a record lost that was not committed.
 * The file is allocated at open, so the overwrite still succeeds on a full disk.
 */
import * as fs from "fs";
import { crc32 } from "zlib";

const SLOT = 16;

/** The committed head, or null when the file is missing or damaged (then recovery falls back). */
export function readHead(file: string): number | null {
  try {
    const buf = fs.readFileSync(file);
    if (buf.length < SLOT || crc32(buf.subarray(0, 8)) !== buf.readUInt32LE(8)) return null;
    return buf.readUInt32LE(4) * 0x100000000 + buf.readUInt32LE(0);
  } catch {
    return null;
  }
}

export class HeadFile {
  private fd: number;
  private readonly slot = Buffer.alloc(SLOT);

  constructor(file: string, head: number) {
    this.fd = fs.openSync(file, fs.existsSync(file) ? "r+" : "w+");
    this.write(head);
  }

  write(head: number): void {
    if (this.fd < 0) return;
    this.slot.writeUInt32LE(head % 0x100000000, 0);
    this.slot.writeUInt32LE(Math.floor(head / 0x100000000), 4);
    this.slot.writeUInt32LE(crc32(this.slot.subarray(0, 8)), 8);
    fs.writeSync(this.fd, this.slot, 0, SLOT, 0);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
