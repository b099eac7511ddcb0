/**
 * A queue segment file as the queue holds it in memory, the read cursor over the segments, and
 * the small fs helpers both use.
 */
import * as fs from "fs";

export interface Segment {
  firstSeq: number;
  /** Highest seq this segment may hold; Infinity while it is the active (written) one. */
  lastSeq: number;
  bytes: number;
  file: string;
  readFd: number;
  /** Damage was found (and counted) here. */
  damaged?: boolean;
  /** Moved to the damaged/ folder: kept, never deleted. */
  aside?: boolean;
  /** Newest record timestamp written here (max-age sweep). */
  maxTs: number;
  /** Highest seq written here so far. */
  lastWritten: number;
}

/** One take(): the max-age cutoff (read once) and how many records it expired. */
export class ReadPass {
  readonly cutoff: number;
  expired = 0;
  constructor(maxAgeMs: number | undefined) {
    this.cutoff = maxAgeMs && maxAgeMs > 0 ? Date.now() - maxAgeMs : -Infinity;
  }
}

export class Cursor {
  offset = 0;
  /** Bytes the next read must cover (a frame larger than one chunk). */
  need = 0;
  /** The seq the next frame should carry; a damaged stretch loses the seqs up to the next valid frame. */
  expect = 0;
  /** Inside a damaged stretch. */
  damaged = false;
  constructor(public seg: Segment | undefined) {
    this.expect = seg?.firstSeq ?? 0;
  }
  moveTo(seg: Segment | undefined): void {
    this.seg = seg;
    this.offset = 0;
    this.need = 0;
    this.expect = seg?.firstSeq ?? 0;
    this.damaged = false;
  }
}

export function readFd(seg: Segment): number {
  if (seg.readFd < 0) seg.readFd = fs.openSync(seg.file, "r");
  return seg.readFd;
}

export function closeRead(seg: Segment): void {
  if (seg.readFd >= 0) fs.closeSync(seg.readFd);
  seg.readFd = -1;
}

export async function writeAll(fd: number, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    done += await new Promise<number>((resolve, reject) =>
      fs.write(fd, buf, done, buf.length - done, position + done, (e, n) => (e ? reject(e) : resolve(n))));
  }
}
