/**
 * Recovery of a queue folder at open (after a restart, a kill -9 or a power cut): every segment
 * is read and every frame checked. A damaged frame is skipped (the scan resyncs on the next
 * magic) and the seqs it held are reported lost, while every valid record is kept in order.
 * How lost seqs are known: segment files are named by their first seq, so a gap inside a
 * segment, or before the next segment's first seq, is damage; in the last segment, every seq up
 * to the committed head (head-state.ts) that is not found is damage (without a head file, each
 * frame start that fails to parse counts as one). A gap the queue itself marked (a batch whose write
 * failed, already counted as dropped) is not damage.
 */
import * as fs from "fs";
import * as path from "path";
import { GAP_KIND, findNextMagic, parseWithin } from "./record";

export interface RecoveredSegment {
  firstSeq: number;
  /** Highest seq the segment may hold (the last one is sealed at the highest seq found). */
  lastSeq: number;
  bytes: number;
  file: string;
  /** Damage was found (and counted) here; the reader skips it silently. */
  damaged: boolean;
  /** Records of this segment lost to the damage. */
  lost: number;
  /** Newest record timestamp in the segment (for max-age expiry). */
  maxTs: number;
}

export interface Recovery {
  segments: RecoveredSegment[];
  /** Highest seq ever allocated, as far as the folder tells. */
  highest: number;
  /** Valid records above the resolved mark, still to deliver. */
  recovered: number;
  /** Seqs that should be on disk but are damaged or missing. */
  lost: number[];
  /** Seqs of batches whose write failed (counted as dropped when it happened). */
  neverWritten: number[];
}

/** `committedUpTo`: the head file's value (head-state.ts), or null when unknown. */
export function recoverFolder(dir: string, resolvedUpTo: number, committedUpTo: number | null = null): Recovery {
  const files = fs.readdirSync(dir)
    .map((f) => /^seg-(\d+)\.otbq$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ file: path.join(dir, m[0]), firstSeq: Number(m[1]) }))
    .sort((a, b) => a.firstSeq - b.firstSeq);
  const out: Recovery = { segments: [], highest: resolvedUpTo, recovered: 0, lost: [], neverWritten: [] };
  const lose = (from: number, to: number): void => {
    for (let seq = from; seq <= to; seq++) out.lost.push(seq);
  };
  files.forEach((f, i) => {
    const next = files[i + 1];
    const limit = next ? next.firstSeq - 1 : Infinity;
    // A segment wholly below the persisted mark is left over from a crash between the mark
    // write and the unlink: delete it again.
    if (limit <= resolvedUpTo) {
      fs.rmSync(f.file, { force: true });
      return;
    }
    const buf = fs.readFileSync(f.file);
    let maxTs = 0;
    // The first segment may start above the mark when a drop-oldest or deletion outran the
    // mark write; that gap is resolved, not lost. Inside a segment a gap is damage.
    let expected = Math.max(f.firstSeq, resolvedUpTo + 1);
    const lostBefore = out.lost.length;
    let offset = 0;
    let damaged = false;
    let failuresSinceGood = 0;
    while (offset < buf.length) {
      // The whole file is in `buf`: a frame that runs past its end is a damaged length field
      // (or a torn tail); either way the scan resyncs on the next magic instead of giving up.
      const r = parseWithin(buf, offset, true);
      if (r.status === "ok" && r.record.seq >= expected && r.record.seq <= limit) {
        if (r.record.kind === GAP_KIND) {
          const from = Math.max(expected, Number(r.record.payload.toString()));
          lose(expected, from - 1);
          for (let seq = from; seq <= r.record.seq; seq++) out.neverWritten.push(seq);
        } else {
          lose(expected, r.record.seq - 1);
          out.recovered++;
          if (r.record.ts > maxTs) maxTs = r.record.ts;
        }
        expected = r.record.seq + 1;
        failuresSinceGood = 0;
        offset += r.size;
        continue;
      }
      if (r.status === "ok") {
        offset += r.size; // resolved before the mark, or out of place: skip it
        continue;
      }
      damaged = true;
      failuresSinceGood++;
      const next = findNextMagic(buf, offset);
      if (next < 0) break; // a damaged or torn tail
      offset = next;
    }
    if (Number.isFinite(limit)) {
      lose(expected, limit);
    } else if (committedUpTo !== null) {
      // Everything up to the committed head was on disk: whatever of it is not found is lost.
      // Frames past the head were never acknowledged (a torn final write): not counted.
      lose(expected, committedUpTo);
      expected = Math.max(expected, committedUpTo + 1);
    } else {
      // A torn final write may be a batch whose commit never completed (its producer was never
      // told it was accepted); it is counted all the same, as one record per failed frame start.
      lose(expected, expected + failuresSinceGood - 1);
      expected += failuresSinceGood;
    }
    out.highest = Math.max(out.highest, expected - 1, Number.isFinite(limit) ? limit : 0);
    const lost = out.lost.length - lostBefore;
    out.segments.push({ firstSeq: f.firstSeq, lastSeq: limit, bytes: buf.length, file: f.file,
      damaged: damaged || lost > 0, lost, maxTs });
  });
  // Every segment file gone while the head says records were committed: those are lost too.
  if (files.length === 0 && committedUpTo !== null && committedUpTo > resolvedUpTo) {
    lose(resolvedUpTo + 1, committedUpTo);
    out.highest = committedUpTo;
  }
  // The last segment is sealed: new records go to a fresh file, never after a torn tail.
  const last = out.segments[out.segments.length - 1];
  if (last) last.lastSeq = out.highest;
  return out;
}
