/**
 * How much the queue may hold given the disk it is on, not only the configured bound: when the
 * folder's filesystem is smaller than `maxBytes` (a 16 MB tmpfs under a 512 MB bound), the full
 * policy must apply at the disk's limit, before a write fails with ENOSPC. statfs is asked at
 * most every `refreshMs`; between two asks, the queue's own growth is accounted for exactly
 * (what it writes comes out of the free space it saw).
 */
import * as fs from "fs";

/** Kept free for the ack state, the quarantine file, the lock and each segment's last page. */
const RESERVE_BYTES = 128 * 1024;

export class DiskSpace {
  private free = Infinity;
  private blockSize = 4096;
  private ownAtCheck = 0;
  private checkedAt = -Infinity;

  constructor(private readonly dir: string, private readonly refreshMs = 100) {}

  /** Total size of the filesystem (Infinity when statfs is unavailable). */
  totalBytes(): number {
    try {
      const s = fs.statfsSync(this.dir);
      return s.blocks * s.bsize;
    } catch {
      return Infinity;
    }
  }

  /** Bytes the queue's segments may occupy in all, given it now holds `own` bytes in `segments` files. */
  room(own: number, segments: number, force = false): number {
    const now = Date.now();
    if (force || now - this.checkedAt >= this.refreshMs || now < this.checkedAt) {
      try {
        const s = fs.statfsSync(this.dir);
        this.free = s.bavail * s.bsize;
        this.blockSize = s.bsize;
      } catch {
        this.free = Infinity;
      }
      this.ownAtCheck = own;
      this.checkedAt = now;
    }
    return this.ownAtCheck + this.free - RESERVE_BYTES - (segments + 1) * this.blockSize;
  }

  /** Forget the last answer (after an ENOSPC, or once space was freed). */
  invalidate(): void {
    this.checkedAt = -Infinity;
  }
}
