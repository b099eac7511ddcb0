/**
 * The OEE accumulator, free of Node-RED. It integrates time between source timestamps: each
 * interval goes to the state the line was in, split wherever the shift calendar changes (shift,
 * planned stop, local date) and at every minute (for the rolling window). Time is measured in
 * real elapsed milliseconds, so a night shift lasts 7 or 9 hours on daylight-saving days.
 * Data older than `maxGapSec` stops counting as the last state: the rest of the gap is missing,
 * reported, and left out of the ratios. Counters are cumulative, so parts made during a gap or
 * a restart are still counted when the next reading arrives (rollover and resets handled): in
 * the counts and quality, but not in performance, whose operating time cannot include the gap's
 * (Tally.gapParts; crediting them lifted performance above 100 % by the gap's share).
 */
import type { Mode } from "../types";
import type { CalendarSegment, ShiftCalendar } from "../shift-calendar";
import { CumulativeCounter, type CounterSnapshot } from "./counter";
import { emptyTally, sumTallies, type Tally } from "./tally";

export type Counting = "total-good" | "total-reject" | "good-reject";
export type CounterRole = "total" | "good" | "reject" | "energy";

export interface OeeOptions {
  calendar: ShiftCalendar;
  /** Ideal cycle time per part, seconds, when the product has none of its own. */
  idealCycleSec: number;
  idealCycleByProduct?: Record<string, number>;
  counting?: Counting;
  /** Stops shorter than this are minor stops (performance loss), longer ones downtime. */
  microStopSec?: number;
  /** After this long without any data the state is no longer assumed: time becomes missing. */
  maxGapSec?: number;
  /** Largest value of the part counters before they wrap (e.g. 65535). */
  counterMax?: number;
  /** The energy register reads 0 again at this value (e.g. 100000 for a 99999.9 kWh display). */
  energyWrap?: number;
  /** Rejects within this long after running resumes from a changeover or a long stop are startup rejects. */
  startupSec?: number;
  /** Rolling window length, minutes. */
  windowMin?: number;
  /** Product when none is known yet. */
  defaultProduct?: string;
}

export interface ClosedPeriod {
  scope: "shift" | "day";
  label: string;
  tally: Tally;
}

interface Alloc {
  key: string;
  ms: number;
}

interface Episode {
  start: number;
  reason: string;
  long: boolean;
  allocs: Alloc[];
}

/**
 * A stop is counted once in each shift and day it touches, but in the rolling window's minute
 * slots only in the minute it started, so that summing the slots counts it once.
 */
function countsStop(key: string, ep: Episode): boolean {
  return !key.startsWith("slot:") || key === `slot:${Math.floor(ep.start / 60_000)}`;
}

/** Gaps longer than this are not integrated minute by minute; see advance(). */
const MAX_INTEGRATE_MS = 7 * 86_400_000;

const STOP_MODES: ReadonlySet<Mode> = new Set<Mode>(["idle", "fault", "maintenance"]);

export interface OeeSnapshot {
  lastTs: number | null;
  lastDataTs: number | null;
  mode: Mode;
  reason: string | null;
  product: string;
  runningSince: number | null;
  episode: Episode | null;
  lastEpisode: Episode | null;
  inGap: boolean;
  /** Absent in snapshots saved before 4 December 2026: the first count after restore then credits its whole delta. */
  missingClockMs?: number;
  lastCount?: Partial<Record<CounterRole, { ts: number; missingMs: number }>>;
  open: Array<[string, Tally]>;
  shiftKey: string | null;
  dayKey: string | null;
  counters: Record<CounterRole, CounterSnapshot>;
}

export class OeeEngine {
  private lastTs: number | null = null;
  private lastDataTs: number | null = null;
  private mode: Mode = "unknown";
  private reason: string | null = null;
  private product: string;
  private runningSince: number | null = null;
  private episode: Episode | null = null;
  private lastEpisode: Episode | null = null;
  private inGap = false;
  /** Planned time allocated as missing (and absences past MAX_INTEGRATE_MS) since this engine started: gapShare() reads it. */
  private missingClockMs = 0;
  /** Each counter's last reading and the missing-time clock then. */
  private lastCount: Partial<Record<CounterRole, { ts: number; missingMs: number }>> = {};
  private readonly open = new Map<string, Tally>();
  private shiftKey: string | null = null;
  private dayKey: string | null = null;
  private readonly completed: ClosedPeriod[] = [];
  private seg: { seg: CalendarSegment; from: number; until: number } | null = null;
  private readonly counters: Record<CounterRole, CumulativeCounter>;
  private readonly microMs: number;
  private readonly maxGapMs: number;
  private readonly startupMs: number;
  private readonly windowMs: number;
  private readonly counting: Counting;
  /** Out-of-order readings ignored for time (their counts still count). */
  lateReadings = 0;

  constructor(readonly options: OeeOptions) {
    if (!(options.idealCycleSec > 0)) throw new RangeError("the ideal cycle time must be a positive number of seconds");
    for (const [p, s] of Object.entries(options.idealCycleByProduct ?? {})) {
      if (!(s > 0)) throw new RangeError(`ideal cycle time of product "${p}" must be positive`);
    }
    this.microMs = (options.microStopSec ?? 120) * 1000;
    this.maxGapMs = (options.maxGapSec ?? 60) * 1000;
    this.startupMs = (options.startupSec ?? 0) * 1000;
    this.windowMs = (options.windowMin ?? 60) * 60_000;
    this.counting = options.counting ?? "total-reject";
    this.product = options.defaultProduct ?? "";
    const partModulus = options.counterMax === undefined ? undefined : options.counterMax + 1;
    this.counters = {
      total: new CumulativeCounter(partModulus),
      good: new CumulativeCounter(partModulus),
      reject: new CumulativeCounter(partModulus),
      energy: new CumulativeCounter(options.energyWrap),
    };
  }

  get currentMode(): Mode {
    return this.mode;
  }

  get currentProduct(): string {
    return this.product;
  }

  idealCycleMs(product = this.product): number {
    return (this.options.idealCycleByProduct?.[product] ?? this.options.idealCycleSec) * 1000;
  }

  /** The line's state changed (or was confirmed) at `ts`; `reason` is a fault code or similar. */
  setMode(ts: number, mode: Mode, reason?: string): void {
    this.observe(ts);
    const r = reason ?? (mode === "fault" ? "fault" : mode);
    if (mode === this.mode && (r === this.reason || !STOP_MODES.has(mode))) return;
    const wasStop = STOP_MODES.has(this.mode);
    const isStop = STOP_MODES.has(mode);
    const prev = this.episode;
    if (wasStop && prev) this.endEpisode(prev, isStop);
    if (isStop) {
      // A new fault code during a stop continues the same stop under the new reason.
      this.episode = { start: wasStop && prev ? prev.start : ts, reason: r, long: wasStop && prev ? prev.long : false, allocs: [] };
    }
    if (mode === "running" && this.mode !== "running") {
      // Startup rejects follow a changeover or a long stop, not a micro-stop.
      const fromLoss = this.mode === "changeover" || (prev?.long ?? false);
      this.runningSince = fromLoss ? ts : null;
    }
    if (mode === "changeover" && this.mode !== "changeover") {
      for (const [, t] of this.talliesAt(ts)) (t.downtime.changeover ??= { ms: 0, stops: 0 }).stops += 1;
    }
    this.mode = mode;
    this.reason = r;
  }

  setProduct(ts: number, product: string): void {
    this.observe(ts);
    this.product = product;
  }

  /** An operator named the reason of the current stop (or of the one that just ended). */
  setReason(ts: number, reason: string): boolean {
    this.observe(ts);
    const ep = this.episode ?? this.lastEpisode;
    if (!ep || ep.reason === reason) return false;
    const old = ep.reason;
    ep.reason = reason;
    if (!ep.long) return true;
    for (const a of ep.allocs) {
      const t = this.open.get(a.key);
      if (!t) continue;
      const from = t.downtime[old];
      if (from) from.ms -= a.ms;
      (t.downtime[reason] ??= { ms: 0, stops: 0 }).ms += a.ms;
    }
    for (const key of new Set(ep.allocs.map((a) => a.key))) {
      const t = this.open.get(key);
      if (!t || !countsStop(key, ep)) continue;
      const from = t.downtime[old];
      if (from) {
        from.stops -= 1;
        if (from.ms <= 0 && from.stops <= 0) delete t.downtime[old];
      }
      (t.downtime[reason] ??= { ms: 0, stops: 0 }).stops += 1;
    }
    return true;
  }

  /** A cumulative counter reading. Throws RangeError on negative or non-finite readings. */
  count(ts: number, role: CounterRole, value: number): { delta: number; event: string | null } {
    const { delta, event } = this.counters[role].update(value);
    this.observe(ts);
    const gapShare = this.gapShare(role, ts);
    const tallies = this.talliesAt(ts);
    for (const [, t] of tallies) {
      if (event) t.counterEvents[event] += 1;
      this.applyCount(t, role, delta, ts, gapShare);
    }
    return { delta, event };
  }

  /**
   * The share of the time since this counter's last reading that was missing (no data): the
   * share of its delta made in a gap. Called after observe(ts), which allocated that time.
   */
  private gapShare(role: CounterRole, ts: number): number {
    const last = this.lastCount[role];
    this.lastCount[role] = { ts, missingMs: this.missingClockMs };
    if (!last || ts <= last.ts) return 0;
    return Math.min(1, (this.missingClockMs - last.missingMs) / (ts - last.ts));
  }

  private applyCount(t: Tally, role: CounterRole, d: number, ts: number, gapShare: number): void {
    if (d === 0) return;
    const p = (t.products[this.product] ??= { total: 0, good: 0, reject: 0, energyKWh: 0, idealMs: 0 });
    const ic = this.idealCycleMs();
    // Parts made in the gap carry no ideal time (see the header); a gap's rejects take none off.
    const gapD = Math.round(d * gapShare);
    const known = d - gapD;
    const add = (field: "total" | "good" | "reject", n: number): void => {
      t[field] += n;
      p[field] += n;
    };
    const ideal = (n: number): void => {
      t.idealMs += n * ic;
      p.idealMs += n * ic;
    };
    if (role === "energy") {
      t.energyKWh += d;
      p.energyKWh += d;
      return;
    }
    const startup = role === "reject" && this.runningSince !== null && ts - this.runningSince <= this.startupMs;
    const countsTotal = this.counting === "good-reject" ? role !== "total" : role === "total";
    if (gapD > 0 && countsTotal) t.gapParts = (t.gapParts ?? 0) + gapD;
    switch (this.counting) {
      case "total-reject":
        if (role === "total") { add("total", d); add("good", d); ideal(known); t.idealGoodMs += known * ic; }
        if (role === "reject") { add("reject", d); add("good", -d); t.idealGoodMs -= known * ic; if (startup) t.startupReject += d; }
        break;
      case "total-good":
        if (role === "total") { add("total", d); add("reject", d); ideal(known); }
        if (role === "good") { add("good", d); add("reject", -d); t.idealGoodMs += known * ic; }
        break;
      case "good-reject":
        if (role === "good") { add("total", d); add("good", d); ideal(known); t.idealGoodMs += known * ic; }
        if (role === "reject") { add("total", d); add("reject", d); ideal(known); if (startup) t.startupReject += d; }
        break;
    }
  }

  /** Data arrived at `ts`: time up to it is integrated, and the line is no longer in a gap. */
  observe(ts: number): void {
    this.advance(ts);
    if (this.lastDataTs === null || ts > this.lastDataTs) this.lastDataTs = ts;
  }

  /** Time passed until `ts` (a timer, or data). */
  advance(ts: number): void {
    if (this.lastTs === null) {
      this.lastTs = ts;
      this.talliesAt(ts);
      return;
    }
    if (ts < this.lastTs) {
      this.lateReadings += 1;
      return;
    }
    if (ts - this.lastTs > MAX_INTEGRATE_MS) {
      // Back after more than a week (a restored state file, a line mothballed): the open shift
      // and day end as they were, and accounting restarts at ts instead of filling weeks of
      // minute slots with missing time.
      if (this.shiftKey) this.close("shift", this.shiftKey);
      if (this.dayKey) this.close("day", this.dayKey);
      this.shiftKey = null;
      this.dayKey = null;
      for (const key of [...this.open.keys()]) if (key.startsWith("slot:")) this.open.delete(key);
      this.episode = null;
      // Parts counted across that absence were made in it: gapShare() sees it as missing time.
      this.missingClockMs += ts - this.lastTs;
      this.lastTs = ts;
      this.talliesAt(ts);
      return;
    }
    let t = this.lastTs;
    const dataLimit = this.lastDataTs === null ? t : this.lastDataTs + this.maxGapMs;
    while (t < ts) {
      const seg = this.segmentAt(t);
      let end = Math.min(ts, seg.until, Math.floor(t / 60_000) * 60_000 + 60_000);
      if (t < dataLimit && dataLimit < end) end = dataLimit;
      const ep = this.episode;
      if (ep && !ep.long) {
        const threshold = ep.start + this.microMs;
        if (t >= threshold) this.promote(ep);
        else if (threshold < end) end = threshold;
      }
      this.allocate(seg.seg, t, end, t >= dataLimit || this.mode === "unknown");
      t = end;
    }
    this.lastTs = ts;
  }

  private segmentAt(t: number): { seg: CalendarSegment; from: number; until: number } {
    const s = this.seg;
    if (s && t >= s.from && t < s.until) return s;
    const seg = this.options.calendar.segment(t);
    this.seg = { seg, from: t, until: this.options.calendar.nextChange(t) };
    return this.seg;
  }

  /** The open tallies for the instant `ts`: its shift (if any), its local day, its minute. */
  private talliesAt(ts: number): Array<[string, Tally]> {
    return this.tallies(this.segmentAt(ts).seg, ts);
  }

  private tallies(seg: CalendarSegment, t: number): Array<[string, Tally]> {
    const out: Array<[string, Tally]> = [];
    const shiftKey = seg.shift ? `shift:${seg.shift.day}/${seg.shift.name}` : null;
    if (shiftKey !== this.shiftKey) {
      if (this.shiftKey) this.close("shift", this.shiftKey);
      this.shiftKey = shiftKey;
    }
    if (shiftKey) out.push([shiftKey, this.tally(shiftKey, t)]);
    const dayKey = `day:${seg.date}`;
    if (dayKey !== this.dayKey) {
      if (this.dayKey) this.close("day", this.dayKey);
      this.dayKey = dayKey;
    }
    out.push([dayKey, this.tally(dayKey, t)]);
    const minute = Math.floor(t / 60_000);
    const slotKey = `slot:${minute}`;
    if (!this.open.has(slotKey)) this.pruneSlots(t);
    out.push([slotKey, this.tally(slotKey, minute * 60_000)]);
    return out;
  }

  private pruneSlots(t: number): void {
    for (const key of this.open.keys()) {
      if (key.startsWith("slot:") && Number(key.slice(5)) * 60_000 < t - this.windowMs) this.open.delete(key);
    }
  }

  private tally(key: string, from: number): Tally {
    let t = this.open.get(key);
    if (!t) {
      t = emptyTally(from);
      this.open.set(key, t);
    }
    return t;
  }

  private close(scope: "shift" | "day", key: string): void {
    const t = this.open.get(key);
    if (!t) return;
    this.open.delete(key);
    this.completed.push({ scope, label: key.slice(scope.length + 1), tally: t });
  }

  private allocate(seg: CalendarSegment, a: number, b: number, missing: boolean): void {
    const ms = b - a;
    if (ms <= 0) return;
    const tallies = this.tallies(seg, a);
    // A line without a shift calendar runs 24/7: all its time is planned production time.
    const scheduled = seg.shift !== null || this.options.calendar.size === 0;
    const planned = scheduled && seg.stop === null;
    const gapStarts = planned && missing && !this.inGap;
    if (planned) this.inGap = missing;
    for (const [key, t] of tallies) {
      t.allMs += ms;
      t.to = Math.max(t.to, b);
      if (!scheduled) t.unscheduledMs += ms;
      else if (seg.stop) {
        t.plannedStopMs += ms;
        t.plannedStops[seg.stop] = (t.plannedStops[seg.stop] ?? 0) + ms;
      } else if (missing) {
        t.missingMs += ms;
        if (gapStarts) t.gaps += 1;
      } else if (this.mode === "running") t.runMs += ms;
      else if (this.mode === "changeover") {
        t.setupMs += ms;
        const r = (t.downtime.changeover ??= { ms: 0, stops: 0 });
        r.ms += ms;
      } else if (this.episode) {
        const ep = this.episode;
        if (ep.long) {
          t.downMs += ms;
          const r = (t.downtime[ep.reason] ??= { ms: 0, stops: 0 });
          r.ms += ms;
          if (!ep.allocs.some((x) => x.key === key) && countsStop(key, ep)) r.stops += 1;
        } else t.pendingStopMs += ms;
      }
    }
    if (planned && missing) this.missingClockMs += ms;
    if (planned && !missing && this.episode && STOP_MODES.has(this.mode)) {
      for (const [key] of tallies) this.episode.allocs.push({ key, ms });
    }
  }

  /** The stop has lasted the micro-stop threshold: its time so far becomes downtime. */
  private promote(ep: Episode): void {
    ep.long = true;
    const seen = new Set<string>();
    for (const a of ep.allocs) {
      const t = this.open.get(a.key);
      if (!t) continue;
      t.pendingStopMs -= a.ms;
      t.downMs += a.ms;
      const r = (t.downtime[ep.reason] ??= { ms: 0, stops: 0 });
      r.ms += a.ms;
      if (!seen.has(a.key) && countsStop(a.key, ep)) r.stops += 1;
      seen.add(a.key);
    }
  }

  private endEpisode(ep: Episode, continues: boolean): void {
    if (continues) return;
    if (!ep.long) {
      const seen = new Set<string>();
      for (const a of ep.allocs) {
        const t = this.open.get(a.key);
        if (!t) continue;
        t.pendingStopMs -= a.ms;
        t.smallStopMs += a.ms;
        const r = (t.downtime["micro-stops"] ??= { ms: 0, stops: 0 });
        r.ms += a.ms;
        if (!seen.has(a.key) && countsStop(a.key, ep)) {
          t.smallStops += 1;
          r.stops += 1;
        }
        seen.add(a.key);
      }
    }
    this.lastEpisode = ep;
    this.episode = null;
  }

  /** Shifts and days that ended since the last call. */
  drain(): ClosedPeriod[] {
    return this.completed.splice(0);
  }

  /** Copies of the open shift, day and rolling-window tallies, for on-demand reports. */
  current(): { shift: { label: string; tally: Tally } | null; day: { label: string; tally: Tally } | null; window: Tally } {
    const copy = (t: Tally): Tally => JSON.parse(JSON.stringify(t)) as Tally;
    const sh = this.shiftKey ? this.open.get(this.shiftKey) : undefined;
    const dy = this.dayKey ? this.open.get(this.dayKey) : undefined;
    const slots = [...this.open.entries()].filter(([k]) => k.startsWith("slot:")).map(([, v]) => v);
    return {
      shift: sh && this.shiftKey ? { label: this.shiftKey.slice(6), tally: copy(sh) } : null,
      day: dy && this.dayKey ? { label: this.dayKey.slice(4), tally: copy(dy) } : null,
      window: sumTallies(slots),
    };
  }

  snapshot(): OeeSnapshot {
    return {
      lastTs: this.lastTs, lastDataTs: this.lastDataTs, mode: this.mode, reason: this.reason, product: this.product,
      runningSince: this.runningSince, episode: this.episode, lastEpisode: this.lastEpisode, inGap: this.inGap,
      missingClockMs: this.missingClockMs, lastCount: { ...this.lastCount },
      open: [...this.open.entries()], shiftKey: this.shiftKey, dayKey: this.dayKey,
      counters: { total: this.counters.total.snapshot(), good: this.counters.good.snapshot(), reject: this.counters.reject.snapshot(), energy: this.counters.energy.snapshot() },
    };
  }

  /** Restores a snapshot taken before a restart; the time since then is integrated on the next reading. */
  restore(s: OeeSnapshot): void {
    this.lastTs = s.lastTs;
    this.lastDataTs = s.lastDataTs;
    this.mode = s.mode;
    this.reason = s.reason;
    this.product = s.product;
    this.runningSince = s.runningSince;
    this.episode = s.episode;
    this.lastEpisode = s.lastEpisode;
    this.inGap = s.inGap;
    this.missingClockMs = s.missingClockMs ?? 0;
    this.lastCount = { ...(s.lastCount ?? {}) };
    this.open.clear();
    for (const [k, v] of s.open) this.open.set(k, v);
    this.shiftKey = s.shiftKey;
    this.dayKey = s.dayKey;
    for (const role of ["total", "good", "reject", "energy"] as const) this.counters[role].restore(s.counters?.[role]);
  }
}
