/**
 * The conduit's own durable log (never the MQTT client's store, which is known to lose data).
 *
 * - Records get 64-bit sequence numbers (held as JS numbers: exact up to 2^53, centuries at
 *   1 M records/s) and a CRC32 each; see record.ts for the frame.
 * - Group commit: appends collect in memory and are written and fdatasync'ed together every
 *   `commitIntervalMs`; `append()` resolves only then, so "accepted" means "on disk".
 * - Segment files `seg-<first seq>.otbq` roll at `segmentBytes`; a segment is deleted once every
 *   record in it is resolved (delivered, quarantined or dropped) and that mark is on disk.
 * - `take()` hands out records in sequence order, at most what the caller asks for (the caller
 *   bounds its in-flight window); `settle()` resolves one; `rewind()` returns everything in
 *   flight after a disconnect, so replay is FIFO from the oldest unresolved record.
 * - Replay order: in-order (nothing newer overtakes the backlog) or live-first (records that
 *   arrive after `markLive()` go first; the backlog drains with what the window has left).
 * - Bounded: when segments plus pending bytes would pass `maxBytes`, "reject-new" refuses the
 *   record and "drop-oldest" deletes the oldest segment; either way every record is counted.
 * - Recovery (restart, kill -9): every segment is scanned, every frame checked; a damaged frame
 *   is skipped (the reader resyncs on the next magic) and the records lost to it are counted,
 *   while all valid records replay in order. The invariant the counters keep:
 *   recovered + produced = delivered + quarantined + dropped + queued.
 */
import { EventEmitter } from "events";
import * as fs from "fs";
import * as path from "path";
import { AckStateFile, readAckMark } from "./ack-state";
import { lockFolder, unlockFolder } from "./folder-lock";
import { recoverFolder } from "./recovery";
import { GAP_KIND, encodeRecord, encodedSize, findNextMagic, parseRecord, type QueueRecord, type RecordInput } from "./record";

export type FullPolicy = "drop-oldest" | "reject-new";
export type ReplayOrder = "in-order" | "live-first";

export interface QueueOptions {
  dir: string;
  maxBytes: number;
  commitIntervalMs: number;
  fullPolicy: FullPolicy;
  replayOrder?: ReplayOrder;
  /** Default: a quarter of maxBytes, between 4 KiB and 16 MiB, so drop-oldest always has a sealed segment to free. */
  segmentBytes?: number;
  onError?: (err: Error) => void;
}

export interface QueueCounters {
  /** Records offered to append() by this process (accepted or refused). */
  produced: number;
  /** Valid unresolved records found on disk at open. */
  recovered: number;
  delivered: number;
  quarantined: number;
  /** Refused or deleted because the queue was full, per the full policy, or lost to a write error. */
  dropped: number;
  /** Records lost to damaged queue files (found at open, or while reading). */
  corrupt: number;
  queued: number;
  inFlight: number;
  bytes: number;
  segments: number;
}

interface Segment {
  firstSeq: number;
  /** Highest seq this segment may hold; Infinity while it is the active (written) one. */
  lastSeq: number;
  bytes: number;
  file: string;
  readFd: number;
  /** Recovery found damage here (already counted); the reader skips it silently. */
  damaged?: boolean;
}

interface Pending {
  seq: number;
  frame: Buffer;
  onCommitted?: (ok: boolean) => void;
}

export interface AppendResult {
  accepted: number;
  rejected: number;
  /** Indexes (into the appended array) of the refused records, when there are any. */
  refusedAt?: number[];
}

const READ_CHUNK = 256 * 1024;

export class DurableQueue extends EventEmitter {
  private readonly segments: Segment[] = [];
  private active!: Segment;
  private writeFd = -1;
  private pending: Pending[] = [];
  /** Seq ranges of batches that failed to write, to be marked on disk by the next commit. */
  private gaps: Array<{ from: number; to: number }> = [];
  private pendingBytes = 0;
  private nextSeq = 1;
  private resolvedUpTo = 0;
  private readonly resolvedAbove = new Set<number>();
  private readonly inFlight = new Set<number>();
  private persistedUpTo = 0;
  private liveFrom = Infinity;
  private backlog: Cursor;
  private live: Cursor | null = null;
  private committing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly ackState!: AckStateFile;
  private closed = false;
  private readonly segmentBytes: number;
  private readonly lockFile: string;
  readonly counters = { produced: 0, recovered: 0, delivered: 0, quarantined: 0, dropped: 0, corrupt: 0 };

  private constructor(private readonly opts: QueueOptions) {
    super();
    this.segmentBytes = opts.segmentBytes ?? Math.min(16 << 20, Math.max(4 << 10, Math.floor(opts.maxBytes / 4)));
    fs.mkdirSync(opts.dir, { recursive: true });
    this.lockFile = lockFolder(opts.dir);
    try {
      const ackFile = path.join(opts.dir, "ack.state");
      const mark = readAckMark(ackFile);
      this.resolvedUpTo = this.persistedUpTo = mark.resolvedUpTo;
      this.recover();
      this.ackState = new AckStateFile(ackFile, mark);
      this.openActive();
    } catch (err) {
      unlockFolder(opts.dir, this.lockFile);
      throw err;
    }
    this.backlog = new Cursor(this.segments[0]);
    this.timer = setInterval(() => this.tick(), Math.max(1, opts.commitIntervalMs));
    this.timer.unref?.();
  }

  static open(opts: QueueOptions): DurableQueue {
    return new DurableQueue(opts);
  }

  /** The seq the next appended record will get. */
  get nextSequence(): number {
    return this.nextSeq;
  }

  get replayOrder(): ReplayOrder {
    return this.opts.replayOrder ?? "in-order";
  }

  snapshot(): QueueCounters {
    return {
      ...this.counters,
      queued: this.nextSeq - 1 - this.resolvedUpTo - this.resolvedAbove.size,
      inFlight: this.inFlight.size,
      bytes: this.diskBytes() + this.pendingBytes,
      segments: this.segments.length,
    };
  }

  /** Appends records; resolves once they are on disk (group commit), with what the full policy refused. */
  append(inputs: RecordInput[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error("queue is closed"));
    const refusedAt: number[] = [];
    const acceptedAt: number[] = [];
    let last: Pending | null = null;
    inputs.forEach((input, i) => {
      this.counters.produced++;
      if (!this.makeRoom(encodedSize(input))) {
        refusedAt.push(i);
        this.counters.dropped++;
        return;
      }
      const seq = this.nextSeq++;
      last = { seq, frame: encodeRecord(seq, input) };
      this.pending.push(last);
      this.pendingBytes += last.frame.length;
      acceptedAt.push(i);
    });
    const result = (ok: boolean): AppendResult => {
      const refused = ok ? refusedAt : [...refusedAt, ...acceptedAt].sort((a, b) => a - b);
      return refused.length > 0 ? { accepted: inputs.length - refused.length, rejected: refused.length, refusedAt: refused }
        : { accepted: inputs.length, rejected: 0 };
    };
    if (!last) return Promise.resolve(result(true));
    const tail: Pending = last;
    return new Promise((resolve) => {
      tail.onCommitted = (ok) => resolve(result(ok));
    });
  }

  /** Up to `max` records that are neither resolved nor in flight, in the configured replay order. */
  take(max: number): QueueRecord[] {
    const out: QueueRecord[] = [];
    if (this.live) this.read(this.live, max, this.liveFrom, Infinity, out);
    if (out.length < max) this.read(this.backlog, max, 0, this.live ? this.liveFrom : Infinity, out);
    return out;
  }

  /**
   * Resolves a record handed out by take() (it may have been rewound since, e.g. a quarantine
   * decided as the link dropped). A settle for an already resolved record is ignored.
   */
  settle(seq: number, outcome: "delivered" | "quarantined"): void {
    this.inFlight.delete(seq);
    if (seq >= this.nextSeq || this.isResolved(seq)) return;
    this.counters[outcome]++;
    this.resolve(seq);
  }

  /** The link dropped: everything in flight goes back, and replay restarts from the oldest unresolved record. */
  rewind(): void {
    this.inFlight.clear();
    this.backlog = new Cursor(this.segments[0]);
    if (this.live) this.live = new Cursor(this.segmentFor(this.liveFrom));
  }

  /** Gives one in-flight record back (the broker said "later"); it is handed out again by take(). */
  release(seq: number): void {
    if (!this.inFlight.delete(seq)) return;
    this.backlog = new Cursor(this.segments[0]);
    if (this.live) this.live = new Cursor(this.segmentFor(this.liveFrom));
  }

  /** Live-first: records appended from now on are sent before the backlog. A no-op in-order. */
  markLive(): void {
    if (this.replayOrder !== "live-first") return;
    this.liveFrom = this.nextSeq;
    this.live = new Cursor(this.active);
  }

  /** Records older than the live boundary still waiting (replay progress in live-first mode). */
  backlogRemaining(): number {
    return this.snapshot().queued;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.committing;
    await this.commit();
    await this.ackState.write(this.resolvedUpTo).catch(() => undefined);
    this.ackState.close();
    if (this.writeFd >= 0) fs.closeSync(this.writeFd);
    this.writeFd = -1;
    for (const s of this.segments) closeRead(s);
    unlockFolder(this.opts.dir, this.lockFile);
  }

  // ------------------------------------------------------------------------------ recovery

  private recover(): void {
    const r = recoverFolder(this.opts.dir, this.resolvedUpTo);
    for (const seq of r.lost) {
      this.counters.corrupt++;
      this.resolve(seq);
    }
    for (const seq of r.neverWritten) this.resolve(seq);
    this.counters.recovered += r.recovered;
    for (const seg of r.segments) this.segments.push({ ...seg, readFd: -1 });
    this.nextSeq = r.highest + 1;
  }

  // ------------------------------------------------------------------------------ writing

  private openActive(): void {
    const file = path.join(this.opts.dir, `seg-${String(this.nextSeq).padStart(20, "0")}.otbq`);
    this.writeFd = fs.openSync(file, "w");
    this.active = { firstSeq: this.nextSeq, lastSeq: Infinity, bytes: 0, file, readFd: -1 };
    this.segments.push(this.active);
  }

  private tick(): void {
    if (this.committing) return;
    const work = this.pending.length > 0 ? this.commit() : this.persistedUpTo !== this.resolvedUpTo ? this.persistMark() : null;
    if (!work) return;
    // A timer callback must never leave an unhandled rejection behind (it would end Node-RED).
    this.committing = work.catch((err: Error) => this.opts.onError?.(err)).finally(() => (this.committing = null));
  }

  private async commit(): Promise<void> {
    if (this.pending.length === 0 || this.writeFd < 0) return;
    const batch = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    let ok = true;
    try {
      if (this.active.bytes > 0 && this.active.bytes + bytes > this.segmentBytes) {
        this.active.lastSeq = batch[0].seq - 1;
        fs.closeSync(this.writeFd);
        this.writeFd = -1;
        this.nextSeqForFile(batch[0].seq);
      }
      // A failed batch left a hole in the seqs; a marker says so, so recovery does not take it for damage.
      const markers = this.gaps.map((g) => encodeRecord(g.to, { ts: 0, kind: GAP_KIND, topic: "", payload: Buffer.from(String(g.from)) }));
      const frames = [...markers, ...batch.map((p) => p.frame)];
      const frame = frames.length === 1 ? frames[0] : Buffer.concat(frames);
      const fd = this.writeFd;
      const seg = this.active;
      try {
        await writeAll(fd, frame, seg.bytes);
        await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
        seg.bytes += frame.length;
        this.gaps = [];
      } catch (err) {
        // Cut the file back to its last good frame; the next commit writes at seg.bytes again.
        try { fs.ftruncateSync(fd, seg.bytes); } catch { /* nothing more to do */ }
        throw err;
      }
    } catch (err) {
      // ENOSPC, EIO, EMFILE: the batch is not on disk. It is counted as dropped and its
      // producers are told it was refused; nothing is reported as accepted that is not on disk.
      ok = false;
      for (const p of batch) {
        this.counters.dropped++;
        this.resolve(p.seq);
      }
      this.gaps.push({ from: batch[0].seq, to: batch[batch.length - 1].seq });
      this.opts.onError?.(err as Error);
    }
    for (const p of batch) p.onCommitted?.(ok);
    if (ok) this.emit("committed");
    await this.persistMark();
  }

  private nextSeqForFile(firstSeq: number): void {
    const saved = this.nextSeq;
    this.nextSeq = firstSeq;
    this.openActive();
    this.nextSeq = saved;
  }

  /** Writes the resolved mark, then deletes the segments it covers. */
  private async persistMark(): Promise<void> {
    const mark = this.resolvedUpTo;
    if (mark === this.persistedUpTo) return;
    try {
      await this.ackState.write(mark);
      this.persistedUpTo = mark;
    } catch (err) {
      this.opts.onError?.(err as Error);
      return;
    }
    while (this.segments.length > 1 && this.segments[0].lastSeq <= this.persistedUpTo) this.deleteSegment(this.segments[0]);
  }

  /** Frees space per the full policy; false: the record must be refused. */
  private makeRoom(size: number): boolean {
    while (this.diskBytes() + this.pendingBytes + size > this.opts.maxBytes) {
      if (this.opts.fullPolicy === "reject-new") return false;
      const oldest = this.segments[0];
      // Only sealed segments can go; with nothing sealed the record is refused (and counted).
      if (!oldest || oldest === this.active) return false;
      for (let seq = Math.max(oldest.firstSeq, this.resolvedUpTo + 1); seq <= oldest.lastSeq; seq++) {
        if (this.isResolved(seq)) continue;
        this.inFlight.delete(seq);
        this.counters.dropped++;
        this.resolve(seq);
      }
      this.deleteSegment(oldest);
    }
    return true;
  }

  private deleteSegment(seg: Segment): void {
    const i = this.segments.indexOf(seg);
    if (i < 0 || seg === this.active) return;
    this.segments.splice(i, 1);
    closeRead(seg);
    fs.rmSync(seg.file, { force: true });
    for (const c of [this.backlog, this.live]) if (c && c.seg === seg) c.moveTo(this.segments[0]);
  }

  /** The segment that holds (or will hold) `seq`. */
  private segmentFor(seq: number): Segment {
    for (let i = this.segments.length - 1; i > 0; i--) if (this.segments[i].firstSeq <= seq) return this.segments[i];
    return this.segments[0];
  }

  private diskBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.bytes;
    return n;
  }

  // ------------------------------------------------------------------------------ reading

  /** Reads from `cursor` the records with fromSeq <= seq < limitSeq that are still to send. */
  private read(cursor: Cursor, max: number, fromSeq: number, limitSeq: number, out: QueueRecord[]): void {
    while (out.length < max && cursor.seg) {
      const seg = cursor.seg;
      const remaining = seg.bytes - cursor.offset;
      if (remaining <= 0) {
        const next = this.segments[this.segments.indexOf(seg) + 1];
        if (!next || seg === this.active) return;
        cursor.moveTo(next);
        continue;
      }
      // Read about what `max` records need, not a whole chunk for one record.
      const want = Math.min(remaining, Math.max(cursor.need, Math.min(READ_CHUNK, (max - out.length) * 512)));
      const buf = Buffer.allocUnsafe(want);
      const got = fs.readSync(readFd(seg), buf, 0, want, cursor.offset);
      const view = buf.subarray(0, got);
      let at = 0;
      let reachedLimit = false;
      cursor.need = 0;
      while (out.length < max && at < got) {
        const r = parseRecord(view, at);
        if (r.status === "incomplete") {
          if (got === remaining) at = got; // a torn tail, counted at recovery
          else cursor.need = got - at >= 8 ? 20 + view.readUInt32LE(at + 4) : READ_CHUNK;
          break;
        }
        if (r.status === "corrupt") {
          // Recovery counted the damage in recovered segments; anything else changed under us.
          if (!seg.damaged) this.counters.corrupt++;
          seg.damaged = true;
          const next = findNextMagic(view, at);
          at = next >= 0 ? next : got === remaining ? got : Math.max(at + 1, got - 3);
          continue;
        }
        const seq = r.record.seq;
        if (seq >= limitSeq) {
          reachedLimit = true;
          break;
        }
        at += r.size;
        if (r.record.kind === GAP_KIND || seq < fromSeq || this.isResolved(seq) || this.inFlight.has(seq)) continue;
        this.inFlight.add(seq);
        out.push(r.record);
      }
      cursor.offset += at;
      if (reachedLimit) return;
      if (at === 0 && !(cursor.need > want)) return; // no progress possible now
    }
  }

  // ------------------------------------------------------------------------------ resolution

  private isResolved(seq: number): boolean {
    return seq <= this.resolvedUpTo || this.resolvedAbove.has(seq);
  }

  private resolve(seq: number): void {
    if (seq !== this.resolvedUpTo + 1) {
      this.resolvedAbove.add(seq);
      return;
    }
    this.resolvedUpTo = seq;
    while (this.resolvedAbove.delete(this.resolvedUpTo + 1)) this.resolvedUpTo++;
  }
}

class Cursor {
  offset = 0;
  /** Bytes the next read must cover (a frame larger than one chunk). */
  need = 0;
  constructor(public seg: Segment | undefined) {}
  moveTo(seg: Segment | undefined): void {
    this.seg = seg;
    this.offset = 0;
    this.need = 0;
  }
}

function readFd(seg: Segment): number {
  if (seg.readFd < 0) seg.readFd = fs.openSync(seg.file, "r");
  return seg.readFd;
}

function closeRead(seg: Segment): void {
  if (seg.readFd >= 0) fs.closeSync(seg.readFd);
  seg.readFd = -1;
}

async function writeAll(fd: number, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    done += await new Promise<number>((resolve, reject) =>
      fs.write(fd, buf, done, buf.length - done, position + done, (e, n) => (e ? reject(e) : resolve(n))));
  }
}
