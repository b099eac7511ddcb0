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
 * - Bounded by `maxBytes` or by the disk, whichever is smaller (statfs, plus ENOSPC itself):
 *   "reject-new" refuses the record and then everything after it until space is freed, so what
 *   is kept is the oldest contiguous prefix; "drop-oldest" deletes the oldest segment (or, with
 *   nothing sealed yet, the oldest not yet written records), so what is kept is the newest
 *   contiguous tail. Every record is counted, a "dropped" event says which, and a "full" event
 *   (and `snapshot().full`) says the queue is at its limit, at the moment it gets there.
 * - Max age: a record whose timestamp is older than `maxAgeMs` is never handed out; it is
 *   resolved and counted as expired when read, and whole sealed segments past the age are
 *   swept on the commit timer so an outage does not fill the disk with dead records.
 * - Recovery (restart, kill -9): every segment is scanned, every frame checked; a damaged frame
 *   is skipped (the reader resyncs on the next magic, whatever field the damage hit) and only
 *   the records it held are counted, while all valid records replay in order. A damaged
 *   segment is moved aside to `<dir>/damaged/` (never deleted) and a "damaged" event says where.
 *   The invariant the counters keep:
 *   recovered + produced = delivered + quarantined + dropped + expired + corruptLive + queued
 *   (`corrupt` also counts records found damaged at open, which `recovered` never included).
 */
import { EventEmitter } from "events";
import * as fs from "fs";
import * as path from "path";
import { AckStateFile, readAckMark } from "./ack-state";
import { HeadFile, readHead } from "./head-state";
import { type DamageReport, damageMessage, moveAside } from "./damage";
import { DiskSpace } from "./disk-space";
import { lockFolder, unlockFolder } from "./folder-lock";
import { QueueFullError, type AppendResult, type DropReport, type FullState, type QueueCounters, type QueueOptions, type ReplayOrder } from "./queue-types";
import { recoverFolder } from "./recovery";
import { Cursor, ReadPass, type Segment, closeRead, readFd, writeAll } from "./segment";
import { GAP_KIND, encodeRecord, encodedSize, findNextMagic, parseWithin, type QueueRecord, type RecordInput } from "./record";
import { at } from "../../shared/checked";

export type { DamageReport } from "./damage";
export { QueueFullError } from "./queue-types";
export type { AppendResult, DropReport, FullPolicy, FullState, QueueCounters, QueueOptions, ReplayOrder } from "./queue-types";
interface Pending {
  seq: number;
  ts: number;
  frame: Buffer;
  onCommitted?: (ok: boolean) => void;
  /** Removed by drop-oldest before its write. */
  dropped?: boolean;
}

const READ_CHUNK = 256 * 1024;
/** Bounds the ENOSPC retries of one commit under drop-oldest (each frees one segment). */
const MAX_FREE_RETRIES = 1024;
const GAP_MARKER_BYTES = encodedSize({ ts: 0, kind: GAP_KIND, topic: "", payload: Buffer.from(String(Number.MAX_SAFE_INTEGER)) });

export class DurableQueue extends EventEmitter {
  private readonly segments: Segment[] = [];
  private active!: Segment;
  private writeFd = -1;
  private pending: Pending[] = [];
  /** Seq ranges never written (failed or dropped before their write), marked on disk by the next commit. */
  private gaps: Array<{ from: number; to: number }> = [];
  /** Producers whose records drop-oldest removed before their write: told "accepted" at the next commit. */
  private orphans: Array<(ok: boolean) => void> = [];
  private pendingBytes = 0;
  /** Bytes of the batch being written (neither pending nor on disk yet). */
  private writingBytes = 0;
  private bytesOnDisk = 0;
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
  private readonly head!: HeadFile;
  private closed = false;
  private rollRequested = false;
  private expiryReported = false;
  private fullState: FullState | null = null;
  private readonly disk: DiskSpace;
  private readonly segmentBytes: number;
  private readonly lockFile: string;
  /** Damage found at open, also emitted ("damaged" event, onError) once listeners can be attached. */
  readonly damage: DamageReport[] = [];
  readonly counters = { produced: 0, recovered: 0, delivered: 0, quarantined: 0, dropped: 0, expired: 0, corrupt: 0, corruptLive: 0 };

  private constructor(private readonly opts: QueueOptions) {
    super();
    fs.mkdirSync(opts.dir, { recursive: true });
    this.disk = new DiskSpace(opts.dir);
    const capacity = Math.min(opts.maxBytes, this.disk.totalBytes());
    this.segmentBytes = opts.segmentBytes ?? Math.min(16 << 20, Math.max(4 << 10, Math.floor(capacity / 8)));
    this.lockFile = lockFolder(opts.dir);
    try {
      const ackFile = path.join(opts.dir, "ack.state");
      const mark = readAckMark(ackFile);
      this.resolvedUpTo = this.persistedUpTo = mark.resolvedUpTo;
      const headFile = path.join(opts.dir, "head.state");
      this.recover(readHead(headFile));
      this.ackState = new AckStateFile(ackFile, mark);
      this.head = new HeadFile(headFile, this.nextSeq - 1);
      this.openActive(this.nextSeq);
    } catch (err) {
      for (const s of this.segments) closeRead(s);
      unlockFolder(opts.dir, this.lockFile);
      throw err;
    }
    this.backlog = new Cursor(this.segments[0]);
    this.timer = setInterval(() => this.tick(), Math.max(1, opts.commitIntervalMs));
    this.timer.unref?.();
    if (this.damage.length > 0) {
      // The owner attaches its listeners right after open(); tell them then, not into the void.
      setImmediate(() => {
        for (const d of this.damage) {
          this.emit("damaged", d);
          this.opts.onError?.(new Error(damageMessage(d)));
        }
      });
    }
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

  /** At the bound or the disk's limit (see the "full" event). */
  get full(): boolean {
    return this.fullState !== null;
  }

  snapshot(): QueueCounters {
    return {
      ...this.counters,
      queued: this.nextSeq - 1 - this.resolvedUpTo - this.resolvedAbove.size,
      inFlight: this.inFlight.size,
      bytes: this.bytesOnDisk + this.writingBytes + this.pendingBytes,
      segments: this.segments.length,
      full: this.fullState !== null,
    };
  }

  /** Appends records; resolves once they are on disk (group commit), with what the full policy refused. */
  append(inputs: RecordInput[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error("queue is closed"));
    const refusedAt: number[] = [];
    const acceptedAt: number[] = [];
    let last: Pending | null = null;
    const limit = this.limit();
    inputs.forEach((input, i) => {
      this.counters.produced++;
      if (!this.makeRoom(encodedSize(input), limit)) {
        refusedAt.push(i);
        return;
      }
      const seq = this.nextSeq++;
      last = { seq, ts: input.ts, frame: encodeRecord(seq, input) };
      this.pending.push(last);
      this.pendingBytes += last.frame.length;
      acceptedAt.push(i);
    });
    if (refusedAt.length > 0) {
      this.counters.dropped += refusedAt.length;
      this.emit("dropped", { reason: this.opts.fullPolicy === "reject-new" ? "reject-new" : "write-failed", count: refusedAt.length } satisfies DropReport);
    }
    const result = (ok: boolean): AppendResult => {
      const refused = ok ? refusedAt : [...refusedAt, ...acceptedAt].sort((a, b) => a - b);
      return refused.length > 0 ? { accepted: inputs.length - refused.length, rejected: refused.length, refusedAt: refused }
        : { accepted: inputs.length, rejected: 0 };
    };
    if (!last) return Promise.resolve(result(true));
    // Records waiting for their commit keep the process alive until it is done (the idle timer does not).
    this.timer?.ref?.();
    const tail: Pending = last;
    return new Promise((resolve) => {
      tail.onCommitted = (ok) => resolve(result(ok));
      if (tail.dropped) this.orphans.push(tail.onCommitted); // drop-oldest took it already
    });
  }

  /** Up to `max` records that are neither resolved nor in flight, in the configured replay order. */
  take(max: number): QueueRecord[] {
    const out: QueueRecord[] = [];
    const reading = new ReadPass(this.opts.maxAgeMs);
    if (this.live) this.read(this.live, max, this.liveFrom, Infinity, out, reading);
    if (out.length < max) this.read(this.backlog, max, 0, this.live ? this.liveFrom : Infinity, out, reading);
    if (reading.expired > 0) this.countExpired(reading.expired);
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
    this.resetCursors();
  }

  /** Gives one in-flight record back (the broker said "later"); it is handed out again by take(). */
  release(seq: number): void {
    if (!this.inFlight.delete(seq)) return;
    this.resetCursors();
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

  /**
   * Bounded: one group commit (at most what was appended since the last one) and one write of
   * the resolved mark, so a restart resumes replay where this process stopped.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.committing;
    await this.commit().catch((err: Error) => this.opts.onError?.(err));
    await this.ackState.write(this.resolvedUpTo).catch((err: Error) => this.opts.onError?.(err));
    this.ackState.close();
    this.head.close();
    if (this.writeFd >= 0) fs.closeSync(this.writeFd);
    this.writeFd = -1;
    for (const s of this.segments) closeRead(s);
    unlockFolder(this.opts.dir, this.lockFile);
  }

  // ------------------------------------------------------------------------------ recovery

  private recover(committedUpTo: number | null): void {
    const r = recoverFolder(this.opts.dir, this.resolvedUpTo, committedUpTo);
    for (const seq of r.lost) {
      this.counters.corrupt++;
      this.resolve(seq);
    }
    for (const seq of r.neverWritten) this.resolve(seq);
    this.counters.recovered += r.recovered;
    for (const seg of r.segments) {
      // An empty file (a segment opened and never written) holds nothing, and the new active
      // segment may take its very name: it goes now, or deleting it later would take the new one.
      if (seg.bytes === 0 && !seg.damaged) {
        fs.rmSync(seg.file, { force: true });
        continue;
      }
      const s: Segment = { ...seg, readFd: -1, lastWritten: seg.lastSeq };
      if (seg.damaged) this.setAside(s, seg.lost);
      this.segments.push(s);
      this.bytesOnDisk += s.bytes;
    }
    this.nextSeq = r.highest + 1;
  }

  /** Moves a damaged segment to damaged/ (it still replays from there) and records where. */
  private setAside(seg: Segment, lost: number): DamageReport | null {
    seg.damaged = true;
    if (seg.aside) return null;
    try {
      const movedTo = moveAside(this.opts.dir, seg.file);
      const report = { file: seg.file, movedTo, lost };
      seg.file = movedTo;
      seg.aside = true;
      this.damage.push(report);
      return report;
    } catch (err) {
      this.opts.onError?.(new Error(`queue segment ${seg.file} is damaged and could not be moved aside: ${(err as Error).message}`));
      return null;
    }
  }

  // ------------------------------------------------------------------------------ writing

  private openActive(firstSeq: number): void {
    const file = path.join(this.opts.dir, `seg-${String(firstSeq).padStart(20, "0")}.otbq`);
    this.writeFd = fs.openSync(file, "w");
    this.active = { firstSeq, lastSeq: Infinity, bytes: 0, file, readFd: -1, maxTs: 0, lastWritten: firstSeq - 1 };
    this.segments.push(this.active);
  }

  /** Seals the active segment at `lastSeq` and starts a new one at `lastSeq + 1`. */
  private roll(lastSeq: number): void {
    const sealed = this.active;
    const fd = this.writeFd;
    this.openActive(lastSeq + 1);
    sealed.lastSeq = lastSeq;
    fs.closeSync(fd);
  }

  private tick(): void {
    if (this.committing) return;
    if (this.pending.length === 0 && this.orphans.length === 0) this.timer?.unref?.();
    if (this.expiryReported && this.resolvedUpTo === this.nextSeq - 1) this.expiryReported = false;
    this.sweepExpired();
    const work = this.pending.length > 0 || this.orphans.length > 0 ? this.commit()
      : this.persistedUpTo !== this.resolvedUpTo ? this.persistMark() : null;
    if (!work) return;
    // A timer callback must never leave an unhandled rejection behind (it would end Node-RED).
    this.committing = work.catch((err: Error) => this.opts.onError?.(err)).finally(() => (this.committing = null));
  }

  private async commit(): Promise<void> {
    const orphans = this.orphans;
    this.orphans = [];
    if (this.pending.length === 0 || this.writeFd < 0) {
      for (const done of orphans) done(true);
      return;
    }
    const batch = this.pending;
    const last = at(batch, batch.length - 1); // non-empty: checked above
    this.pending = [];
    this.writingBytes = this.pendingBytes;
    this.pendingBytes = 0;
    let ok = true;
    try {
      await this.writeBatch(batch);
    } catch (err) {
      // ENOSPC, EIO, EMFILE: the batch is not on disk. It is counted as dropped and its
      // producers are told it was refused; nothing is reported as accepted that is not on disk.
      ok = false;
      const full = (err as NodeJS.ErrnoException).code === "ENOSPC";
      const failed = full && this.opts.fullPolicy === "reject-new" ? batch.concat(this.takeAllPending()) : batch;
      for (const p of failed) {
        this.counters.dropped++;
        this.resolve(p.seq);
      }
      this.markGap(at(failed, 0).seq, at(failed, failed.length - 1).seq);
      if (full) this.enterFull("disk");
      this.emit("dropped", { reason: full && this.opts.fullPolicy === "reject-new" ? "reject-new" : "write-failed", count: failed.length } satisfies DropReport);
      this.opts.onError?.(err as Error);
      for (const p of failed) if (p !== last) p.onCommitted?.(false);
    } finally {
      this.writingBytes = 0;
    }
    last.onCommitted?.(ok);
    for (const p of batch) if (ok && p !== last) p.onCommitted?.(ok);
    for (const done of orphans) done(true);
    if (ok) this.emit("committed");
    await this.persistMark();
  }

  /** Writes and syncs one batch; under drop-oldest an ENOSPC frees the oldest segment and retries. */
  private async writeBatch(batch: Pending[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const first = this.gaps[0]?.from ?? at(batch, 0).seq;
      if (this.active.bytes > 0 && (this.rollRequested || this.active.bytes + this.writingBytes > this.segmentBytes)) {
        this.roll(first - 1);
        this.rollRequested = false;
      }
      // A batch never written left a hole in the seqs; a marker says so, so recovery does not take it for damage.
      const markers = this.gaps.map((g) => encodeRecord(g.to, { ts: 0, kind: GAP_KIND, topic: "", payload: Buffer.from(String(g.from)) }));
      const frames = markers.length > 0 ? [...markers, ...batch.map((p) => p.frame)] : batch.map((p) => p.frame);
      const frame = frames.length === 1 ? at(frames, 0) : Buffer.concat(frames);
      const fd = this.writeFd;
      const seg = this.active;
      try {
        await writeAll(fd, frame, seg.bytes);
        await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
      } catch (err) {
        // Cut the file back to its last good frame: no partial record stays on disk.
        try { fs.ftruncateSync(fd, seg.bytes); } catch { /* nothing more to do */ }
        this.disk.invalidate();
        if ((err as NodeJS.ErrnoException).code === "ENOSPC" && this.opts.fullPolicy === "drop-oldest" && attempt < MAX_FREE_RETRIES &&
          this.freeOldestFor(first)) continue;
        throw err;
      }
      seg.bytes += frame.length;
      this.bytesOnDisk += frame.length;
      seg.lastWritten = at(batch, batch.length - 1).seq;
      try {
        this.head.write(seg.lastWritten);
      } catch { /* a stale head only makes recovery under-count a damaged tail */ }
      for (const p of batch) if (p.ts > seg.maxTs) seg.maxTs = p.ts;
      this.gaps = [];
      return;
    }
  }

  /** Drop-oldest on a full disk: deletes the oldest segment (sealing the active one if it is the only one). */
  private freeOldestFor(first: number): boolean {
    this.enterFull("disk");
    if (this.firstSegment === this.active) {
      if (this.active.bytes === 0) return false; // the batch alone does not fit on the disk
      this.roll(first - 1);
    }
    this.dropSegment(this.firstSegment);
    return true;
  }

  private takeAllPending(): Pending[] {
    const all = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    return all;
  }

  private markGap(from: number, to: number): void {
    const last = this.gaps[this.gaps.length - 1];
    if (last && last.to + 1 === from) last.to = to;
    else this.gaps.push({ from, to });
  }

  /** Writes the resolved mark, then deletes the segments it covers. */
  private async persistMark(): Promise<void> {
    const mark = this.resolvedUpTo;
    if (mark !== this.persistedUpTo) {
      try {
        await this.ackState.write(mark);
        this.persistedUpTo = mark;
      } catch (err) {
        this.opts.onError?.(err as Error);
        return;
      }
    }
    let freed = false;
    while (this.segments.length > 1 && this.firstSegment.lastSeq <= this.persistedUpTo) {
      this.deleteSegment(this.firstSegment);
      freed = true;
    }
    // Everything written is resolved: start a fresh segment so the drained one can go too (a
    // gap still to mark lies below the persisted mark then, so it needs no marker any more).
    if (this.pending.length === 0 && this.active.bytes > 0 && this.persistedUpTo >= this.nextSeq - 1 &&
      this.writeFd >= 0 && !this.closed) {
      try {
        this.roll(this.nextSeq - 1);
        this.gaps = [];
        this.deleteSegment(this.firstSegment);
        freed = true;
      } catch (err) {
        this.opts.onError?.(err as Error);
      }
    }
    if (freed) this.leaveFull();
  }

  /** The smaller of the configured bound and what the disk can take. */
  private limit(): number {
    return Math.min(this.opts.maxBytes, this.disk.room(this.bytesOnDisk, this.segments.length));
  }

  /** Frees space per the full policy; false: the record must be refused. */
  private makeRoom(size: number, limit: number): boolean {
    // Gap markers still to write count too (a frame each, its payload a seq in decimal).
    const over = (): boolean => this.bytesOnDisk + this.writingBytes + this.pendingBytes + this.gaps.length * GAP_MARKER_BYTES + size > limit;
    const which = limit < this.opts.maxBytes ? "disk" : "bound";
    if (this.opts.fullPolicy === "reject-new") {
      // Once one record was refused, every later one is too until space is freed: what is kept
      // is the oldest contiguous prefix, never a hole-ridden set.
      if (this.fullState) return false;
      if (!over()) return true;
      this.enterFull(which);
      return false;
    }
    while (over()) {
      this.enterFull(which);
      const oldest = this.segments[0];
      if (oldest && oldest !== this.active) {
        this.dropSegment(oldest);
        continue;
      }
      // Nothing sealed: the oldest records not yet written go, and the next commit seals the active segment.
      this.rollRequested = true;
      const p = this.pending.shift();
      if (!p) return false; // a single record larger than the limit: refused and counted
      this.pendingBytes -= p.frame.length;
      p.dropped = true;
      this.counters.dropped++;
      this.resolve(p.seq);
      this.markGap(p.seq, p.seq);
      if (p.onCommitted) this.orphans.push(p.onCommitted);
      this.emit("dropped", { reason: "drop-oldest", count: 1, fromSeq: p.seq, toSeq: p.seq } satisfies DropReport);
    }
    return true;
  }

  /** Drop-oldest: every unresolved record of the segment is counted dropped, then it is deleted. */
  private dropSegment(seg: Segment): void {
    let count = 0;
    const from = Math.max(seg.firstSeq, this.resolvedUpTo + 1);
    const to = Math.min(seg.lastSeq, this.nextSeq - 1);
    for (let seq = from; seq <= to; seq++) {
      if (this.isResolved(seq)) continue;
      this.inFlight.delete(seq);
      this.counters.dropped++;
      this.resolve(seq);
      count++;
    }
    this.deleteSegment(seg);
    if (count > 0) this.emit("dropped", { reason: "drop-oldest", count, fromSeq: from, toSeq: to } satisfies DropReport);
  }

  private deleteSegment(seg: Segment): void {
    const i = this.segments.indexOf(seg);
    if (i < 0 || seg === this.active) return;
    this.segments.splice(i, 1);
    this.bytesOnDisk -= seg.bytes;
    closeRead(seg);
    if (!seg.aside) fs.rmSync(seg.file, { force: true }); // a damaged segment stays in damaged/
    for (const c of [this.backlog, this.live]) if (c && c.seg === seg) c.moveTo(this.segments[0]);
  }

  private enterFull(limit: "bound" | "disk"): void {
    if (this.fullState) return;
    this.fullState = { full: true, limit, policy: this.opts.fullPolicy };
    this.emit("full", this.fullState);
    // Once per episode, with the reason, so the log and Catch say why records are being lost.
    const where = limit === "disk" ? `the disk under ${this.opts.dir} is full` : `the queue reached its size bound (${this.opts.maxBytes} bytes)`;
    const what = this.opts.fullPolicy === "drop-oldest" ? "the oldest records are being dropped" : "newer records are refused until space is freed";
    this.opts.onError?.(new QueueFullError(`queue full: ${where}; ${this.opts.fullPolicy}: ${what} (counted as dropped)`, limit));
  }

  private leaveFull(): void {
    if (!this.fullState) return;
    this.fullState = null;
    this.disk.invalidate();
    this.emit("full", { full: false, policy: this.opts.fullPolicy } satisfies FullState);
  }

  /** Expires whole sealed segments whose newest record is past the max age; true if any went. */
  private sweepExpired(): boolean {
    if (!this.opts.maxAgeMs || this.opts.maxAgeMs <= 0) return false;
    const cutoff = Date.now() - this.opts.maxAgeMs;
    let count = 0;
    while (this.segments.length > 1 && this.firstSegment !== this.active && this.firstSegment.maxTs < cutoff) {
      const seg = this.firstSegment;
      for (let seq = Math.max(seg.firstSeq, this.resolvedUpTo + 1); seq <= seg.lastSeq; seq++) {
        if (this.isResolved(seq) || this.inFlight.has(seq)) continue;
        this.resolve(seq);
        count++;
      }
      if ([...this.inFlight].some((s) => s >= seg.firstSeq && s <= seg.lastSeq)) break; // settles still to come
      this.deleteSegment(seg);
    }
    if (count > 0) this.countExpired(count);
    return count > 0;
  }

  private countExpired(count: number): void {
    this.counters.expired += count;
    this.emit("dropped", { reason: "expired", count } satisfies DropReport);
    // Once per backlog (reset when the queue is empty again), so an outage that outlived the
    // max age is reported once, with its reason, not once per record.
    if (this.expiryReported) return;
    this.expiryReported = true;
    this.opts.onError?.(new Error(`queue: records older than the max age (${(this.opts.maxAgeMs ?? 0) / 1000} s) expired; ` +
      "they are counted as expired and never published"));
  }

  /** The segment that holds (or will hold) `seq`. */
  private segmentFor(seq: number): Segment {
    for (let i = this.segments.length - 1; i > 0; i--) {
      const seg = at(this.segments, i);
      if (seg.firstSeq <= seq) return seg;
    }
    return this.firstSegment;
  }

  /** The oldest segment; the list is never empty once open (the active segment is never deleted). */
  private get firstSegment(): Segment {
    return at(this.segments, 0);
  }

  // ------------------------------------------------------------------------------ reading

  private resetCursors(): void {
    this.backlog = new Cursor(this.segments[0]);
    if (this.live) this.live = new Cursor(this.segmentFor(this.liveFrom));
  }

  /** Reads from `cursor` the records with fromSeq <= seq < limitSeq that are still to send. */
  private read(cursor: Cursor, max: number, fromSeq: number, limitSeq: number, out: QueueRecord[], pass: ReadPass): void {
    while (out.length < max && cursor.seg) {
      const seg = cursor.seg;
      const remaining = seg.bytes - cursor.offset;
      if (remaining <= 0) {
        if (cursor.damaged) this.loseRange(cursor, seg, seg === this.active ? seg.lastWritten : seg.lastSeq);
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
      const atEnd = got === remaining;
      let at = 0;
      let reachedLimit = false;
      cursor.need = 0;
      while (out.length < max && at < got) {
        // Only committed bytes are read: a frame that runs past them has a damaged length.
        const r = parseWithin(view, at, atEnd);
        if (r.status === "incomplete") {
          cursor.need = got - at >= 8 ? 20 + view.readUInt32LE(at + 4) : READ_CHUNK;
          break;
        }
        if (r.status === "corrupt") {
          // Changed under a running queue (recovery resolved what it found at open): resync.
          cursor.damaged = true;
          const next = findNextMagic(view, at);
          at = next >= 0 ? next : atEnd ? got : Math.max(at + 1, got - 3);
          continue;
        }
        const seq = r.record.seq;
        if (seq >= limitSeq) {
          reachedLimit = true;
          break;
        }
        at += r.size;
        if (cursor.damaged) this.loseRange(cursor, seg, seq - 1);
        if (seq >= cursor.expect) cursor.expect = seq + 1;
        if (r.record.kind === GAP_KIND || seq < fromSeq || this.isResolved(seq) || this.inFlight.has(seq)) continue;
        if (r.record.ts < pass.cutoff) {
          pass.expired++;
          this.resolve(seq);
          continue;
        }
        this.inFlight.add(seq);
        out.push(r.record);
      }
      cursor.offset += at;
      if (reachedLimit) return;
      if (at === 0 && !(cursor.need > want)) return; // no progress possible now
    }
  }

  /** Seqs from the cursor's expectation up to `to` were in a damaged stretch: counted, resolved, reported. */
  private loseRange(cursor: Cursor, seg: Segment, to: number): void {
    let lost = 0;
    for (let seq = cursor.expect; seq <= Math.min(to, this.nextSeq - 1); seq++) {
      if (this.isResolved(seq)) continue;
      this.inFlight.delete(seq);
      this.resolve(seq);
      lost++;
    }
    cursor.damaged = false;
    if (to >= cursor.expect) cursor.expect = to + 1;
    if (lost === 0) return;
    this.counters.corrupt += lost;
    this.counters.corruptLive += lost;
    const report = this.setAside(seg, lost) ?? { file: seg.file, movedTo: seg.file, lost };
    this.emit("damaged", report);
    this.opts.onError?.(new Error(damageMessage(report)));
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

