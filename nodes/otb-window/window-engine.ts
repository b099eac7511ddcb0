/**
 * Event-time windows over Signals, turned into FeatureFrames. Pure logic: the caller passes the
 * wall clock, so tests drive time by hand and the node glue only forwards messages.
 *
 * Windows are aligned to the epoch: window k covers [k*hop, k*hop + length). Time is the
 * Signals' own `ts` (event time). A window closes once every feature's tag has a value at or past
 * its end, or at the latest once the event clock has passed its end plus the late-data tolerance
 * (a tag that stays silent, or sources far apart in time); the event clock is the newest ts seen,
 * advanced by the wall time elapsed since it arrived, so a dead input still closes its windows (and marks data missing)
 * instead of waiting forever. A Signal older than every open window is late: refused, counted.
 */
import type { Context, FeatureFrame, Quality, Signal } from "../shared";
import { atF64 } from "../shared/checked";
import { TagLookup } from "../shared/tag-lookup";
import { aggregate, type Aggregation } from "./aggregations";

export type MissingPolicy = "skip" | "hold" | "mark";

export interface FeatureSpec {
  name: string;
  tag: string;
  agg: Aggregation;
}

export interface WindowOptions {
  lengthMs: number;
  /** Equal to lengthMs for tumbling windows; smaller for sliding ones. */
  hopMs: number;
  features: FeatureSpec[];
  acceptUncertain: boolean;
  missing: MissingPolicy;
  lateToleranceMs: number;
  /** Close windows by the wall clock too when input stops (off for pure replays). */
  closeOnWallClock: boolean;
  /** Close a window once every feature's tag is at or past its end, not only after the tolerance. */
  closeWhenTagsPass: boolean;
  /** A Signal stamped further than this ahead of the wall clock is refused (a bad source clock). */
  maxFutureMs: number;
  /** Memory bound per tag; beyond it the oldest samples are dropped and counted. */
  maxSamplesPerTag: number;
  /** At most this many windows are closed in one go after a gap; older ones are skipped, counted. */
  maxCatchUpWindows: number;
}

export interface Refused {
  item: Signal;
  reason: "late" | "future_ts" | "not_numeric";
}

export interface Counters {
  frames: number;
  /** Frames not emitted because of missing features (skip policy, or hold with nothing held). */
  skippedFrames: number;
  late: number;
  future: number;
  notNumeric: number;
  /** Bad (or, unless accepted, uncertain) values that did not count. */
  ignoredQuality: number;
  overflow: number;
  gapWindows: number;
}

/**
 * The samples of one tag, in arrival order, as parallel typed arrays with their own count:
 * numbers stay unboxed doubles, a sample costs no object of its own (a window holds thousands
 * of them for seconds, long enough for objects to be promoted and cost a major GC each), and
 * the arrays keep their capacity when a closed window is pruned, so the next window's samples
 * are written in place instead of regrowing the arrays after every frame.
 */
class TagSamples {
  ts = new Float64Array(64);
  values = new Float64Array(64);
  /** 1 where the Signal was uncertain. */
  uncertain = new Uint8Array(64);
  contexts: Array<Context | undefined> = new Array<Context | undefined>(64).fill(undefined);
  length = 0;
  /** Scratch for close(): the samples of the window being closed (at most `length` of them). */
  windowTs = new Float64Array(64);
  windowValues = new Float64Array(64);
  windowLength = 0;
  /** Newest source time seen for the tag (any quality): how far the tag's own stream has got. */
  newest = -Infinity;

  push(ts: number, value: number, uncertain: boolean, context: Context | undefined): void {
    const n = this.length;
    if (n === this.ts.length) this.grow(n * 2);
    this.ts[n] = ts;
    this.values[n] = value;
    this.uncertain[n] = uncertain ? 1 : 0;
    this.contexts[n] = context;
    this.length = n + 1;
  }

  /** Drops the oldest arrival. */
  shift(): void {
    const n = this.length;
    if (n === 0) return;
    this.ts.copyWithin(0, 1, n);
    this.values.copyWithin(0, 1, n);
    this.uncertain.copyWithin(0, 1, n);
    this.contexts.copyWithin(0, 1, n);
    this.contexts[n - 1] = undefined;
    this.length = n - 1;
  }

  /** Keeps only samples at or after `from` (arrival order kept; late arrivals may sit anywhere). */
  prune(from: number): void {
    const n = this.length;
    const ts = this.ts;
    let w = 0;
    for (let r = 0; r < n; r++) {
      const t = atF64(ts, r);
      if (t < from) continue;
      if (w !== r) {
        ts[w] = t;
        this.values[w] = atF64(this.values, r);
        this.uncertain[w] = this.uncertain[r] ?? 0;
        this.contexts[w] = this.contexts[r];
      }
      w++;
    }
    // Dropped contexts are released; the capacity stays.
    for (let i = w; i < n; i++) this.contexts[i] = undefined;
    this.length = w;
  }

  private grow(capacity: number): void {
    const ts = new Float64Array(capacity);
    ts.set(this.ts);
    this.ts = ts;
    const values = new Float64Array(capacity);
    values.set(this.values);
    this.values = values;
    const uncertain = new Uint8Array(capacity);
    uncertain.set(this.uncertain);
    this.uncertain = uncertain;
    for (let i = this.contexts.length; i < capacity; i++) this.contexts.push(undefined);
    this.windowTs = new Float64Array(capacity);
    this.windowValues = new Float64Array(capacity);
  }
}

export class WindowEngine {
  readonly counters: Counters = { frames: 0, skippedFrames: 0, late: 0, future: 0, notNumeric: 0, ignoredQuality: 0, overflow: 0, gapWindows: 0 };
  private readonly byTag = new Map<string, TagSamples>();
  /** byTag.get by batch position (byTag is fixed at construction). */
  private readonly samplesAt = new TagLookup(this.byTag);
  private readonly held = new Map<string, number>();
  /** Start of the oldest window not yet closed; null until the first sample. */
  private openStart: number | null = null;
  private newestTs = -Infinity;
  private wallAtNewest = 0;

  constructor(readonly options: WindowOptions) {
    for (const f of options.features) if (!this.byTag.has(f.tag)) this.byTag.set(ownCopy(f.tag), new TagSamples());
  }

  /** Adds Signals; returns those refused with their reason. Tags without a feature are ignored. */
  add(signals: Signal[], wallNow: number): Refused[] {
    const refused: Refused[] = [];
    for (let i = 0; i < signals.length; i++) this.addSignal(signals[i] as Signal, wallNow, refused, i);
    return refused;
  }

  /** True when a feature uses `tag` (`index`: its position in its batch, -1 if none). */
  uses(tag: string, index = -1): boolean {
    return this.samplesAt.get(tag, index) !== undefined;
  }

  /**
   * add() for one Signal (for a caller that checks and adds a batch in one pass); a refusal is
   * appended to `refused`. `index`: the Signal's position in its batch (-1 if none).
   */
  addSignal(s: Signal, wallNow: number, refused: Refused[], index = -1): void {
    const samples = this.samplesAt.get(s.tag, index);
    if (samples === undefined) return;
    const counters = this.counters;
    const ts = s.ts;
    if (ts > wallNow + this.options.maxFutureMs) {
      counters.future++;
      refused.push({ item: s, reason: "future_ts" });
      return;
    }
    if (this.openStart !== null && ts < this.openStart) {
      counters.late++;
      refused.push({ item: s, reason: "late" });
      return;
    }
    const quality = s.quality;
    if (quality === "bad" || (quality === "uncertain" && !this.options.acceptUncertain)) {
      counters.ignoredQuality++;
      this.observe(samples, ts, wallNow);
      return;
    }
    const v = s.value;
    const value = typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : NaN;
    if (!Number.isFinite(value)) {
      counters.notNumeric++;
      refused.push({ item: s, reason: "not_numeric" });
      return;
    }
    if (samples.length >= this.options.maxSamplesPerTag) {
      samples.shift();
      counters.overflow++;
    }
    samples.push(ts, value, quality === "uncertain", s.context);
    this.observe(samples, ts, wallNow);
  }

  /** Closes every window that is due at `wallNow` and returns their frames, oldest first. */
  advance(wallNow: number): FeatureFrame[] {
    if (this.openStart === null) return [];
    const { lengthMs, hopMs, lateToleranceMs, maxCatchUpWindows } = this.options;
    const clock = this.options.closeOnWallClock ? this.newestTs + Math.max(0, wallNow - this.wallAtNewest) : this.newestTs;
    // Due by the clock (its end plus the late tolerance passed), or sooner once every feature's tag
    // has a value at or past its end: each tag's own stream has moved on, so only a value out of
    // order within its own tag could still fall in, and waiting the tolerance would delay every
    // frame (and alarm) by it for nothing (the pilot: 5 s). A tag that stays silent keeps the wait.
    const openStart = this.openStart;
    const endedBy = (t: number): number => Math.floor((t - lengthMs - openStart) / hopMs) + 1;
    const byClock = endedBy(clock - lateToleranceMs);
    const due = this.options.closeWhenTagsPass ? Math.max(byClock, endedBy(this.everyTagAt())) : byClock;
    if (!(due > 0)) return [];
    if (due > maxCatchUpWindows) {
      const skip = due - maxCatchUpWindows;
      this.counters.gapWindows += skip;
      this.openStart += skip * hopMs;
    }
    const frames: FeatureFrame[] = [];
    for (let i = Math.min(due, maxCatchUpWindows); i > 0; i--) {
      const frame = this.close(this.openStart, this.openStart + lengthMs);
      if (frame) frames.push(frame);
      this.openStart += hopMs;
    }
    this.prune();
    return frames;
  }

  /** Samples currently buffered, over all tags (for status and tests). */
  get buffered(): number {
    let n = 0;
    for (const s of this.byTag.values()) n += s.length;
    return n;
  }

  /** The oldest of the tags' newest source times (-Infinity while a tag has sent nothing). */
  private everyTagAt(): number {
    let min = Infinity;
    for (const samples of this.byTag.values()) if (samples.newest < min) min = samples.newest;
    return min === Infinity ? -Infinity : min;
  }

  private observe(samples: TagSamples, ts: number, wallNow: number): void {
    if (ts > samples.newest) samples.newest = ts;
    if (this.openStart === null) this.openStart = Math.floor(ts / this.options.hopMs) * this.options.hopMs;
    if (ts > this.newestTs) {
      this.newestTs = ts;
      this.wallAtNewest = wallNow;
    }
  }

  private close(start: number, end: number): FeatureFrame | null {
    const names: string[] = [];
    const values: number[] = [];
    const missing: string[] = [];
    let usedUncertain = false;
    let usedHeld = false;
    let context: Context | undefined;
    let contextTs = -Infinity;
    for (const samples of this.byTag.values()) {
      // This window's samples of the tag, in arrival order, copied into the tag's scratch arrays.
      const sts = samples.ts;
      const svs = samples.values;
      const unc = samples.uncertain;
      const wts = samples.windowTs;
      const wvs = samples.windowValues;
      let k = 0;
      for (let i = 0; i < samples.length; i++) {
        const t = atF64(sts, i);
        if (t < start || t >= end) continue;
        wts[k] = t;
        wvs[k] = atF64(svs, i);
        k++;
        if (unc[i] === 1) usedUncertain = true;
        const c = samples.contexts[i];
        if (c && t >= contextTs) {
          context = c;
          contextTs = t;
        }
      }
      samples.windowLength = k;
    }
    for (const f of this.options.features) {
      const samples = this.byTag.get(f.tag);
      const n = samples ? samples.windowLength : 0;
      const value = samples ? aggregate(f.agg, { ts: samples.windowTs.subarray(0, n), values: samples.windowValues.subarray(0, n) }) : aggregate(f.agg, { ts: [], values: [] });
      names.push(f.name);
      if (value !== undefined && Number.isFinite(value)) {
        values.push(value);
        this.held.set(f.name, value);
        continue;
      }
      const held = this.held.get(f.name);
      if (this.options.missing === "hold" && held !== undefined) {
        values.push(held);
        usedHeld = true;
        continue;
      }
      if (this.options.missing !== "mark") {
        this.counters.skippedFrames++;
        return null;
      }
      // A placeholder keeps values[] aligned with names[]; `missing` and quality "bad" say it is not data.
      values.push(0);
      missing.push(f.name);
    }
    const quality: Quality = missing.length > 0 ? "bad" : usedHeld || usedUncertain ? "uncertain" : "good";
    this.counters.frames++;
    const frame: FeatureFrame = { kind: "features", ts: end, windowMs: this.options.lengthMs, names, values, missing, quality };
    if (context) frame.context = context;
    return frame;
  }

  /** Drops samples no open window can use any more. */
  private prune(): void {
    const keepFrom = this.openStart ?? -Infinity;
    for (const samples of this.byTag.values()) samples.prune(keepFrom);
  }
}

/**
 * `s` in storage of its own. A card's tags are cut out of its feature names ("tag:agg"), and V8
 * keeps such a substring as a view into the whole name: as a Map key, looked up once per Signal,
 * it cost 21 ns a lookup against 8 ns for a plain string (the pilot's tags). UTF-16 round trip:
 * every string, lone surrogates included, comes back unchanged.
 */
function ownCopy(s: string): string {
  return Buffer.from(s, "utf16le").toString("utf16le");
}
